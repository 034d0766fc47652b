"""Validation of the values inside states: paths, intrinsic functions, JSONata and templates.

The parsers themselves live in :mod:`stackflow.workflow.asl.jsonpath`,
:mod:`stackflow.workflow.asl.intrinsics` and :mod:`stackflow.workflow.asl.jsonata_query`; they
are imported lazily so this module loads even where one of them is absent (the check is skipped).
"""

from __future__ import annotations

import re
from typing import Any

from stackflow.workflow.asl.validate_context import (
    INVALID_INTRINSIC_FUNCTION,
    INVALID_JSON_PATH,
    INVALID_JSONATA,
    INVALID_VARIABLE_NAME,
    JSONATA,
    Checker,
    child,
    jsonata_body,
    show,
    type_name,
)

_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_VARIABLE_NAME = 80
#: Variable names Step Functions reserves for itself.
RESERVED_VARIABLES = frozenset({"states"})


_PREFIXES = re.compile(
    r"^(?:The value .*? is not a valid (?:JSONPath|ReferencePath): "
    r"|Invalid intrinsic function .*?: )",
    re.DOTALL,
)


def _clean(message: str) -> str:
    return _PREFIXES.sub("", message.strip(), count=1).rstrip(".")


def path_error(path: str, *, reference_only: bool, allow_context: bool = True) -> str | None:
    """Ask the JSONPath module whether ``path`` is valid.

    Args:
        path: A path such as ``$.a.b``, ``$$.Execution.Id`` or ``$var``.
        reference_only: Only reference paths (no filters, wildcards or slices) are allowed.
        allow_context: Whether a ``$$`` (context object) path is accepted; such a path is then
            checked as a plain JSONPath.

    Returns:
        The reason the path is invalid, or None (also when the module is not available).
    """
    try:
        from stackflow.workflow.asl import jsonpath
    except ImportError:
        return None
    if path.startswith("$$"):
        if not allow_context:
            return "context object paths ($$) are not allowed here"
        reference_only = False
    return jsonpath.validate_path(path, reference_only=reference_only)


def intrinsic_error(text: str) -> str | None:
    """Parse an intrinsic function call and report why it is invalid.

    Args:
        text: A call such as ``States.Format('{}', $.a)``.

    Returns:
        The reason, or None when it parses (also when the module is not available).
    """
    try:
        from stackflow.workflow.asl import intrinsics
    except ImportError:
        return None
    try:
        intrinsics.parse_intrinsic(text)
    except intrinsics.IntrinsicSyntaxError as exc:
        return str(exc) or "syntax error"
    return None


def looks_intrinsic(text: str) -> bool:
    """Tell whether ``text`` is meant as an intrinsic function call.

    Args:
        text: A string value of a ``.$`` field.

    Returns:
        True when it starts with ``States.`` or the intrinsics module recognises it.
    """
    if text.startswith("States."):
        return True
    try:
        from stackflow.workflow.asl import intrinsics
    except ImportError:
        return False
    return bool(intrinsics.is_intrinsic(text))


def jsonata_error(expression: str) -> str | None:
    """Ask the JSONata module whether ``expression`` (without ``{% %}``) is valid.

    Args:
        expression: The text between ``{%`` and ``%}``.

    Returns:
        The reason it is invalid, or None (also when the module is not available).
    """
    if not expression.strip():
        return "the expression is empty"
    try:
        from stackflow.workflow.asl import jsonata_query
    except ImportError:
        return None
    return jsonata_query.validate_jsonata(expression)


def check_path(
    ck: Checker,
    value: Any,
    pointer: str,
    subject: str,
    *,
    reference_only: bool,
    allow_null: bool = False,
    allow_intrinsic: bool = False,
    allow_context: bool = True,
) -> None:
    """Check a field whose value must be a JSONPath (``InputPath``, ``ItemsPath``, ...).

    Args:
        ck: Where problems go.
        value: The field's value.
        pointer: The field's pointer.
        subject: How messages name the field, e.g. ``State "A" field "InputPath"``.
        reference_only: Whether only a reference path is allowed.
        allow_null: Whether ``null`` is allowed (InputPath, OutputPath, ResultPath).
        allow_intrinsic: Whether an intrinsic function is allowed (Fail ErrorPath/CausePath).
        allow_context: Whether a ``$$`` path is allowed (not in ResultPath).
    """
    kind = "reference path" if reference_only else "JSONPath"
    if value is None and allow_null:
        return
    if not isinstance(value, str):
        expected = f"a {kind} string" + (" or null" if allow_null else "")
        ck.add(pointer, f"{subject} must be {expected}, not {type_name(value)}.")
        return
    if allow_intrinsic and looks_intrinsic(value):
        check_intrinsic(ck, value, pointer, subject)
        return
    if not value.startswith("$"):
        ck.add(
            pointer,
            f'{subject} has {show(value)}, which is not a {kind}: it must start with "$".',
            INVALID_JSON_PATH,
        )
        return
    error = path_error(value, reference_only=reference_only, allow_context=allow_context)
    if error:
        ck.add(
            pointer,
            f"{subject} has {show(value)}, which is not a valid {kind}: {_clean(error)}.",
            INVALID_JSON_PATH,
        )


