"""Validation of the ``Retry`` and ``Catch`` lists of Task, Parallel and Map states."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from stackflow.errors import PREDEFINED_ERRORS, STATES_ALL
from stackflow.workflow.asl.validate_context import (
    JSONATA,
    JSONPATH,
    MAX_INT,
    Checker,
    check_target,
    child,
    did_you_mean,
    is_integer,
    is_number,
    show,
    type_name,
)
from stackflow.workflow.asl.validate_values import (
    check_assign,
    check_jsonata_strings,
    check_path,
)

_RETRIER_FIELDS = (
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
    "Comment",
)
_CATCHER_FIELDS = {
    JSONPATH: ("ErrorEquals", "Next", "ResultPath", "Assign", "Comment"),
    JSONATA: ("ErrorEquals", "Next", "Output", "Assign", "Comment"),
}


def _check_int(
    ck: Checker, owner: dict[str, Any], key: str, pointer: str, subject: str, minimum: int
) -> None:
    value = owner.get(key)
    if key in owner and not (is_integer(value) and minimum <= value <= MAX_INT):
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        ck.add(child(pointer, key), f'{subject} "{key}" must be {expected}, not {show(value)}.')


def _check_error_equals(
    ck: Checker, owner: dict[str, Any], pointer: str, subject: str, last: bool
) -> None:
    if "ErrorEquals" not in owner:
        ck.add(pointer, f'{subject} is missing the required field "ErrorEquals".')
        return
    errors = owner["ErrorEquals"]
    errors_pointer = child(pointer, "ErrorEquals")
    if not isinstance(errors, list) or not errors:
        ck.add(errors_pointer, f'{subject} "ErrorEquals" must be a non-empty array of error names.')
        return
    for index, error in enumerate(errors):
        item_pointer = child(errors_pointer, index)
        if not isinstance(error, str):
            ck.add(
                item_pointer,
                f"{subject} has an error name that is {type_name(error)}; expected a string.",
            )
        elif (
            error.startswith("States.")
            and error not in PREDEFINED_ERRORS
            and not (error.startswith("States.Http."))
        ):
            ck.add(
                item_pointer,
                f'{subject} names "{error}", which is not a predefined error.'
                + did_you_mean(error, PREDEFINED_ERRORS),
            )
    if STATES_ALL in errors and len(errors) > 1:
        ck.add(
            errors_pointer,
            f'{subject} has "{STATES_ALL}" together with other errors; '
            f'"{STATES_ALL}" must appear alone in its ErrorEquals.',
        )
    if STATES_ALL in errors and not last:
        ck.add(
            errors_pointer,
            f'{subject} has "{STATES_ALL}" but is not the last one; a '
            f'retrier or catcher with "{STATES_ALL}" must be the last of its list.',
        )


def _check_number(
    ck: Checker, owner: dict[str, Any], key: str, pointer: str, subject: str, minimum: float
) -> None:
    if key in owner and (not is_number(owner[key]) or owner[key] < minimum):
        ck.add(
            child(pointer, key),
            f'{subject} "{key}" must be a number >= {minimum}, not {show(owner[key])}.',
        )


def check_retry(ck: Checker, name: str, state: dict[str, Any], pointer: str, lang: str) -> None:
    """Check the ``Retry`` list of a Task, Parallel or Map state.

    Args:
        ck: Where problems go.
        name: The state's name.
        state: The state.
        pointer: The state's pointer.
        lang: The state's query language.
    """
    retry, retry_pointer = state["Retry"], child(pointer, "Retry")
    if not isinstance(retry, list):
        ck.add(retry_pointer, f'State "{name}" "Retry" must be an array of retriers.')
        return
    for index, retrier in enumerate(retry):
        ptr, subject = child(retry_pointer, index), f'State "{name}" Retry[{index}]'
        if not isinstance(retrier, dict):
            ck.add(ptr, f"{subject} must be an object, not {type_name(retrier)}.")
            continue
        for key in retrier:
            if key not in _RETRIER_FIELDS:
                ck.add(
                    child(ptr, key),
                    f'{subject} has an unknown field "{key}".' + did_you_mean(key, _RETRIER_FIELDS),
                )
        _check_error_equals(ck, retrier, ptr, subject, index == len(retry) - 1)
        _check_int(ck, retrier, "IntervalSeconds", ptr, subject, 1)
        _check_int(ck, retrier, "MaxAttempts", ptr, subject, 0)
        _check_int(ck, retrier, "MaxDelaySeconds", ptr, subject, 1)
        _check_number(ck, retrier, "BackoffRate", ptr, subject, 1.0)
        if "JitterStrategy" in retrier and retrier["JitterStrategy"] not in ("FULL", "NONE"):
            ck.add(
                child(ptr, "JitterStrategy"),
                f'{subject} "JitterStrategy" must be "FULL" or '
                f'"NONE", not {show(retrier["JitterStrategy"])}.',
            )


def check_catch(
    ck: Checker, name: str, state: dict[str, Any], pointer: str, lang: str, names: Collection[str]
) -> None:
    """Check the ``Catch`` list of a Task, Parallel or Map state.

    Args:
        ck: Where problems go.
        name: The state's name.
        state: The state.
        pointer: The state's pointer.
        lang: The state's query language.
        names: State names of the enclosing state machine (catcher targets).
    """
    catch, catch_pointer = state["Catch"], child(pointer, "Catch")
    if not isinstance(catch, list):
        ck.add(catch_pointer, f'State "{name}" "Catch" must be an array of catchers.')
        return
    allowed = _CATCHER_FIELDS[lang]
    for index, catcher in enumerate(catch):
        ptr, subject = child(catch_pointer, index), f'State "{name}" Catch[{index}]'
        if not isinstance(catcher, dict):
            ck.add(ptr, f"{subject} must be an object, not {type_name(catcher)}.")
            continue
        for key in catcher:
            if key in allowed:
                continue
            if key in _CATCHER_FIELDS[JSONPATH] or key in _CATCHER_FIELDS[JSONATA]:
                message = f'{subject} has "{key}", which QueryLanguage {lang} does not support.'
            else:
                message = f'{subject} has an unknown field "{key}".' + did_you_mean(key, allowed)
            ck.add(child(ptr, key), message)
        _check_error_equals(ck, catcher, ptr, subject, index == len(catch) - 1)
        if "Next" not in catcher:
            ck.add(ptr, f'{subject} is missing the required field "Next".')
        else:
            check_target(ck, catcher["Next"], child(ptr, "Next"), subject, "Next", names)
        if "ResultPath" in catcher and lang == JSONPATH:
            check_path(
                ck,
                catcher["ResultPath"],
                child(ptr, "ResultPath"),
                f'{subject} "ResultPath"',
                reference_only=True,
                allow_null=True,
            )
        if "Output" in catcher and lang == JSONATA:
            check_jsonata_strings(
                ck, catcher["Output"], child(ptr, "Output"), f'{subject} "Output"'
            )
        if "Assign" in catcher:
            check_assign(ck, catcher["Assign"], child(ptr, "Assign"), subject, lang)
