"""Input and output processing of a state, in both query languages.

JSONPath mode: InputPath -> Parameters/ItemSelector -> (work) -> ResultSelector -> ResultPath ->
OutputPath, with ``Assign`` evaluated on the result. JSONata mode: ``Arguments`` and ``Output``
templates over ``$states``. Every function here is pure and raises
:class:`~stackflow.errors.WorkflowFailure` with Step Functions' error names and causes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackflow.errors import STATES_RUNTIME, PathNotFoundError, WorkflowFailure
from stackflow.types import JSON
from stackflow.workflow.asl import jsonata_query, jsonpath, payload

UNDEFINED = jsonata_query.UNDEFINED


def select_path(data: JSON, path: Any, *, context: JSON, variables: Mapping[str, JSON]) -> JSON:
    """Apply an InputPath or OutputPath (``null`` gives ``{}``, a missing key gives all data).

    Raises:
        WorkflowFailure: ``States.Runtime`` when the path matches nothing.
    """
    if path is None:
        return {}
    if path == "$":
        return data
    try:
        return jsonpath.evaluate_path(path, data, context=context, variables=variables)
    except PathNotFoundError as exc:
        raise WorkflowFailure(STATES_RUNTIME, str(exc)) from None


def merge_result(raw: JSON, path: Any, result: JSON) -> JSON:
    """Apply a ResultPath: ``null`` keeps the raw input, ``$`` replaces it, else sets the result."""
    if path is None:
        return raw
    if path == "$":
        return result
    return jsonpath.set_path(raw, path, result)


def evaluate_template(
    template: JSON, data: JSON, *, context: JSON, variables: Mapping[str, JSON], field: str
) -> JSON:
    """Evaluate a JSONPath-mode payload template (``.$`` keys, intrinsics)."""
    return payload.evaluate_payload(
        template, data, context=context, variables=variables, field=field
    )


def assign_jsonpath(
    assign: Any, data: JSON, *, context: JSON, variables: Mapping[str, JSON]
) -> dict[str, JSON]:
    """Evaluate a JSONPath-mode ``Assign`` block and return the new variables."""
    if not isinstance(assign, dict):
        return {}
    values = payload.evaluate_payload(
        assign, data, context=context, variables=variables, field="Assign"
    )
    return dict(values) if isinstance(values, dict) else {}


def jsonata_states(
    raw_input: JSON, context: JSON, *, result: JSON = UNDEFINED, error_output: JSON = UNDEFINED
) -> dict[str, JSON]:
    """Return the ``$states`` binding of a JSONata evaluation."""
    states: dict[str, JSON] = {"input": raw_input, "context": context}
    if result is not UNDEFINED:
        states["result"] = result
    if error_output is not UNDEFINED:
        states["errorOutput"] = error_output
    return states


def jsonata_value(
    template: JSON, states: Mapping[str, JSON], variables: Mapping[str, JSON], field: str
) -> JSON:
    """Evaluate a JSONata-mode field (a ``{% %}`` string, or a structure holding some)."""
    return jsonata_query.evaluate_template(
        template, states=states, variables=variables, field=field
    )


def assign_jsonata(
    assign: Any, states: Mapping[str, JSON], variables: Mapping[str, JSON]
) -> dict[str, JSON]:
    """Evaluate a JSONata-mode ``Assign`` block and return the new variables."""
    if not isinstance(assign, dict):
        return {}
    values = jsonata_query.evaluate_template(
        assign, states=states, variables=variables, field="Assign"
    )
    return dict(values) if isinstance(values, dict) else {}
