"""The JSONata query language of Amazon States Language.

A JSONata state writes expressions as strings of the form ``"{% <expression> %}"`` anywhere in
its fields (``Output``, ``Arguments``, ``Assign``, ``Condition``, ``Items``, ...). This module
evaluates them exactly as Step Functions does:

* ``$states`` is bound to ``{"input", "context", "result"?, "errorOutput"?}`` and every workflow
  variable to ``$name``.
* The Step Functions functions (``$partition``, ``$range``, ``$hash``, ``$random``, ``$uuid``,
  ``$parse``) are available and ``$eval`` is not (see :mod:`.jsonata_functions`).
* Results are plain JSON; integral numbers come back as ``int`` (AWS prints ``3``, not ``3.0``).
* Failures raise ``States.QueryEvaluationError`` with AWS's cause texts.

Expressions are compiled once and cached. Evaluation is thread-safe: the ``jsonata`` library keeps
per-thread evaluation state in ``Jsonata.CURRENT`` and on the expression object, so every
evaluation runs on its own shallow copy of the cached compiled expression, registered as the
current thread's instance for the duration of the call.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from jsonata import JException, Jsonata, Utils

from stackflow.errors import STATES_QUERY_EVALUATION_ERROR, StackflowError, WorkflowFailure
from stackflow.types import JSON
from stackflow.workflow.asl.jsonata_functions import (
    install_step_functions_library,
    to_jsonata_value,
)

__all__ = [
    "UNDEFINED",
    "JsonataEvaluationError",
    "evaluate_jsonata",
    "evaluate_template",
    "is_jsonata_template",
    "json_type_name",
    "template_expression",
    "unexpected_type_cause",
    "validate_jsonata",
]

#: Evaluation steps (expression nodes evaluated) after which an expression is stopped.
MAX_EVALUATION_STEPS: Final = 2_000_000
_STEP_LIMIT_MESSAGE: Final = (
    f"Evaluation stopped after {MAX_EVALUATION_STEPS} steps. Check for infinite loop"
)

_OPEN: Final = "{%"
_CLOSE: Final = "%}"


class _Undefined:
    """Type of :data:`UNDEFINED`; a falsy singleton."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False

    def __copy__(self) -> _Undefined:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Undefined:
        return self

    def __reduce__(self) -> str:
        return "UNDEFINED"


#: JSONata's "undefined": the expression produced no value (distinct from JSON null / None).
UNDEFINED: Final = _Undefined()


class JsonataEvaluationError(StackflowError):
    """A JSONata expression failed to compile or to evaluate.

    Attributes:
        code: The JSONata error code (e.g. ``T1006``), or None for an unexpected failure.
        message: The JSONata error message (e.g. ``Attempted to invoke a non-function``).
        unsupported_result: True when the expression returned a value that is not JSON (a
            function or a regular expression) rather than failing.
    """

    def __init__(self, code: str | None, message: str, *, unsupported_result: bool = False):
        self.code = code
        self.message = message
        self.unsupported_result = unsupported_result
        super().__init__(f"{code}: {message}" if code else message)


class _UnsupportedResult(Exception):
    """Internal: the result contains a function or regex."""


# ---------------------------------------------------------------------------------------------
# Compilation and evaluation


@lru_cache(maxsize=2048)
def _compile(expression: str) -> Jsonata:
    compiled = Jsonata(expression)
    compiled.set_output_convert_nulls(False)
    compiled.set_validate_input(False)  # inputs come from to_jsonata_value, valid by construction
    install_step_functions_library(compiled)
    return compiled


_PLACEHOLDER = re.compile(r"\{\{\{?(\w+)\}?\}\}")


def _render_message(error: JException) -> str:
    """Render a library error as jsonata-js words it.

    The Python port's message table says "Object" where jsonata-js says "function", and formats
    ``{{value}}`` with ``str`` where jsonata-js uses ``JSON.stringify``.
    """
    template = JException.error_codes.get(error.error)
    if template is None:
        return str(error)
    template = re.sub(r"\bObject\b", "function", template)
    args = [error.current, error.expected, error.extra]
    position = 0

    def fill(match: re.Match[str]) -> str:
        nonlocal position
        value = args[position] if position < len(args) else None
        position += 1
        if match.group(0).startswith("{{{"):
            return str(value)
        if isinstance(value, float) and not math.isfinite(value):
            return "null"  # JSON.stringify(Infinity) in jsonata-js
        try:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError):
            return str(value)

    return _PLACEHOLDER.sub(fill, template)


