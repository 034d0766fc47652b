"""Parser of intrinsic function calls (``States.Format('{}', $.x)`` and friends).

The grammar follows the Amazon States Language: a call is ``States.Name(arg, ...)``; an argument
is a string literal in single quotes (escapes ``\\'`` ``\\{`` ``\\}`` ``\\\\``), a number,
``true``/``false``/``null``, a path (``$.x``, ``$$.x``, ``$var``) or a nested call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeAlias

from stackflow.errors import StackflowError
from stackflow.types import JSON
from stackflow.workflow.asl.jsonpath import validate_path

__all__ = [
    "FUNCTION_ARITY",
    "Argument",
    "IntrinsicCall",
    "IntrinsicSyntaxError",
    "Literal",
    "PathArgument",
    "is_intrinsic",
    "parse_intrinsic",
]


class IntrinsicSyntaxError(StackflowError):
    """An intrinsic function call is malformed, names an unknown function or has a wrong arity."""


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal argument.

    Attributes:
        value: The value (string without quotes and escapes, number, bool or None).
        raw: For string literals, the text between the quotes with escapes kept (``States.Format``
            needs it to tell ``\\{`` from ``{``); None for other literals.
    """

    value: JSON
    raw: str | None = None


@dataclass(frozen=True, slots=True)
class PathArgument:
    """A path argument (``$.x``, ``$$.x``, ``$var``).

    Attributes:
        path: The path text.
    """

    path: str


@dataclass(frozen=True, slots=True)
class IntrinsicCall:
    """A parsed intrinsic function call.

    Attributes:
        name: The full function name, e.g. ``States.Format``.
        args: The arguments, each a :class:`Literal`, :class:`PathArgument` or nested call.
        text: The source text of the call.
    """

    name: str
    args: tuple[Argument, ...]
    text: str = ""


Argument: TypeAlias = Literal | PathArgument | IntrinsicCall

#: Minimum and maximum number of arguments of each function (None: no maximum).
FUNCTION_ARITY: dict[str, tuple[int, int | None]] = {
    "States.Format": (1, None),
    "States.StringToJson": (1, 1),
    "States.JsonToString": (1, 1),
    "States.Array": (0, None),
    "States.ArrayPartition": (2, 2),
    "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3),
    "States.ArrayGetItem": (2, 2),
    "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1),
    "States.Base64Encode": (1, 1),
    "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2),
    "States.JsonMerge": (3, 3),
    "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2),
    "States.StringSplit": (2, 2),
    "States.UUID": (0, 0),
}

_CALL_SHAPE = re.compile(r"^\s*States\.[A-Za-z0-9]+\s*\(.*\)\s*$", re.DOTALL)
_NAME = re.compile(r"States\.[A-Za-z0-9]+")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_KEYWORDS: dict[str, JSON] = {"true": True, "false": False, "null": None}
_ESCAPES = {"'": "'", "{": "{", "}": "}", "\\": "\\"}


def is_intrinsic(value: object) -> bool:
    """Tell whether ``value`` has the shape of an intrinsic call, ``States.Name(...)``.

    Args:
        value: Any value.

    Returns:
        True for a string of the form ``States.Name(...)``.
    """
    return isinstance(value, str) and value.startswith("States.") and bool(_CALL_SHAPE.match(value))


