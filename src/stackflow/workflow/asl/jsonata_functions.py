"""The JSONata functions Step Functions adds to (or replaces in) the standard library.

Step Functions documents six extra functions for JSONata states: ``$partition``, ``$range``,
``$hash``, ``$random`` (which, unlike standard JSONata, accepts an optional seed), ``$uuid`` and
``$parse``. It also removes ``$eval`` (the AWS guidance is to use ``$parse`` instead), so calling it
fails like calling any unknown function (``T1006: Attempted to invoke a non-function``).

Each function here works on the value representation of the ``jsonata`` library (JSON null is
``Utils.NULL_VALUE``, Python ``None`` is JSONata *undefined*). Bad arguments raise a
``JException`` whose code and message end up in the ``States.QueryEvaluationError`` cause.

This module is pure: no I/O; ``$random`` and ``$uuid`` use the :mod:`random` and :mod:`uuid`
modules.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from jsonata import JException, Jsonata, Utils

#: Error code used for argument errors raised by the Step Functions functions. JSONata uses
#: D3137 for ``$error()``, whose message is printed verbatim.
FUNCTION_ERROR_CODE = "D3137"

#: Hash algorithms accepted by ``$hash``, mapped to :mod:`hashlib` names.
HASH_ALGORITHMS: Mapping[str, str] = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}

#: Largest number of elements ``$range`` may produce (the JSONata range operator's limit).
MAX_RANGE_SIZE = 1_000_000


def _fail(message: str) -> JException:
    return JException(FUNCTION_ERROR_CODE, -1, message)


def _as_integer(value: object, function: str, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(f"The {argument} argument of ${function} must be an integer, got {value!r}")
    if not math.isfinite(value) or int(value) != value:
        raise _fail(f"The {argument} argument of ${function} must be an integer, got {value!r}")
    return int(value)


def partition(array: Any, size: Any) -> list[Any]:
    """``$partition(array, size)``: split an array into chunks of ``size`` elements.

    The last chunk may be shorter. The result is a plain array, so a single chunk stays
    wrapped (``$partition([0], 1)`` is ``[[0]]``).

    Args:
        array: The array to split (JSONata wraps a non-array value into an array).
        size: Chunk size, a positive integer.

    Returns:
        The list of chunks.

    Raises:
        JException: If ``size`` is not a positive integer.
    """
    chunk = _as_integer(size, "partition", "second")
    if chunk <= 0:
        raise _fail(f"The second argument of $partition must be a positive integer, got {size}")
    items = list(array) if isinstance(array, list) else [array]
    return [Utils.JList(items[i : i + chunk]) for i in range(0, len(items), chunk)]


def range_(start: Any, end: Any, step: Any = None) -> list[Any] | None:
    """``$range(start, end, step)``: the numbers from ``start`` to ``end`` inclusive.

    Like AWS, the result is a JSONata sequence: one element is returned unwrapped
    (``$range(1, 9, 9)`` is ``1``) and an empty range is undefined.

    Args:
        start: First value (integer).
        end: Last value, included when reached (integer).
        step: Increment (non-zero integer; negative to count down). Defaults to 1.

    Returns:
        A JSONata sequence of the values.

    Raises:
        JException: If an argument is not an integer, ``step`` is zero, or the range is too
            large.
    """
    first = _as_integer(start, "range", "first")
    last = _as_integer(end, "range", "second")
    increment = 1 if step is None else _as_integer(step, "range", "third")
    if increment == 0:
        raise _fail("The third argument of $range must not be zero")
    stop = last + (1 if increment > 0 else -1)
    values = range(first, stop, increment)
    if len(values) > MAX_RANGE_SIZE:
        raise _fail(
            f"The size of the sequence allocated by $range must not exceed {MAX_RANGE_SIZE}. "
            f"Attempted to allocate {len(values)}."
        )
    return Utils.create_sequence_from_iter(values)


def hash_(data: Any, algorithm: Any) -> str:
    """``$hash(data, algorithm)``: hex digest of a string.

    Args:
        data: The string to hash (UTF-8 encoded).
        algorithm: One of ``MD5``, ``SHA-1``, ``SHA-256``, ``SHA-384``, ``SHA-512``.

    Returns:
        The lowercase hexadecimal digest.

    Raises:
        JException: If ``data`` is not a string or the algorithm is not supported.
    """
    if not isinstance(data, str):
        raise _fail(f"The first argument of $hash must be a string, got {data!r}")
    name = HASH_ALGORITHMS.get(algorithm) if isinstance(algorithm, str) else None
    if name is None:
        supported = ", ".join(HASH_ALGORITHMS)
        raise _fail(
            f"The hash algorithm {algorithm!r} is not supported by $hash. "
            f"Supported algorithms: {supported}"
        )
    return hashlib.new(name, data.encode("utf-8")).hexdigest()


def random_(seed: Any = None) -> float:
    """``$random([seed])``: a number ``n`` with ``0 <= n < 1``.

    Args:
        seed: Optional integer seed; the same seed always gives the same number.

    Returns:
        The random number.

    Raises:
        JException: If ``seed`` is given and is not an integer.
    """
    if seed is None:
        return random.random()
    return random.Random(_as_integer(seed, "random", "first")).random()


def uuid_() -> str:
    """``$uuid()``: a new version 4 UUID string.

    Returns:
        The UUID, e.g. ``"ca4c1140-dcc1-40cd-ad05-7b4aa23df4a8"``.
    """
    return str(uuid.uuid4())


def to_jsonata_value(value: Any) -> Any:
    """Convert a plain JSON value to the ``jsonata`` library's representation.

    JSON null becomes ``Utils.NULL_VALUE`` (Python ``None`` means *undefined* to the library).
    Containers are copied, so evaluation can never change the caller's data.

    Args:
        value: A JSON value as produced by :func:`json.loads`.

    Returns:
        The converted value.
    """
    if value is None:
        return Utils.NULL_VALUE
    if isinstance(value, dict):
        return {key: to_jsonata_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonata_value(item) for item in value]
    return value


def parse(text: Any) -> Any:
    """``$parse(jsonString)``: deserialize a JSON string.

    Args:
        text: The JSON text.

    Returns:
        The parsed value in the library's representation.

    Raises:
        JException: If ``text`` is not a string or not valid JSON.
    """
    if not isinstance(text, str):
        raise _fail(f"The first argument of $parse must be a string, got {text!r}")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise _fail(f"The argument of $parse is not valid JSON: {exc}")
    return to_jsonata_value(value)


#: Name, implementation and JSONata signature of each Step Functions function.
_FUNCTIONS: tuple[tuple[str, Callable[..., Any], str], ...] = (
    ("partition", partition, "<an:a>"),
    ("range", range_, "<nnn?:a>"),
    ("hash", hash_, "<ss:s>"),
    ("random", random_, "<n?:n>"),
    ("uuid", uuid_, "<:s>"),
    ("parse", parse, "<s:x>"),
)

#: Standard JSONata functions that Step Functions does not offer.
REMOVED_FUNCTIONS: frozenset[str] = frozenset({"eval"})


def install_step_functions_library(expression: Jsonata) -> None:
    """Bind the Step Functions functions into a compiled expression's environment.

    Adds ``$partition``, ``$range``, ``$hash``, ``$random`` (seedable), ``$uuid`` and ``$parse``
    and removes ``$eval``.

    Args:
        expression: A compiled expression; its base environment is changed in place.
    """
    for name, implementation, signature in _FUNCTIONS:
        expression.register_function(
            name, Jsonata.JFunction(Jsonata.JLambda(implementation), signature)
        )
    for name in REMOVED_FUNCTIONS:
        # A None binding hides the standard function, so calling it raises T1006.
        expression.assign(name, None)
