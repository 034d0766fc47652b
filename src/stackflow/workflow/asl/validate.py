"""Static validation of Amazon States Language definitions, as AWS's
``ValidateStateMachineDefinition`` does it.

:func:`validate_definition` reports every problem at once, each with the file, line, column and
JSON pointer of the offending field; :func:`check_definition` raises them as a
:class:`~stackflow.errors.DefinitionError`. The rules for single states live in
:mod:`stackflow.workflow.asl.validate_states` and
:mod:`stackflow.workflow.asl.validate_choice`; values (paths, intrinsic functions, JSONata) in
:mod:`stackflow.workflow.asl.validate_values`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from typing import Any

from stackflow.errors import DefinitionError, Problem
from stackflow.workflow.asl.loader import LoadedDefinition
from stackflow.workflow.asl.validate_context import (
    DUPLICATE_STATE_NAME,
    JSONPATH,
    MISSING_END_STATE,
    MISSING_TRANSITION_TARGET,
    QUERY_LANGUAGES,
    UNREACHABLE_STATE,
    Checker,
    child,
    did_you_mean,
    is_integer,
    show,
    type_name,
)
from stackflow.workflow.asl.validate_states import (
    TERMINAL_TYPES,
    check_state,
    check_state_name,
)

__all__ = ["check_definition", "validate_definition"]

_TOP_FIELDS = ("StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage")
_NESTED_FIELDS = {
    "Branches": ("StartAt", "States", "Comment"),
    "ItemProcessor": ("StartAt", "States", "Comment", "ProcessorConfig"),
    "Iterator": ("StartAt", "States", "Comment", "ProcessorConfig"),
}
_PROCESSOR_CONFIG = {"Mode": ("INLINE", "DISTRIBUTED"), "ExecutionType": ("STANDARD", "EXPRESS")}


class _Walker:
    """Walks a definition's state machines, nested ones included."""

    def __init__(self, ck: Checker) -> None:
        self.ck = ck
        self.seen_names: dict[str, str] = {}  # state name -> pointer of its first definition

    def machine(self, machine: Any, pointer: str, kind: str) -> None:
        ck = self.ck
        where = "The state machine" if kind == "top" else f"The state machine at {pointer}"
        if not isinstance(machine, dict):
            ck.add(
                pointer,
                f"{where} must be an object with StartAt and States, not {type_name(machine)}.",
            )
            return
        allowed = _TOP_FIELDS if kind == "top" else _NESTED_FIELDS[kind]
        for key in machine:
            if key not in allowed:
                ck.add(
                    child(pointer, key),
                    f'{where} has an unknown field "{key}".' + did_you_mean(key, allowed),
                )
        if kind == "top":
            self._top_fields(machine)
        elif "ProcessorConfig" in machine:
            self._processor_config(machine["ProcessorConfig"], child(pointer, "ProcessorConfig"))
        states = machine.get("States")
        states_pointer = child(pointer, "States")
        if "States" not in machine:
            ck.add(
                pointer,
                f'{where} is missing the required field "States": an object '
                "mapping state names to states.",
            )
            states = {}
        elif not isinstance(states, dict) or not states:
            ck.add(
                states_pointer,
                f'{where} has "States" {show(states)}; expected a non-empty '
                "object mapping state names to states.",
            )
            states = states if isinstance(states, dict) else {}
        names = states  # a dict: O(1) membership for transition checks
        self._start_at(machine, pointer, where, names)
        for name, state in states.items():
            state_pointer = child(states_pointer, name)
            self._name(name, state_pointer)
            check_state(ck, name, state, state_pointer, names)
            if isinstance(state, dict):
                self._nested(state, state_pointer)
        if states:
            self._graph(machine, states, states_pointer, where)

    def _top_fields(self, machine: dict[str, Any]) -> None:
        ck = self.ck
        if "QueryLanguage" in machine and machine["QueryLanguage"] not in QUERY_LANGUAGES:
            ck.add(
                "/QueryLanguage",
                '"QueryLanguage" must be "JSONPath" or "JSONata", not '
                f"{show(machine['QueryLanguage'])}.",
            )
        timeout = machine.get("TimeoutSeconds")
        if "TimeoutSeconds" in machine and (not is_integer(timeout) or timeout < 1):
            ck.add(
                "/TimeoutSeconds",
                '"TimeoutSeconds" of the state machine must be a positive '
                f"integer, not {show(timeout)}.",
            )
        if "Version" in machine and not isinstance(machine["Version"], str):
            ck.add(
                "/Version",
                f'"Version" must be a string such as "1.0", not {show(machine["Version"])}.',
            )
        if "Comment" in machine and not isinstance(machine["Comment"], str):
            ck.add("/Comment", f'"Comment" must be a string, not {type_name(machine["Comment"])}.')

    def _processor_config(self, config: Any, pointer: str) -> None:
        if not isinstance(config, dict):
            self.ck.add(pointer, f'"ProcessorConfig" must be an object, not {type_name(config)}.')
            return
        for key, value in config.items():
            if key not in _PROCESSOR_CONFIG:
                self.ck.add(
                    child(pointer, key),
                    f'"ProcessorConfig" has an unknown field "{key}".'
                    + did_you_mean(key, _PROCESSOR_CONFIG),
                )
            elif value not in _PROCESSOR_CONFIG[key]:
                expected = " or ".join(f'"{v}"' for v in _PROCESSOR_CONFIG[key])
                self.ck.add(
                    child(pointer, key),
                    f'"ProcessorConfig" "{key}" must be {expected}, not {show(value)}.',
                )

    def _start_at(
        self, machine: dict[str, Any], pointer: str, where: str, names: Collection[str]
    ) -> None:
        ck = self.ck
        if "StartAt" not in machine:
            ck.add(
                pointer,
                f'{where} is missing the required field "StartAt": the name of the '
                "first state to run.",
            )
            return
        start = machine["StartAt"]
        if not isinstance(start, str):
            ck.add(
                child(pointer, "StartAt"),
                f'"StartAt" must be a state name, not {type_name(start)}.',
            )
        elif names and start not in names:
            ck.add(
                child(pointer, "StartAt"),
                f'StartAt "{start}" is not a state in this state '
                "machine." + did_you_mean(start, names),
                MISSING_TRANSITION_TARGET,
            )

    def _name(self, name: str, pointer: str) -> None:
        check_state_name(self.ck, name, pointer)
        first = self.seen_names.get(name)
        if first is None:
            self.seen_names[name] = pointer
        else:
            self.ck.add(
                pointer,
                f'State name "{name}" is already used at {first}; state names '
                "must be unique in the whole state machine, nested ones included.",
                DUPLICATE_STATE_NAME,
            )

    def _nested(self, state: dict[str, Any], pointer: str) -> None:
        kind = state.get("Type")
        if kind == "Parallel" and "Branches" in state:
            branches = state["Branches"]
            if not isinstance(branches, list) or not branches:
                self.ck.add(
                    child(pointer, "Branches"),
                    f'"Branches" must be a non-empty array of '
                    f"state machines, not {show(branches)}.",
                )
                return
            for index, branch in enumerate(branches):
                self.machine(branch, child(pointer, "Branches", index), "Branches")
        elif kind == "Map":
            for key in ("ItemProcessor", "Iterator"):
                if key in state:
                    self.machine(state[key], child(pointer, key), key)

    def _graph(
        self, machine: dict[str, Any], states: dict[str, Any], pointer: str, where: str
    ) -> None:
        edges = {name: _targets(state) for name, state in states.items()}
        start = machine.get("StartAt")
        if isinstance(start, str) and start in states:
            reached = {start}
            queue = deque([start])
            while queue:
                for target in edges[queue.popleft()]:
                    if target in states and target not in reached:
                        reached.add(target)
                        queue.append(target)
            for name in states:
                if name not in reached:
                    self.ck.add(
                        child(pointer, name),
                        f'State "{name}" is not reachable from '
                        f'StartAt "{start}"; no reachable state transitions to it.',
                        UNREACHABLE_STATE,
                    )
        if not any(_is_terminal(state) for state in states.values()):
            self.ck.add(
                pointer,
                f"{where} has no terminal state; expected at least one state "
                'with "End": true or of Type Succeed or Fail.',
                MISSING_END_STATE,
            )