def _to_error(exc: BaseException) -> JsonataEvaluationError:
    if isinstance(exc, JException):
        return JsonataEvaluationError(exc.error, _render_message(exc))
    if isinstance(exc, ZeroDivisionError):
        return JsonataEvaluationError("D1001", "Number out of range: null")
    if isinstance(exc, RecursionError):
        return JsonataEvaluationError(
            "U1001",
            "Stack overflow error: Check for non-terminating "
            "recursive function.  Consider rewriting as tail-recursive.",
        )
    return JsonataEvaluationError(None, str(exc) or type(exc).__name__)


def _compile_checked(expression: str) -> Jsonata:
    try:
        return _compile(expression)
    except Exception as exc:  # the parser raises JException, occasionally other errors
        raise _to_error(exc) from exc


def _prepare_bindings(states: Mapping[str, JSON], variables: Mapping[str, JSON]) -> dict[str, Any]:
    bindings = {name: to_jsonata_value(value) for name, value in variables.items()}
    bindings["states"] = to_jsonata_value(dict(states))
    return bindings


def _to_json(value: Any) -> JSON:
    """Convert a library result to plain JSON (undefined entries are dropped, as JSONata does)."""
    if value is Utils.NULL_VALUE:
        return None
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**63:
            return int(value)
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_to_json(v) for v in value if v is not None]
    # Functions (lambdas, native functions) and regular expressions are not JSON.
    raise _UnsupportedResult


def _step_limit() -> dict[str, Any]:
    """Callbacks that stop a runaway expression after :data:`MAX_EVALUATION_STEPS` steps.

    Counting steps instead of measuring time keeps evaluation deterministic (and clock free).
    Tail-recursive lambdas loop without growing the stack, so this is the only guard for them.
    """
    steps = 0

    def entry(expr: Any, input_: Any, environment: Any) -> None:
        nonlocal steps
        steps += 1
        if steps > MAX_EVALUATION_STEPS:
            raise JException("D3137", -1, _STEP_LIMIT_MESSAGE)

    return {"__evaluate_entry": entry}


def _evaluate_prepared(expression: str, bindings: dict[str, Any]) -> JSON:
    compiled = _compile_checked(expression)
    instance = copy.copy(compiled)
    current = Jsonata.CURRENT
    previous = getattr(current, "jsonata", None)
    current.jsonata = instance
    try:
        result = instance.evaluate(None, {**bindings, **_step_limit()})
    except JsonataEvaluationError:
        raise
    except Exception as exc:
        raise _to_error(exc) from exc
    finally:
        if previous is None:
            del current.jsonata
        else:
            current.jsonata = previous
    if result is None:
        return UNDEFINED
    try:
        return _to_json(result)
    except _UnsupportedResult:
        raise JsonataEvaluationError(
            None, "returned an unsupported result type.", unsupported_result=True
        ) from None


def evaluate_jsonata(
    expression: str, *, states: Mapping[str, JSON], variables: Mapping[str, JSON]
) -> JSON:
    """Evaluate one JSONata expression.

    Args:
        expression: The expression text (what stands between ``{%`` and ``%}``).
        states: The value of ``$states``: keys ``input`` and ``context``, and when present
            ``result`` and ``errorOutput``.
        variables: Workflow variables, each bound as ``$name``.

    Returns:
        The result as plain JSON, or :data:`UNDEFINED` when the expression produced nothing.

    Raises:
        JsonataEvaluationError: The expression does not parse, fails during evaluation, or
            returns a function (``unsupported_result`` is then True).
    """
    return _evaluate_prepared(expression, _prepare_bindings(states, variables))


def validate_jsonata(expression: str) -> str | None:
    """Check that a JSONata expression parses.

    Args:
        expression: The expression text (without ``{%`` / ``%}``).

    Returns:
        None if it parses, else the JSONata error, e.g. ``S0207: Unexpected end of expression``.
    """
    if not expression.strip():
        return "S0207: Unexpected end of expression"
    try:
        _compile_checked(expression)
    except JsonataEvaluationError as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------------------------------------
# Templates


