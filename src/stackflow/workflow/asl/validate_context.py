"""Shared plumbing of the ASL validator: problem collection, codes and small value checks."""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from stackflow.errors import Problem
from stackflow.workflow.asl.loader import LoadedDefinition, join_pointer

SCHEMA_VALIDATION_FAILED = "SCHEMA_VALIDATION_FAILED"
MISSING_TRANSITION_TARGET = "MISSING_TRANSITION_TARGET"
UNREACHABLE_STATE = "UNREACHABLE_STATE"
MISSING_END_STATE = "MISSING_END_STATE"
INVALID_STATE_NAME = "INVALID_STATE_NAME"
DUPLICATE_STATE_NAME = "DUPLICATE_STATE_NAME"
INVALID_JSON_PATH = "INVALID_JSON_PATH"
INVALID_INTRINSIC_FUNCTION = "INVALID_INTRINSIC_FUNCTION"
INVALID_JSONATA = "INVALID_JSONATA"
INVALID_VARIABLE_NAME = "INVALID_VARIABLE_NAME"

JSONPATH = "JSONPath"
JSONATA = "JSONata"
QUERY_LANGUAGES = (JSONPATH, JSONATA)

#: Largest value AWS accepts for the integer fields of a state (timeouts, attempts, ...).
MAX_INT = 99_999_999


@dataclass
class Checker:
    """Collects problems for one definition; knows how to locate a pointer.

    Attributes:
        loaded: The definition being validated.
        problems: Problems found so far.
        top_language: The query language of the top-level state machine.
        all_names: Every state name in the definition, nested ones included (for hints).
    """

    loaded: LoadedDefinition
    problems: list[Problem] = field(default_factory=list)
    top_language: str = JSONPATH
    all_names: frozenset[str] = frozenset()

    def add(self, pointer: str, message: str, code: str = SCHEMA_VALIDATION_FAILED) -> None:
        """Record a problem at ``pointer``.

        Args:
            pointer: JSON pointer of the offending field.
            message: What is wrong and what was expected.
            code: The kind of problem.
        """
        self.problems.append(Problem(self.loaded.locate(pointer), message, code))


def show(value: Any, limit: int = 60) -> str:
    """Render a JSON value for a message, shortened when long.

    Args:
        value: Any JSON value.
        limit: Maximum number of characters.

    Returns:
        The value as compact JSON.
    """
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_name(value: Any) -> str:
    """Name the JSON type of ``value`` with an article, e.g. ``a string``.

    Args:
        value: Any JSON value.

    Returns:
        ``null``, ``a boolean``, ``a number``, ``a string``, ``an array`` or ``an object``.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Suggest the closest of ``choices`` to a misspelt ``word``.

    Args:
        word: What the user wrote.
        choices: The valid words.

    Returns:
        `` Did you mean "X"?`` (with a leading space), or an empty string when nothing is close.
    """
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f' Did you mean "{close[0]}"?' if close else ""


def is_number(value: Any) -> TypeGuard[int | float]:
    """Tell whether ``value`` is a JSON number (booleans are not numbers).

    Args:
        value: Any JSON value.

    Returns:
        True for ints and floats.
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_integer(value: Any) -> TypeGuard[int | float]:
    """Tell whether ``value`` is a JSON integer (``5`` or ``5.0``; not ``true``).

    Args:
        value: Any JSON value.

    Returns:
        True for integral numbers.
    """
    return is_number(value) and float(value).is_integer()


def jsonata_body(value: Any) -> str | None:
    """Return the expression inside a ``{% ... %}`` string.

    Args:
        value: Any JSON value.

    Returns:
        The text between the delimiters, or None when ``value`` is not a JSONata string.
    """
    if isinstance(value, str) and value.startswith("{%") and value.endswith("%}"):
        return value[2:-2] if len(value) >= 4 else ""
    return None


def child(pointer: str, *tokens: str | int) -> str:
    """Shorthand for :func:`stackflow.workflow.asl.loader.join_pointer`.

    Args:
        pointer: Base pointer.
        *tokens: Keys or indexes to append.

    Returns:
        The joined pointer.
    """
    return join_pointer(pointer, *tokens)


def check_target(
    ck: Checker, target: Any, pointer: str, subject: str, field_name: str, names: Collection[str]
) -> None:
    """Check that a transition (Next, Default, a Catch's Next) names a state in scope.

    Args:
        ck: Where problems go.
        target: The value of the transition field.
        pointer: The field's pointer.
        subject: How messages name the owner, e.g. ``State "A"``.
        field_name: ``Next`` or ``Default``.
        names: The state names of the enclosing state machine.
    """
    if not isinstance(target, str):
        ck.add(pointer, f'{subject} has "{field_name}" {type_name(target)}; expected a state name.')
        return
    scope = names if isinstance(names, (dict, set, frozenset)) else list(names)
    if target not in scope:
        if target in ck.all_names:
            hint = (
                f' "{target}" belongs to another (nested or enclosing) state machine; a state can '
                "only go to states of its own state machine, Parallel branch or Map processor."
            )
        else:
            hint = did_you_mean(target, list(scope))
        ck.add(
            pointer,
            f'{subject} has {field_name} "{target}" which is not a state in this state machine.'
            + hint,
            MISSING_TRANSITION_TARGET,
        )