def _targets(state: Any) -> list[str]:
    if not isinstance(state, dict):
        return []
    found: list[Any] = [state.get("Next"), state.get("Default")]
    for key in ("Choices", "Catch"):
        items = state.get(key)
        if isinstance(items, list):
            found.extend(item.get("Next") for item in items if isinstance(item, dict))
    return [t for t in found if isinstance(t, str)]


def _is_terminal(state: Any) -> bool:
    return isinstance(state, dict) and (
        state.get("Type") in TERMINAL_TYPES or state.get("End") is True
    )


def _all_names(machine: Any) -> list[str]:
    if not isinstance(machine, dict) or not isinstance(machine.get("States"), dict):
        return []
    names: list[str] = []
    for name, state in machine["States"].items():
        names.append(name)
        if not isinstance(state, dict):
            continue
        branches = state.get("Branches")
        nested = list(branches) if isinstance(branches, list) else []
        nested += [state[key] for key in ("ItemProcessor", "Iterator") if key in state]
        for sub in nested:
            names.extend(_all_names(sub))
    return names


def _sort_key(problem: Problem) -> tuple[bool, int, int]:
    loc = problem.location
    return (loc.line is None, loc.line or 0, loc.column or 0)


def validate_definition(loaded: LoadedDefinition) -> list[Problem]:
    """Find every problem in an ASL definition.

    Checks what AWS's ValidateStateMachineDefinition reports: the shape of the state machine
    and of each state (fields allowed per type and query language, required fields, numbers),
    transitions and reachability, Choice rules, Retry and Catch, paths, intrinsic functions and
    JSONata expressions, Assign variable names, and nested state machines (each with its own
    scope of transition targets).

    Args:
        loaded: The definition, from :func:`stackflow.workflow.asl.loader.load_definition`
            or :func:`~stackflow.workflow.asl.loader.from_object`.

    Returns:
        The problems sorted by position (problems without a position come last, in the order
        found); empty when the definition is valid.
    """
    document = loaded.document
    language = document.get("QueryLanguage", JSONPATH) if isinstance(document, dict) else JSONPATH
    ck = Checker(
        loaded,
        top_language=language if language in QUERY_LANGUAGES else JSONPATH,
        all_names=frozenset(_all_names(document)),
    )
    _Walker(ck).machine(document, "", "top")
    return sorted(ck.problems, key=_sort_key)


def check_definition(loaded: LoadedDefinition) -> None:
    """Raise when an ASL definition has any problem.

    Args:
        loaded: The definition.

    Raises:
        DefinitionError: Carrying every problem found by :func:`validate_definition`.
    """
    problems = validate_definition(loaded)
    if problems:
        raise DefinitionError(
            problems, f"Invalid state machine definition: {len(problems)} problem(s) found"
        )