def is_jsonata_template(value: object) -> bool:
    """Tell whether a value is a JSONata template string ``"{% ... %}"``.

    The string must start with ``{%`` and end with ``%}`` exactly (no surrounding spaces);
    anything else, such as ``" {% x %} "``, is a literal.

    Args:
        value: Any value from a definition.

    Returns:
        True for a template string.
    """
    return (
        isinstance(value, str)
        and len(value) >= len(_OPEN) + len(_CLOSE)
        and value.startswith(_OPEN)
        and value.endswith(_CLOSE)
    )


def template_expression(template: str) -> str:
    """Return the expression inside a ``{% ... %}`` template, as AWS quotes it in messages.

    Args:
        template: A string for which :func:`is_jsonata_template` is True.

    Returns:
        The text between the delimiters, stripped of surrounding whitespace.
    """
    return template[len(_OPEN) : -len(_CLOSE)].strip()


def _failure(expression: str, field: str, problem: str) -> WorkflowFailure:
    return WorkflowFailure(
        STATES_QUERY_EVALUATION_ERROR,
        f"The JSONata expression '{expression}' specified for the field '{field}' {problem}",
    )


def _evaluate_field(template: str, bindings: dict[str, Any], field: str) -> JSON:
    expression = template_expression(template)
    try:
        result = _evaluate_prepared(expression, bindings)
    except JsonataEvaluationError as exc:
        if exc.unsupported_result:
            raise _failure(expression, field, "returned an unsupported result type.") from None
        raise _failure(expression, field, f"threw an error during evaluation. {exc}") from None
    if result is UNDEFINED:
        raise _failure(expression, field, "returned nothing (undefined).")
    return result


def _walk(value: JSON, bindings: dict[str, Any], field: str) -> JSON:
    if isinstance(value, str):
        return _evaluate_field(value, bindings, field) if is_jsonata_template(value) else value
    if isinstance(value, dict):
        return {key: _walk(item, bindings, f"{field}/{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, bindings, f"{field}/{index}") for index, item in enumerate(value)]
    return copy.deepcopy(value)


def _contains_template(value: JSON) -> bool:
    if isinstance(value, str):
        return is_jsonata_template(value)
    if isinstance(value, dict):
        return any(_contains_template(item) for item in value.values())
    if isinstance(value, list):
        return any(_contains_template(item) for item in value)
    return False


def evaluate_template(
    template: JSON,
    *,
    states: Mapping[str, JSON],
    variables: Mapping[str, JSON],
    field: str,
) -> JSON:
    """Evaluate a field value of a JSONata state.

    Walks objects and arrays; each string that is a ``{% ... %}`` template is replaced by its
    result, every other value is copied literally.

    Args:
        template: The field value from the definition (any JSON).
        states: The value of ``$states`` (see :func:`evaluate_jsonata`).
        variables: Workflow variables, each bound as ``$name``.
        field: The field name used in messages, e.g. ``Output``; nested values are named
            ``Output/key`` and ``Output/key/0``.

    Returns:
        The evaluated value as plain JSON.

    Raises:
        WorkflowFailure: ``States.QueryEvaluationError`` with AWS's cause, e.g. ``The JSONata
            expression '$x' specified for the field 'Output/result' returned nothing
            (undefined).`` The interpreter prefixes the state's name.
    """
    if not _contains_template(template):
        return copy.deepcopy(template)
    return _walk(template, _prepare_bindings(states, variables), field)


# ---------------------------------------------------------------------------------------------
# Helpers for the interpreter's type checks


def json_type_name(value: JSON) -> str:
    """Name a JSON value's type as AWS does in messages.

    Args:
        value: A plain JSON value.

    Returns:
        One of ``null``, ``boolean``, ``number``, ``string``, ``array``, ``object``.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def unexpected_type_cause(expression: str, field: str, expected: str, value: JSON) -> str:
    """Build AWS's cause for a JSONata result of the wrong type.

    Example: ``The JSONata expression '1' specified for the field 'Items' returned an
    unexpected result type. Expected 'array', but was 'number' for value: 1``.

    Args:
        expression: The expression text (see :func:`template_expression`).
        field: The field path, e.g. ``Items``.
        expected: The expected JSON type name, e.g. ``array``.
        value: The value the expression returned.

    Returns:
        The cause text (without the interpreter's state prefix).
    """
    shown = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (
        f"The JSONata expression '{expression}' specified for the field '{field}' returned an "
        f"unexpected result type. Expected '{expected}', but was '{json_type_name(value)}' "
        f"for value: {shown}"
    )
