"""Payload templates of the JSONPath query language (Parameters, ItemSelector, ResultSelector...).

A payload template is copied recursively; a key ending in ``.$`` has its string value evaluated
(as an intrinsic function call or as a path) and the result is stored under the key without the
``.$`` suffix. Everything else is copied literally.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping

from stackflow.errors import STATES_RUNTIME, PathNotFoundError, WorkflowFailure
from stackflow.types import JSON
from stackflow.workflow.asl.intrinsics import (
    IntrinsicSyntaxError,
    evaluate_intrinsic,
    is_intrinsic,
)
from stackflow.workflow.asl.jsonpath import evaluate_path

__all__ = ["compact_json", "evaluate_payload", "has_dynamic_keys"]

_SEPARATORS = (",", ":")


def compact_json(value: JSON) -> str:
    """Serialize ``value`` as compact JSON, the way Step Functions prints values in causes.

    Args:
        value: Any JSON value.

    Returns:
        The JSON text without spaces after ``,`` and ``:`` (non-ASCII characters kept as is).
    """
    return json.dumps(value, separators=_SEPARATORS, ensure_ascii=False)


def _is_dynamic(template: JSON) -> bool:
    """Tell whether a template contains a ``.$`` key anywhere (uncached, recursive)."""
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$") or _is_dynamic(value):
                return True
    elif isinstance(template, list):
        for value in template:
            if _is_dynamic(value):
                return True
    return False


def has_dynamic_keys(template: JSON) -> bool:
    """Tell whether a payload template has any ``.$`` key (at any depth).

    Args:
        template: A payload template.

    Returns:
        True if evaluating the template may differ from copying it.
    """
    return _is_dynamic(template)


def _copy(value: JSON) -> JSON:
    """Deep-copy a JSON value (dicts and lists only; scalars are immutable)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def evaluate_payload(
    template: JSON,
    data: JSON,
    *,
    context: JSON = None,
    variables: Mapping[str, JSON] | None = None,
    field: str = "Parameters",
    rng: random.Random | None = None,
) -> JSON:
    """Evaluate a JSONPath-mode payload template.

    Args:
        template: The template (Parameters, ItemSelector, ResultSelector, Assign, Arguments...).
        data: The data paths are evaluated against (the effective input, or the task result).
        context: The context object, for ``$$`` paths.
        variables: Workflow variables in scope, for ``$name`` paths.
        field: Name of the definition field being evaluated (kept for callers' messages).
        rng: Source of randomness for ``States.MathRandom`` and ``States.UUID`` (optional).

    Returns:
        A new JSON value; the template and the data are never mutated, and values taken from
        the data are copied.

    Raises:
        WorkflowFailure: ``States.Runtime`` when a path matches nothing (the cause names the
            path, the ``.$`` key and the compact input) or an intrinsic function fails.
    """
    del field  # the cause names the ``.$`` key, not the enclosing field
    return _evaluate(template, _Scope(data, context, variables, rng))


class _Scope:
    """What ``.$`` expressions are evaluated against (internal)."""

    __slots__ = ("context", "data", "rng", "variables")

    def __init__(
        self,
        data: JSON,
        context: JSON,
        variables: Mapping[str, JSON] | None,
        rng: random.Random | None,
    ) -> None:
        self.data = data
        self.context = context
        self.variables = variables
        self.rng = rng


def _evaluate(template: JSON, scope: _Scope) -> JSON:
    if isinstance(template, dict):
        out: dict[str, JSON] = {}
        for key, value in template.items():
            if key.endswith(".$") and isinstance(value, str):
                out[key[:-2]] = _evaluate_expression(key, value, scope)
            else:
                out[key] = _evaluate(value, scope)
        return out
    if isinstance(template, list):
        return [_evaluate(v, scope) for v in template]
    return template


def _evaluate_expression(key: str, expr: str, scope: _Scope) -> JSON:
    data = scope.data
    try:
        if is_intrinsic(expr):
            result = evaluate_intrinsic(
                expr, data, context=scope.context, variables=scope.variables, rng=scope.rng
            )
        else:
            result = evaluate_path(expr, data, context=scope.context, variables=scope.variables)
        return _copy(result)
    except PathNotFoundError as exc:
        cause = (
            f"The JSONPath '{exc.path}' specified for the field '{key}' could not be found "
            f"in the input '{compact_json(data)}'"
        )
        raise WorkflowFailure(STATES_RUNTIME, cause) from None
    except (ValueError, IntrinsicSyntaxError) as exc:
        raise WorkflowFailure(STATES_RUNTIME, f"{exc} (field '{key}')") from None