class _Parser:
    """Recursive-descent parser over one expression string."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> IntrinsicSyntaxError:
        return IntrinsicSyntaxError(
            f"Invalid intrinsic function {self.text!r}: {message} (at position {self.pos})"
        )

    def skip_spaces(self) -> None:
        text = self.text
        while self.pos < len(text) and text[self.pos] in " \t\r\n":
            self.pos += 1

    def call(self) -> IntrinsicCall:
        start = self.pos
        match = _NAME.match(self.text, self.pos)
        if not match:
            raise self.error("expected a function name such as 'States.Format'")
        name = match.group(0)
        if name not in FUNCTION_ARITY:
            raise self.error(f"unknown intrinsic function '{name}'")
        self.pos = match.end()
        self.skip_spaces()
        if self.pos >= len(self.text) or self.text[self.pos] != "(":
            raise self.error(f"expected '(' after '{name}'")
        self.pos += 1
        args: list[Argument] = []
        self.skip_spaces()
        if self.pos < len(self.text) and self.text[self.pos] == ")":
            self.pos += 1
        else:
            while True:
                self.skip_spaces()
                args.append(self.argument())
                self.skip_spaces()
                if self.pos >= len(self.text):
                    raise self.error(f"missing ')' to close '{name}('")
                c = self.text[self.pos]
                self.pos += 1
                if c == ")":
                    break
                if c != ",":
                    self.pos -= 1
                    raise self.error(f"expected ',' or ')' but found {c!r}")
        low, high = FUNCTION_ARITY[name]
        if len(args) < low or (high is not None and len(args) > high):
            if high is None:
                expected = f"at least {low}"
            elif low == high:
                expected = str(low)
            else:
                expected = f"{low} to {high}"
            raise IntrinsicSyntaxError(
                f"Invalid intrinsic function {self.text!r}: '{name}' takes {expected} "
                f"argument(s) but {len(args)} were given"
            )
        return IntrinsicCall(name, tuple(args), self.text[start : self.pos])

    def argument(self) -> Argument:
        text = self.text
        if self.pos >= len(text):
            raise self.error("expected an argument")
        c = text[self.pos]
        if c == "'":
            return self.string()
        if c == "$":
            return self.path()
        if text.startswith("States.", self.pos):
            return self.call()
        match = _NUMBER.match(text, self.pos)
        if match:
            self.pos = match.end()
            literal = match.group(0)
            if any(ch in literal for ch in ".eE"):
                return Literal(float(literal))
            return Literal(int(literal))
        for word, value in _KEYWORDS.items():
            if text.startswith(word, self.pos):
                end = self.pos + len(word)
                if end >= len(text) or not (text[end].isalnum() or text[end] == "_"):
                    self.pos = end
                    return Literal(value)
        if c in ",)":
            raise self.error("expected an argument")
        raise self.error(f"unexpected character {c!r}")

    def string(self) -> Literal:
        text = self.text
        start = self.pos + 1
        i = start
        out: list[str] = []
        while i < len(text):
            c = text[i]
            if c == "\\":
                nxt = text[i + 1] if i + 1 < len(text) else ""
                if nxt not in _ESCAPES:
                    self.pos = i
                    raise self.error(
                        "invalid escape sequence in string literal "
                        "(only \\' \\{ \\} and \\\\ are allowed)"
                    )
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if c == "'":
                self.pos = i + 1
                return Literal("".join(out), text[start:i])
            out.append(c)
            i += 1
        self.pos = start - 1
        raise self.error("unterminated string literal")

    def path(self) -> PathArgument:
        text = self.text
        start = self.pos
        i = start
        depth = 0
        quote = ""
        while i < len(text):
            c = text[i]
            if quote:
                if c == "\\":
                    i += 2
                    continue
                if c == quote:
                    quote = ""
            elif c in "'\"" and depth > 0:
                quote = c
            elif c in "[(":
                depth += 1
            elif c in "])":
                if depth == 0:
                    break
                depth -= 1
            elif c == "," and depth == 0:
                break
            i += 1
        path = text[start:i].rstrip()
        self.pos = start + len(path)
        problem = validate_path(path)
        if problem:
            raise self.error(problem)
        return PathArgument(path)


@lru_cache(maxsize=4096)
def parse_intrinsic(expr: str) -> IntrinsicCall:
    """Parse an intrinsic function call.

    Args:
        expr: The expression, e.g. ``States.Format('Hello {}', $.name)``.

    Returns:
        The call tree (cached per expression string).

    Raises:
        IntrinsicSyntaxError: Bad syntax, an unknown function or a wrong number of arguments.
    """
    if not isinstance(expr, str):
        raise IntrinsicSyntaxError(f"Invalid intrinsic function {expr!r}: expected a string")
    parser = _Parser(expr)
    parser.skip_spaces()
    call = parser.call()
    parser.skip_spaces()
    if parser.pos != len(expr):
        raise parser.error("unexpected text after the closing ')'")
    return call
