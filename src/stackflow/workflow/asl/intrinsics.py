"""Evaluation of the 18 intrinsic functions of the Amazon States Language (JSONPath mode).

Behaviour follows AWS Step Functions as recorded: failures raise
:class:`~stackflow.errors.WorkflowFailure` with error ``States.Runtime`` and the cause
``Invalid arguments in States.<Name>`` (the interpreter adds the "An error occurred while executing
the state ..." prefix). Numeric arguments that must be integers are truncated toward zero, except
``States.MathAdd`` which rounds each operand half up, as AWS does. A path argument that matches
nothing raises :class:`~stackflow.errors.PathNotFoundError` (the payload evaluator turns it into
the AWS "could not be found in the input" failure).

``States.MathRandom`` and ``States.UUID`` draw from the ``rng`` argument when one is given, so a
caller that needs reproducible evaluation can pass a seeded :class:`random.Random`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from stackflow.errors import STATES_RUNTIME, WorkflowFailure
from stackflow.types import JSON
from stackflow.workflow.asl.intrinsics_parser import (
    FUNCTION_ARITY,
    Argument,
    IntrinsicCall,
    IntrinsicSyntaxError,
    Literal,
    PathArgument,
    is_intrinsic,
    parse_intrinsic,
)
from stackflow.workflow.asl.jsonpath import evaluate_path

__all__ = [
    "FUNCTION_ARITY",
    "IntrinsicCall",
    "IntrinsicSyntaxError",
    "evaluate_intrinsic",
    "is_intrinsic",
    "parse_intrinsic",
]

#: Longest string accepted by Base64Encode, Base64Decode and Hash.
MAX_STRING_LENGTH = 10_000
#: Most items States.ArrayRange may produce.
MAX_RANGE_ITEMS = 1_000

_HASHES: dict[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}
_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_SYSTEM_RNG = random.SystemRandom()


class _Invalid(Exception):
    """Raised inside a function body for invalid arguments (internal)."""


def _fail(name: str) -> WorkflowFailure:
    return WorkflowFailure(STATES_RUNTIME, f"Invalid arguments in {name}")


def _compact(value: JSON) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _is_number(value: JSON) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _truncated(value: JSON) -> int:
    """Return a numeric argument truncated toward zero; raise ``_Invalid`` for other types."""
    if not _is_number(value) or (isinstance(value, float) and not math.isfinite(value)):
        raise _Invalid
    return int(value)


def _text(value: JSON) -> str:
    if not isinstance(value, str):
        raise _Invalid
    return value


# ---------------------------------------------------------------------------------------------
# Rendering helpers
# ---------------------------------------------------------------------------------------------


def _format_value(value: JSON) -> str:
    """Render a value the way States.Format does (strings raw, objects as ``{k=v, ...}``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_format_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    return json.dumps(value)


def _template_pieces(template: str, escapes: bool) -> list[str]:
    """Split a Format template at its ``{}`` placeholders; raise ``_Invalid`` on stray braces."""
    pieces: list[str] = []
    current: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        c = template[i]
        if escapes and c == "\\" and i + 1 < n and template[i + 1] in "'{}\\":
            current.append(template[i + 1])
            i += 2
            continue
        if c == "{":
            if i + 1 < n and template[i + 1] == "}":
                pieces.append("".join(current))
                current = []
                i += 2
                continue
            raise _Invalid
        if c == "}":
            raise _Invalid
        current.append(c)
        i += 1
    pieces.append("".join(current))
    return pieces


def _canonical(value: JSON) -> Any:
    """A hashable key under which equal JSON values (as AWS compares them) collide."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, int | float):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return ("number", value)
    if isinstance(value, list):
        return ("array", tuple(_canonical(v) for v in value))
    if isinstance(value, dict):
        return ("object", frozenset((k, _canonical(v)) for k, v in value.items()))
    return ("other", repr(value))


def _round_half_up(value: int | float) -> int:
    if isinstance(value, int):
        return value
    return math.floor(value + 0.5)


def _lenient_b64decode(text: str) -> bytes:
    """Decode Base64 ignoring characters outside the alphabet, as AWS tolerates them."""
    cleaned = "".join(c for c in text.replace("-", "+").replace("_", "/") if c in _B64_ALPHABET)
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]
    cleaned += "=" * (-len(cleaned) % 4)
    return base64.b64decode(cleaned)


# ---------------------------------------------------------------------------------------------
# Function bodies (each takes the call and its evaluated arguments)
# ---------------------------------------------------------------------------------------------


def _f_format(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    first = call.args[0]
    if isinstance(first, Literal) and isinstance(first.value, str) and first.raw is not None:
        pieces = _template_pieces(first.raw, escapes=True)
    else:
        pieces = _template_pieces(_text(args[0]), escapes=False)
    values = args[1:]
    if len(pieces) - 1 != len(values):
        raise _Invalid
    out = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        out.append(_format_value(value))
        out.append(piece)
    return "".join(out)


def _f_string_to_json(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    text = _text(args[0]).strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise _Invalid from None


def _f_json_to_string(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    return _compact(args[0])


def _f_array(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    return list(args)


def _f_array_partition(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    array, size = args
    if not isinstance(array, list):
        raise _Invalid
    chunk = _truncated(size)
    if chunk <= 0:
        raise _Invalid
    return [array[i : i + chunk] for i in range(0, len(array), chunk)]


def _f_array_contains(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    array, needle = args
    if not isinstance(array, list):
        raise _Invalid
    key = _canonical(needle)
    return any(_canonical(item) == key for item in array)


def _f_array_range(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    start, end, step = (_truncated(a) for a in args)
    if step == 0:
        raise _Invalid
    count = max(0, (end - start) // step + 1)
    if count > MAX_RANGE_ITEMS:
        raise _Invalid
    return list(range(start, end + (1 if step > 0 else -1), step))


def _f_array_get_item(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    array, index = args
    if not isinstance(array, list):
        raise _Invalid
    position = _truncated(index)
    if position < 0:
        raise _Invalid
    if position >= len(array):
        if not array:  # AWS returns null for any index into an empty array
            return None
        raise _Invalid
    return array[position]


def _f_array_length(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    if not isinstance(args[0], list):
        raise _Invalid
    return len(args[0])


def _f_array_unique(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    array = args[0]
    if not isinstance(array, list):
        raise _Invalid
    seen: set[Any] = set()
    out: list[JSON] = []
    for item in array:
        key = _canonical(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _f_base64_encode(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    text = _text(args[0])
    if len(text) > MAX_STRING_LENGTH:
        raise _Invalid
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _f_base64_decode(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    text = _text(args[0])
    if len(text) > MAX_STRING_LENGTH:
        raise _Invalid
    try:
        raw = _lenient_b64decode(text)
    except (binascii.Error, ValueError):
        raise _Invalid from None
    return raw.decode("utf-8", errors="replace")


def _f_hash(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    data, algorithm = args
    if not isinstance(algorithm, str) or algorithm not in _HASHES:
        raise _Invalid
    text = data if isinstance(data, str) else _compact(data)
    if len(text) > MAX_STRING_LENGTH:
        raise _Invalid
    return str(_HASHES[algorithm](text.encode("utf-8")).hexdigest())


def _f_json_merge(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    first, second, deep = args
    if not isinstance(first, dict) or not isinstance(second, dict):
        raise _Invalid
    if deep is not False:  # only the shallow mode exists; `true` or a non-boolean is invalid
        raise _Invalid
    merged = dict(first)
    merged.update(second)
    return merged


def _f_math_random(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    start = _truncated(args[0])
    end = _truncated(args[1])
    if start >= end:
        raise _Invalid
    if len(args) == 3:
        return random.Random(_truncated(args[2])).randrange(start, end)
    return rng.randrange(start, end)


def _f_math_add(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    a, b = args
    if not _is_number(a) or not _is_number(b):
        raise _Invalid
    if not (math.isfinite(a) and math.isfinite(b)):
        raise _Invalid
    return _round_half_up(a) + _round_half_up(b)


def _f_string_split(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    text = _text(args[0])
    separators = _text(args[1])
    if not separators:
        return [text] if text else []
    parts: list[str] = []
    current: list[str] = []
    for c in text:
        if c in separators:
            if current:
                parts.append("".join(current))
            current = []
        else:
            current.append(c)
    if current:
        parts.append("".join(current))
    return parts


def _f_uuid(call: IntrinsicCall, args: list[JSON], rng: random.Random) -> JSON:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


_FUNCTIONS: dict[str, Callable[[IntrinsicCall, list[JSON], random.Random], JSON]] = {
    "States.Format": _f_format,
    "States.StringToJson": _f_string_to_json,
    "States.JsonToString": _f_json_to_string,
    "States.Array": _f_array,
    "States.ArrayPartition": _f_array_partition,
    "States.ArrayContains": _f_array_contains,
    "States.ArrayRange": _f_array_range,
    "States.ArrayGetItem": _f_array_get_item,
    "States.ArrayLength": _f_array_length,
    "States.ArrayUnique": _f_array_unique,
    "States.Base64Encode": _f_base64_encode,
    "States.Base64Decode": _f_base64_decode,
    "States.Hash": _f_hash,
    "States.JsonMerge": _f_json_merge,
    "States.MathRandom": _f_math_random,
    "States.MathAdd": _f_math_add,
    "States.StringSplit": _f_string_split,
    "States.UUID": _f_uuid,
}


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


def _evaluate_argument(
    arg: Argument,
    data: JSON,
    context: JSON,
    variables: Mapping[str, JSON] | None,
    rng: random.Random,
) -> JSON:
    if isinstance(arg, Literal):
        return arg.value
    if isinstance(arg, PathArgument):
        return evaluate_path(arg.path, data, context=context, variables=variables)
    return _call(arg, data, context, variables, rng)


def _call(
    call: IntrinsicCall,
    data: JSON,
    context: JSON,
    variables: Mapping[str, JSON] | None,
    rng: random.Random,
) -> JSON:
    args = [_evaluate_argument(a, data, context, variables, rng) for a in call.args]
    try:
        return _FUNCTIONS[call.name](call, args, rng)
    except _Invalid:
        raise _fail(call.name) from None


def evaluate_intrinsic(
    expr: str | IntrinsicCall,
    data: JSON,
    *,
    context: JSON = None,
    variables: Mapping[str, JSON] | None = None,
    rng: random.Random | None = None,
) -> JSON:
    """Evaluate an intrinsic function call.

    Args:
        expr: The expression text (parsed and cached) or an already parsed call.
        data: The data ``$`` paths are evaluated against.
        context: The context object, for ``$$`` paths.
        variables: Workflow variables in scope, for ``$name`` paths.
        rng: Source of randomness for ``States.MathRandom`` (unseeded) and ``States.UUID``;
            defaults to the system's random source.

    Returns:
        The function result. It may share nested values with ``data``; callers copy it if
        they intend to mutate it.

    Raises:
        IntrinsicSyntaxError: ``expr`` is not a valid call.
        WorkflowFailure: ``States.Runtime`` with cause ``Invalid arguments in States.<Name>``
            when a function rejects its arguments.
        PathNotFoundError: A path argument matched nothing.
    """
    call = parse_intrinsic(expr) if isinstance(expr, str) else expr
    return _call(call, data, context, variables, rng or _SYSTEM_RNG)