def check_intrinsic(ck: Checker, value: str, pointer: str, subject: str) -> None:
    """Check an intrinsic function call.

    Args:
        ck: Where problems go.
        value: The call text.
        pointer: Its pointer.
        subject: How messages name the field.
    """
    error = intrinsic_error(value)
    if error:
        ck.add(
            pointer,
            f"{subject} has {show(value)}, which is not a valid intrinsic function: "
            f"{_clean(error)}.",
            INVALID_INTRINSIC_FUNCTION,
        )


def check_dollar_value(ck: Checker, value: Any, pointer: str, subject: str) -> None:
    """Check the value of a ``key.$`` field: a path or an intrinsic function.

    Args:
        ck: Where problems go.
        value: The value.
        pointer: Its pointer.
        subject: How messages name the field.
    """
    if not isinstance(value, str):
        ck.add(
            pointer,
            f"{subject} ends in .$, so its value must be a JSONPath or intrinsic function "
            f"string, not {type_name(value)}.",
        )
        return
    if looks_intrinsic(value):
        check_intrinsic(ck, value, pointer, subject)
        return
    if not value.startswith("$"):
        ck.add(
            pointer,
            f'{subject} ends in .$, so its value must be a JSONPath (starting with "$") or '
            f"an intrinsic function, not {show(value)}.",
            INVALID_JSON_PATH,
        )
        return
    error = path_error(value, reference_only=False)
    if error:
        ck.add(
            pointer,
            f"{subject} has {show(value)}, which is not a valid JSONPath: {_clean(error)}.",
            INVALID_JSON_PATH,
        )


def check_template(ck: Checker, value: Any, pointer: str, where: str) -> None:
    """Check a JSONPath payload template (Parameters, ResultSelector, ItemSelector, ...).

    Every ``key.$`` must hold a path or intrinsic function, and ``key`` and ``key.$`` may not
    both appear in one object.

    Args:
        ck: Where problems go.
        value: The template.
        pointer: Its pointer.
        where: How messages name the template, e.g. ``State "A" field "Parameters"``.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            item_pointer = child(pointer, key)
            if key.endswith(".$"):
                if key[:-2] in value:
                    ck.add(
                        item_pointer,
                        f'{where} has both "{key[:-2]}" and "{key}"; keep only one of them.',
                    )
                check_dollar_value(ck, item, item_pointer, f'{where}: field "{key}"')
            else:
                check_template(ck, item, item_pointer, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_template(ck, item, child(pointer, index), where)


def check_jsonata_strings(ck: Checker, value: Any, pointer: str, where: str) -> None:
    """Check every ``{% ... %}`` string inside ``value`` (JSONata states).

    Args:
        ck: Where problems go.
        value: Any JSON value.
        pointer: Its pointer.
        where: How messages name the field.
    """
    if isinstance(value, str):
        body = jsonata_body(value)
        if body is None:
            return
        error = jsonata_error(body)
        if error:
            ck.add(
                pointer,
                f"{where} has an invalid JSONata expression {show(value)}: {_clean(error)}.",
                INVALID_JSONATA,
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            check_jsonata_strings(ck, item, child(pointer, key), where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_jsonata_strings(ck, item, child(pointer, index), where)


def check_payload(ck: Checker, value: Any, pointer: str, where: str, language: str) -> None:
    """Check a template in the state's query language.

    Args:
        ck: Where problems go.
        value: The template.
        pointer: Its pointer.
        where: How messages name the field.
        language: ``JSONPath`` or ``JSONata``.
    """
    if language == JSONATA:
        check_jsonata_strings(ck, value, pointer, where)
    else:
        check_template(ck, value, pointer, where)


def check_assign(ck: Checker, value: Any, pointer: str, owner: str, language: str) -> None:
    """Check an ``Assign`` block: an object of valid, non-reserved variable names.

    Args:
        ck: Where problems go.
        value: The Assign value.
        pointer: Its pointer.
        owner: How messages name its owner, e.g. ``State "A"``.
        language: ``JSONPath`` or ``JSONata``.
    """
    if not isinstance(value, dict):
        ck.add(pointer, f'{owner} has "Assign" {type_name(value)}; expected an object.')
        return
    for key, item in value.items():
        item_pointer = child(pointer, key)
        name = key[:-2] if language != JSONATA and key.endswith(".$") else key
        if name in RESERVED_VARIABLES:
            ck.add(
                item_pointer,
                f'{owner} assigns the variable "{name}", but ${name} is reserved by '
                "Step Functions; choose another name.",
                INVALID_VARIABLE_NAME,
            )
        elif not _VARIABLE_NAME.fullmatch(name) or len(name) > _MAX_VARIABLE_NAME:
            ck.add(
                item_pointer,
                f'{owner} assigns the variable "{name}", which is not a valid variable name: '
                "expected a letter or underscore followed by letters, digits or underscores "
                f"(at most {_MAX_VARIABLE_NAME} characters).",
                INVALID_VARIABLE_NAME,
            )
        where = f'{owner} field "Assign"'
        if language == JSONATA:
            check_jsonata_strings(ck, item, item_pointer, where)
        elif key.endswith(".$"):
            check_dollar_value(ck, item, item_pointer, f'{where}: variable "{key}"')
        else:
            check_template(ck, item, item_pointer, where)
