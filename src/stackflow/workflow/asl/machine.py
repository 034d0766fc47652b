"""The compiled shape of a state machine: its scopes and states, looked up by the interpreter.

A state machine has one top-level scope and one nested scope per Parallel branch and Map item
processor. Each scope is keyed by the JSON pointer of the object holding its ``StartAt``/``States``
("" for the top level), so a frame of an execution can name its scope with a plain string that
survives serialization.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from stackflow.types import JSONObject

JSONPATH = "JSONPath"
JSONATA = "JSONata"


def escape_pointer(token: str) -> str:
    """Escape one JSON pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class Scope:
    """One ``StartAt``/``States`` block.

    Attributes:
        key: JSON pointer of the block ("" for the top level).
        start_at: Name of the first state.
        states: State name to state definition.
        query_language: Default query language of the states in this block.
    """

    key: str
    start_at: str
    states: dict[str, JSONObject]
    query_language: str


@dataclass(frozen=True)
class Machine:
    """A state machine definition with its scopes indexed.

    Attributes:
        document: The definition as parsed JSON.
        scopes: Scope key to :class:`Scope`.
    """

    document: JSONObject
    scopes: dict[str, Scope] = field(default_factory=dict)
    _uses_context: dict[tuple[str, str], bool] = field(default_factory=dict, repr=False)

    @property
    def top(self) -> Scope:
        """The top-level scope."""
        return self.scopes[""]

    def state(self, scope: str, name: str) -> JSONObject:
        """Return the definition of state ``name`` in ``scope``."""
        return self.scopes[scope].states[name]

    def uses_context(self, scope: str, name: str) -> bool:
        """Return True if a state may read the context object (``$$`` or ``$states``)."""
        key = (scope, name)
        found = self._uses_context.get(key)
        if found is None:
            text = json.dumps(self.scopes[scope].states[name])
            found = "$$" in text or "$states" in text
            self._uses_context[key] = found
        return found

    def query_language(self, scope: str, state: JSONObject) -> str:
        """Return the query language a state uses (its own, else its machine's)."""
        lang = state.get("QueryLanguage")
        return lang if isinstance(lang, str) else self.scopes[scope].query_language

    def to_json(self) -> str:
        """Return the definition as compact JSON text."""
        return json.dumps(self.document, separators=(",", ":"))


def processor_key(scope: str, state_name: str, state: JSONObject) -> str:
    """Return the scope key of a Map state's item processor."""
    inner = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
    return f"{scope}/States/{escape_pointer(state_name)}/{inner}"


def branch_key(scope: str, state_name: str, index: int) -> str:
    """Return the scope key of branch ``index`` of a Parallel state."""
    return f"{scope}/States/{escape_pointer(state_name)}/Branches/{index}"


def _collect(machine: Machine, key: str, block: JSONObject, language: str) -> None:
    lang = block.get("QueryLanguage", language)
    if not isinstance(lang, str):
        lang = language
    states = block.get("States")
    if not isinstance(states, dict):
        states = {}
    machine.scopes[key] = Scope(key, str(block.get("StartAt", "")), states, lang)
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        kind = state.get("Type")
        if kind == "Parallel":
            for i, branch in enumerate(state.get("Branches") or []):
                if isinstance(branch, dict):
                    _collect(machine, branch_key(key, name, i), branch, lang)
        elif kind == "Map":
            inner = state.get("ItemProcessor", state.get("Iterator"))
            if isinstance(inner, dict):
                _collect(machine, processor_key(key, name, state), inner, lang)


def build_machine(document: JSONObject) -> Machine:
    """Index every scope of a (validated) definition.

    Args:
        document: The parsed definition.

    Returns:
        The machine with all scopes indexed.
    """
    machine = Machine(document)
    lang = document.get("QueryLanguage", JSONPATH)
    _collect(machine, "", document, lang if isinstance(lang, str) else JSONPATH)
    return machine


@lru_cache(maxsize=256)
def machine_from_json(text: str) -> Machine:
    """Return the machine for a definition given as JSON text (cached by text)."""
    document: Any = json.loads(text)
    return build_machine(document)
