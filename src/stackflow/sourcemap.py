"""Source maps: where each part of a JSON or YAML document sits in its text.

Generic, pure helpers shared by the ASL loader and the template loader: RFC 6901 pointers, the
:class:`SourceMap` of positions by pointer, and a small JSON scanner recording the offset of every
key and value.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stackflow.errors import SourceLocation

Position = tuple[int, int]


def escape_pointer_token(token: str) -> str:
    """Escape one reference token of a JSON pointer as RFC 6901 requires.

    Args:
        token: An object key or array index.

    Returns:
        The token with ``~`` written as ``~0`` and ``/`` as ``~1``.
    """
    return token.replace("~", "~0").replace("/", "~1")


def join_pointer(base: str, *tokens: str | int) -> str:
    """Append reference tokens to a JSON pointer.

    Args:
        base: A JSON pointer such as ``/States`` (``""`` for the whole document).
        *tokens: Keys or array indexes to append; they are escaped.

    Returns:
        The longer pointer, e.g. ``join_pointer("/States", "a/b")`` is ``/States/a~1b``.
    """
    return base + "".join("/" + escape_pointer_token(str(t)) for t in tokens)


@dataclass(frozen=True)
class SourceMap:
    """Positions of the keys and values of a loaded document, by JSON pointer.

    Attributes:
        file: Name of the file the document came from, or None.
        keys: 1-based (line, column) of the key of each object member, by the member's pointer.
        values: 1-based (line, column) where each value starts, by its pointer.
    """

    file: str | None = None
    keys: Mapping[str, Position] = field(default_factory=dict)
    values: Mapping[str, Position] = field(default_factory=dict)

    def position(self, pointer: str) -> Position | None:
        """Return the exact recorded position of ``pointer`` (its key if it has one).

        Args:
            pointer: An RFC 6901 JSON pointer.

        Returns:
            (line, column), or None when the pointer is not in the document.
        """
        return self.keys.get(pointer) or self.values.get(pointer)

    def locate(self, pointer: str) -> SourceLocation:
        """Find where ``pointer`` is, falling back to its nearest recorded ancestor.

        For an object member the position of its key is returned; for an array element or the
        whole document, the position where the value starts.

        Args:
            pointer: An RFC 6901 JSON pointer, e.g. ``/States/Start/Next``.

        Returns:
            A location that keeps the requested pointer; line and column are None when nothing
            on the way to the root is known (e.g. a definition given as a Python object).
        """
        current = pointer
        while True:
            pos = self.position(current)
            if pos is not None:
                return SourceLocation(self.file, pos[0], pos[1], pointer)
            if not current:
                return SourceLocation(self.file, None, None, pointer)
            current = current.rsplit("/", 1)[0]

    def locate_value(self, pointer: str) -> SourceLocation:
        """Like :meth:`locate`, but prefer where the value starts over where its key is.

        Args:
            pointer: An RFC 6901 JSON pointer.

        Returns:
            The location of the value (or of the nearest known ancestor).
        """
        pos = self.values.get(pointer)
        if pos is not None:
            return SourceLocation(self.file, pos[0], pos[1], pointer)
        return self.locate(pointer)


# --------------------------------------------------------------------------------------------
# JSON scanner with positions


class JsonSyntaxError(Exception):
    """A syntax error in JSON text at a character offset."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


NUMBER_RE = re.compile(r"-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")
WS_RE = re.compile(r"[ \t\n\r]*")
LITERALS: tuple[tuple[str, Any], ...] = (("true", True), ("false", False), ("null", None))


class JsonScanner:
    """A small recursive-descent JSON parser recording the offset of every key and value."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.keys: dict[str, int] = {}
        self.values: dict[str, int] = {}
        self.duplicates: list[tuple[str, str, int, int]] = []  # pointer, key, first, second

    def parse(self) -> Any:
        pos = self._skip(0)
        value, pos = self._value(pos, "")
        pos = self._skip(pos)
        if pos != len(self.text):
            raise JsonSyntaxError("Extra data after the end of the JSON document", pos)
        return value

    def _skip(self, pos: int) -> int:
        match = WS_RE.match(self.text, pos)
        return match.end() if match else pos

    def _value(self, pos: int, pointer: str) -> tuple[Any, int]:
        text = self.text
        self.values[pointer] = pos
        if pos >= len(text):
            raise JsonSyntaxError("Expected a value but the text ended", pos)
        char = text[pos]
        if char == "{":
            return self._object(pos, pointer)
        if char == "[":
            return self._array(pos, pointer)
        if char == '"':
            return self._string(pos)
        for word, literal in LITERALS:
            if text.startswith(word, pos):
                return literal, pos + len(word)
        match = NUMBER_RE.match(text, pos)
        if match:
            number = match.group(0)
            if match.group(1) or match.group(2):
                return float(number), match.end()
            return int(number), match.end()
        raise JsonSyntaxError(f"Expected a value but found {text[pos]!r}", pos)

    def _string(self, pos: int) -> tuple[str, int]:
        try:
            return json.decoder.scanstring(self.text, pos + 1, True)  # type: ignore[attr-defined,no-any-return]
        except json.JSONDecodeError as exc:
            raise JsonSyntaxError(exc.msg, exc.pos) from None

    def _object(self, pos: int, pointer: str) -> tuple[dict[str, Any], int]:
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        pos = self._skip(pos + 1)
        if self.text.startswith("}", pos):
            return result, pos + 1
        while True:
            if not self.text.startswith('"', pos):
                raise JsonSyntaxError("Expected a key in double quotes", pos)
            key_pos = pos
            key, pos = self._string(pos)
            pos = self._skip(pos)
            if not self.text.startswith(":", pos):
                raise JsonSyntaxError("Expected ':' after the key", pos)
            pos = self._skip(pos + 1)
            child = join_pointer(pointer, key)
            if key in first_seen:
                self.duplicates.append((child, key, first_seen[key], key_pos))
            else:
                first_seen[key] = key_pos
                self.keys[child] = key_pos
            value, pos = self._value(pos, child)
            if key not in result:
                result[key] = value
            pos = self._skip(pos)
            if self.text.startswith(",", pos):
                pos = self._skip(pos + 1)
                continue
            if self.text.startswith("}", pos):
                return result, pos + 1
            raise JsonSyntaxError("Expected ',' or '}' after an object member", pos)

    def _array(self, pos: int, pointer: str) -> tuple[list[Any], int]:
        result: list[Any] = []
        pos = self._skip(pos + 1)
        if self.text.startswith("]", pos):
            return result, pos + 1
        while True:
            value, pos = self._value(pos, join_pointer(pointer, len(result)))
            result.append(value)
            pos = self._skip(pos)
            if self.text.startswith(",", pos):
                pos = self._skip(pos + 1)
                continue
            if self.text.startswith("]", pos):
                return result, pos + 1
            raise JsonSyntaxError("Expected ',' or ']' after an array element", pos)


class LineIndex:
    """Turns character offsets into 1-based (line, column) pairs."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(self, offset: int) -> Position:
        line = bisect.bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1
