"""Validation of single states: allowed fields per type and query language, required fields,
numbers, transitions, Retry and Catch.

Nested state machines (Parallel ``Branches``, Map ``ItemProcessor``/``Iterator``) are validated
by :mod:`stackflow.workflow.asl.validate`, which calls :func:`check_state` for each state.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from stackflow.workflow.asl.validate_choice import check_choices
from stackflow.workflow.asl.validate_context import (
    INVALID_STATE_NAME,
    JSONATA,
    JSONPATH,
    MAX_INT,
    QUERY_LANGUAGES,
    Checker,
    check_target,
    child,
    did_you_mean,
    is_integer,
    is_number,
    jsonata_body,
    show,
    type_name,
)
from stackflow.workflow.asl.validate_retry import check_catch, check_retry
from stackflow.workflow.asl.validate_values import (
    check_assign,
    check_jsonata_strings,
    check_path,
    check_payload,
)

STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
TERMINAL_TYPES = ("Succeed", "Fail")

_COMMON = {"Type", "Comment", "QueryLanguage"}
_FLOW = {"Next", "End", "Assign"}
_ERRORS = {"Retry", "Catch"}
_JP_IO = {"InputPath", "OutputPath"}
_JP_RESULT = {"ResultPath", "ResultSelector", "Parameters"}
_MAP_COMMON = {
    "ItemProcessor",
    "Iterator",
    "ItemSelector",
    "ItemReader",
    "ItemBatcher",
    "ResultWriter",
    "MaxConcurrency",
    "ToleratedFailurePercentage",
    "ToleratedFailureCount",
    "Label",
}

#: Fields allowed per state type in JSONPath states.
JSONPATH_FIELDS: dict[str, frozenset[str]] = {
    "Pass": frozenset(_COMMON | _FLOW | _JP_IO | {"ResultPath", "Parameters", "Result"}),
    "Task": frozenset(
        _COMMON
        | _FLOW
        | _ERRORS
        | _JP_IO
        | _JP_RESULT
        | {
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
        }
    ),
    "Choice": frozenset(_COMMON | _JP_IO | {"Choices", "Default", "Assign"}),
    "Wait": frozenset(
        _COMMON | _FLOW | _JP_IO | {"Seconds", "Timestamp", "SecondsPath", "TimestampPath"}
    ),
    "Succeed": frozenset(_COMMON | _JP_IO),
    "Fail": frozenset(_COMMON | {"Error", "ErrorPath", "Cause", "CausePath"}),
    "Parallel": frozenset(_COMMON | _FLOW | _ERRORS | _JP_IO | _JP_RESULT | {"Branches"}),
    "Map": frozenset(
        _COMMON
        | _FLOW
        | _ERRORS
        | _JP_IO
        | _JP_RESULT
        | _MAP_COMMON
        | {
            "ItemsPath",
            "MaxConcurrencyPath",
            "ToleratedFailurePercentagePath",
            "ToleratedFailureCountPath",
        }
    ),
}
#: Fields allowed per state type in JSONata states.
JSONATA_FIELDS: dict[str, frozenset[str]] = {
    "Pass": frozenset(_COMMON | _FLOW | {"Output"}),
    "Task": frozenset(
        _COMMON
        | _FLOW
        | _ERRORS
        | {"Resource", "Arguments", "Output", "TimeoutSeconds", "HeartbeatSeconds", "Credentials"}
    ),
    "Choice": frozenset(_COMMON | {"Choices", "Default", "Output", "Assign"}),
    "Wait": frozenset(_COMMON | _FLOW | {"Seconds", "Timestamp", "Output"}),
    "Succeed": frozenset(_COMMON | {"Output"}),
    "Fail": frozenset(_COMMON | {"Error", "Cause"}),
    "Parallel": frozenset(_COMMON | _FLOW | _ERRORS | {"Branches", "Arguments", "Output"}),
    "Map": frozenset(_COMMON | _FLOW | _ERRORS | _MAP_COMMON | {"Items", "Output"}),
}
#: What to use in a JSONata state instead of a JSONPath-only field.
_JSONATA_INSTEAD = {
    "Parameters": '"Arguments"',
    "InputPath": '"Arguments"',
    "OutputPath": '"Output"',
    "ResultPath": '"Output" or "Assign"',
    "ResultSelector": '"Output"',
    "Result": '"Output"',
    "ItemsPath": '"Items"',
    "SecondsPath": '"Seconds" with a JSONata expression',
    "TimestampPath": '"Timestamp" with a JSONata expression',
    "TimeoutSecondsPath": '"TimeoutSeconds" with a JSONata expression',
    "HeartbeatSecondsPath": '"HeartbeatSeconds" with a JSONata expression',
    "ErrorPath": '"Error" with a JSONata expression',
    "CausePath": '"Cause" with a JSONata expression',
    "MaxConcurrencyPath": '"MaxConcurrency" with a JSONata expression',
    "ToleratedFailurePercentagePath": '"ToleratedFailurePercentage" with a JSONata expression',
    "ToleratedFailureCountPath": '"ToleratedFailureCount" with a JSONata expression',
}
#: What to use in a JSONPath state instead of a JSONata-only field.
_JSONPATH_INSTEAD = {
    "Arguments": '"Parameters"',
    "Output": '"OutputPath" or "ResultSelector"',
    "Items": '"ItemsPath"',
}
_MAX_STATE_NAME = 80


def _check_fields(ck: Checker, name: str, state: dict[str, Any], pointer: str, lang: str) -> None:
    kind = state["Type"]
    allowed = (JSONATA_FIELDS if lang == JSONATA else JSONPATH_FIELDS)[kind]
    other = (JSONPATH_FIELDS if lang == JSONATA else JSONATA_FIELDS)[kind]
    for key in state:
        if key in allowed:
            continue
        if key in other:
            instead = (_JSONATA_INSTEAD if lang == JSONATA else _JSONPATH_INSTEAD).get(key)
            message = (
                f'State "{name}" uses QueryLanguage {lang}, which does not support the field '
                f'"{key}"' + (f"; use {instead} instead." if instead else ".")
            )
        elif key in ("Next", "End") and kind in (*TERMINAL_TYPES, "Choice"):
            what = (
                "Choice states choose the next state in Choices and Default"
                if (kind == "Choice")
                else f"a {kind} state always ends the execution or branch"
            )
            message = f'State "{name}" may not have "{key}": {what}.'
        else:
            message = f'The field "{key}" is not supported in a {kind} state.' + did_you_mean(
                key, allowed
            )
        ck.add(child(pointer, key), message)


def _check_int(
    ck: Checker,
    state: dict[str, Any],
    key: str,
    pointer: str,
    subject: str,
    *,
    minimum: int,
    lang: str,
    maximum: int = MAX_INT,
) -> None:
    if key not in state:
        return
    value = state[key]
    if lang == JSONATA and jsonata_body(value) is not None:
        check_jsonata_strings(ck, value, child(pointer, key), f'{subject} "{key}"')
        return
    if not is_integer(value) or not minimum <= value <= maximum:
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        if maximum != MAX_INT:
            expected = f"an integer from {minimum} to {maximum}"
        if lang == JSONATA:
            expected += ' or a JSONata expression "{% ... %}"'
        ck.add(child(pointer, key), f'{subject} "{key}" must be {expected}, not {show(value)}.')


def _exclusive(
    ck: Checker, state: dict[str, Any], pointer: str, subject: str, *keys: str
) -> list[str]:
    present = [k for k in keys if k in state]
    if len(present) > 1:
        listed = " and ".join(f'"{k}"' for k in present)
        ck.add(child(pointer, present[1]), f"{subject} has both {listed}; use only one of them.")
    return present


def _check_transition(
    ck: Checker, name: str, state: dict[str, Any], pointer: str, names: Collection[str]
) -> None:
    subject = f'State "{name}"'
    has_next, has_end = "Next" in state, "End" in state
    if has_next and has_end:
        ck.add(child(pointer, "End"), f'{subject} has both "Next" and "End"; use only one.')
    elif not has_next and not has_end:
        ck.add(
            pointer,
            f'{subject} ({state["Type"]}) has neither "Next" nor "End"; expected "Next" naming '
            'the following state or "End": true.',
        )
    if has_end and state["End"] is not True:
        ck.add(child(pointer, "End"), f'{subject} "End" must be true, not {show(state["End"])}.')
    if has_next:
        check_target(ck, state["Next"], child(pointer, "Next"), subject, "Next", names)


def _check_jsonpath_io(ck: Checker, name: str, state: dict[str, Any], pointer: str) -> None:
    subject = f'State "{name}"'
    for key in ("InputPath", "OutputPath"):
        if key in state:
            check_path(
                ck,
                state[key],
                child(pointer, key),
                f'{subject} "{key}"',
                reference_only=False,
                allow_null=True,
            )
    if "ResultPath" in state:
        check_path(
            ck,
            state["ResultPath"],
            child(pointer, "ResultPath"),
            f'{subject} "ResultPath"',
            reference_only=True,
            allow_null=True,
            allow_context=False,
        )
    for key in ("Parameters", "ResultSelector", "ItemSelector"):
        if key not in state:
            continue
        if key == "ResultSelector" and not isinstance(state[key], dict):
            ck.add(
                child(pointer, key),
                f'{subject} "{key}" must be an object, not {type_name(state[key])}.',
            )
            continue
        check_payload(ck, state[key], child(pointer, key), f'{subject} "{key}"', JSONPATH)
    if "Credentials" in state:
        check_payload(
            ck,
            state["Credentials"],
            child(pointer, "Credentials"),
            f'{subject} "Credentials"',
            JSONPATH,
        )


def _check_jsonata_io(ck: Checker, name: str, state: dict[str, Any], pointer: str) -> None:
    subject = f'State "{name}"'
    for key in ("Arguments", "Output", "ItemSelector", "Credentials", "Items"):
        if key in state:
            check_jsonata_strings(ck, state[key], child(pointer, key), f'{subject} "{key}"')
    if "Arguments" in state:
        value = state["Arguments"]
        if not isinstance(value, dict) and jsonata_body(value) is None:
            ck.add(
                child(pointer, "Arguments"),
                f'{subject} "Arguments" must be an object or a '
                f'JSONata expression "{{% ... %}}", not {show(value)}.',
            )
    if "Items" in state:
        value = state["Items"]
        if not isinstance(value, list) and jsonata_body(value) is None:
            ck.add(
                child(pointer, "Items"),
                f'{subject} "Items" must be an array or a JSONata '
                f'expression "{{% ... %}}", not {show(value)}.',
            )


def _check_task(ck: Checker, name: str, state: dict[str, Any], pointer: str, lang: str) -> None:
    subject = f'State "{name}"'
    if "Resource" not in state:
        ck.add(pointer, f'{subject} (Task) is missing the required field "Resource".')
    elif not isinstance(state["Resource"], str) or not state["Resource"]:
        ck.add(
            child(pointer, "Resource"),
            f'{subject} "Resource" must be a non-empty string, not {show(state["Resource"])}.',
        )
    for key in ("TimeoutSeconds", "HeartbeatSeconds"):
        _exclusive(ck, state, pointer, subject, key, key + "Path")
        _check_int(ck, state, key, pointer, subject, minimum=1, lang=lang)
        if key + "Path" in state:
            check_path(
                ck,
                state[key + "Path"],
                child(pointer, key + "Path"),
                f'{subject} "{key}Path"',
                reference_only=True,
            )
    timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
    if is_integer(timeout) and is_integer(heartbeat) and heartbeat >= timeout:
        ck.add(
            child(pointer, "HeartbeatSeconds"),
            f'{subject} "HeartbeatSeconds" ({heartbeat}) '
            f'must be smaller than its "TimeoutSeconds" ({timeout}).',
        )


def _check_wait(ck: Checker, name: str, state: dict[str, Any], pointer: str, lang: str) -> None:
    subject = f'State "{name}"'
    keys = ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")
    present = [k for k in keys if k in state]
    if not present:
        choices = (
            '"Seconds" or "Timestamp"'
            if lang == JSONATA
            else ('"Seconds", "Timestamp", "SecondsPath" or "TimestampPath"')
        )
        ck.add(pointer, f"{subject} (Wait) needs exactly one of {choices}.")
    elif len(present) > 1:
        listed = " and ".join(f'"{k}"' for k in present)
        ck.add(
            child(pointer, present[1]),
            f"{subject} (Wait) has both {listed}; it needs exactly one of them.",
        )
    _check_int(ck, state, "Seconds", pointer, subject, minimum=0, lang=lang)
    if "Timestamp" in state:
        value = state["Timestamp"]
        if lang == JSONATA and jsonata_body(value) is not None:
            check_jsonata_strings(ck, value, child(pointer, "Timestamp"), f'{subject} "Timestamp"')
        elif not _timestamp_ok(value):
            ck.add(
                child(pointer, "Timestamp"),
                f'{subject} "Timestamp" must be a timestamp such '
                f'as "2016-03-14T01:59:00Z", not {show(value)}.',
            )
    for key in ("SecondsPath", "TimestampPath"):
        if key in state:
            check_path(
                ck, state[key], child(pointer, key), f'{subject} "{key}"', reference_only=True
            )


def _timestamp_ok(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        from stackflow.workflow.asl.timestamps import parse_timestamp
    except ImportError:
        return True
    return parse_timestamp(value) is not None


def _check_fail(ck: Checker, name: str, state: dict[str, Any], pointer: str, lang: str) -> None:
    subject = f'State "{name}"'
    for key in ("Error", "Cause"):
        _exclusive(ck, state, pointer, subject, key, key + "Path")
        if key in state:
            if not isinstance(state[key], str):
                ck.add(
                    child(pointer, key),
                    f'{subject} "{key}" must be a string, not {type_name(state[key])}.',
                )
            elif lang == JSONATA:
                check_jsonata_strings(ck, state[key], child(pointer, key), f'{subject} "{key}"')
        if key + "Path" in state:
            check_path(
                ck,
                state[key + "Path"],
                child(pointer, key + "Path"),
                f'{subject} "{key}Path"',
                reference_only=False,
                allow_intrinsic=True,
            )


def _check_map(ck: Checker, name: str, state: dict[str, Any], pointer: str, lang: str) -> None:
    subject = f'State "{name}"'
    if not _exclusive(ck, state, pointer, subject, "ItemProcessor", "Iterator"):
        ck.add(
            pointer,
            f'{subject} (Map) is missing the required field "ItemProcessor": the '
            "state machine to run for each item.",
        )
    _exclusive(ck, state, pointer, subject, "Parameters", "ItemSelector")
    _check_int(ck, state, "MaxConcurrency", pointer, subject, minimum=0, lang=lang)
    _check_int(ck, state, "ToleratedFailureCount", pointer, subject, minimum=0, lang=lang)
    percentage = state.get("ToleratedFailurePercentage")
    if "ToleratedFailurePercentage" in state and not (
        (lang == JSONATA and jsonata_body(percentage) is not None)
        or (is_number(percentage) and 0 <= percentage <= 100)
    ):
        ck.add(
            child(pointer, "ToleratedFailurePercentage"),
            f'{subject} "ToleratedFailurePercentage" must be a number from 0 to 100, '
            f"not {show(percentage)}.",
        )
    elif lang == JSONATA and percentage is not None:
        check_jsonata_strings(
            ck,
            percentage,
            child(pointer, "ToleratedFailurePercentage"),
            f'{subject} "ToleratedFailurePercentage"',
        )
    for key in ("MaxConcurrency", "ToleratedFailurePercentage", "ToleratedFailureCount"):
        _exclusive(ck, state, pointer, subject, key, key + "Path")
    for key in (
        "ItemsPath",
        "MaxConcurrencyPath",
        "ToleratedFailurePercentagePath",
        "ToleratedFailureCountPath",
    ):
        if key in state:
            check_path(
                ck, state[key], child(pointer, key), f'{subject} "{key}"', reference_only=True
            )
    for key in ("ItemReader", "ItemBatcher", "ResultWriter"):
        if key in state and not isinstance(state[key], dict):
            ck.add(
                child(pointer, key),
                f'{subject} "{key}" must be an object, not {type_name(state[key])}.',
            )
    if "Label" in state and not isinstance(state["Label"], str):
        ck.add(child(pointer, "Label"), f'{subject} "Label" must be a string.')


def check_state_name(ck: Checker, name: str, pointer: str) -> None:
    """Check a state's name (1 to 80 characters).

    Args:
        ck: Where problems go.
        name: The state's name.
        pointer: The state's pointer.
    """
    if not name or len(name) > _MAX_STATE_NAME:
        ck.add(
            pointer,
            f'State name "{name}" has {len(name)} characters; a state name must '
            f"have 1 to {_MAX_STATE_NAME} characters.",
            INVALID_STATE_NAME,
        )


def check_state(
    ck: Checker, name: str, state: Any, pointer: str, names: Collection[str]
) -> str | None:
    """Check one state (not the state machines nested in it).

    Args:
        ck: Where problems go (``ck.top_language`` is the default query language).
        name: The state's name.
        state: The state's definition.
        pointer: The state's pointer.
        names: State names of the enclosing state machine (transition targets).

    Returns:
        The state's effective query language, or None when the state is too broken to look
        inside (not an object, no valid Type).
    """
    subject = f'State "{name}"'
    if not isinstance(state, dict):
        ck.add(pointer, f"{subject} must be an object, not {type_name(state)}.")
        return None
    kind = state.get("Type")
    if "Type" not in state:
        ck.add(pointer, f'{subject} has no "Type"; expected one of {", ".join(STATE_TYPES)}.')
        return None
    if kind not in STATE_TYPES:
        hint = did_you_mean(kind, STATE_TYPES) if isinstance(kind, str) else ""
        ck.add(
            child(pointer, "Type"),
            f"{subject} has Type {show(kind)}, which is not a state "
            f"type; expected one of {', '.join(STATE_TYPES)}.{hint}",
        )
        return None
    lang = ck.top_language
    if "QueryLanguage" in state:
        value = state["QueryLanguage"]
        if value not in QUERY_LANGUAGES:
            ck.add(
                child(pointer, "QueryLanguage"),
                f'{subject} "QueryLanguage" must be "JSONPath" or "JSONata", not {show(value)}.',
            )
        elif value == JSONPATH and ck.top_language == JSONATA:
            ck.add(
                child(pointer, "QueryLanguage"),
                f'{subject} sets "QueryLanguage" to '
                '"JSONPath", but the state machine uses "JSONata"; a state may not use '
                "JSONPath when the top level uses JSONata.",
            )
        else:
            lang = value
    _check_fields(ck, name, state, pointer, lang)
    if kind not in (*TERMINAL_TYPES, "Choice"):
        _check_transition(ck, name, state, pointer, names)
    if lang == JSONPATH:
        _check_jsonpath_io(ck, name, state, pointer)
    else:
        _check_jsonata_io(ck, name, state, pointer)
    if "Assign" in state and kind not in TERMINAL_TYPES:
        check_assign(ck, state["Assign"], child(pointer, "Assign"), subject, lang)
    if kind == "Task":
        _check_task(ck, name, state, pointer, lang)
    elif kind == "Wait":
        _check_wait(ck, name, state, pointer, lang)
    elif kind == "Fail":
        _check_fail(ck, name, state, pointer, lang)
    elif kind == "Choice":
        check_choices(ck, name, state, pointer, lang, names)
    elif kind == "Map":
        _check_map(ck, name, state, pointer, lang)
    elif kind == "Parallel" and "Branches" not in state:
        ck.add(
            pointer,
            f'{subject} (Parallel) is missing the required field "Branches": a '
            "non-empty array of state machines.",
        )
    if kind in ("Task", "Parallel", "Map"):
        if "Retry" in state:
            check_retry(ck, name, state, pointer, lang)
        if "Catch" in state:
            check_catch(ck, name, state, pointer, lang, names)
    return lang
