"""JSONPath evaluation with the rules of AWS Step Functions (JSONPath query language).

A path starts with ``$`` (the state's data), ``$$`` (the context object) or ``$name`` (the
workflow variable ``name``). The supported syntax is the one Step Functions accepts: dot and
bracket notation, quoted names, array indexes (negative ones count from the end), unions, slices,
wildcards, recursive descent ``..``, filters ``[?(@.x > 1)]`` and a trailing ``.length()``.

Paths are compiled once (``functools.lru_cache``). Paths made only of ``.name`` and ``[int]`` steps
take a fast path that walks dicts and lists directly; filter expressions are evaluated by
jsonpath-ng (``jsonpath_ng.ext``) behind this adapter.

Result rules follow Step Functions: a *definite* path (no wildcard, filter, slice, union or
recursion) yields one value and raises :class:`~stackflow.errors.PathNotFoundError` when nothing
matches; an *indefinite* path yields the list of matches (possibly empty).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from stackflow.errors import (
    STATES_RESULT_PATH_MATCH_FAILURE,
    PathNotFoundError,
    StackflowError,
    WorkflowFailure,
)
from stackflow.types import JSON

__all__ = ["evaluate_path", "is_path", "set_path", "validate_path"]

# Step kinds of a compiled path.
_FIELD = "field"
_INDEX = "index"
_WILD = "wild"
_SLICE = "slice"
_UNION = "union"
_FILTER = "filter"
_RECURSE = "recurse"
_LENGTH = "length"

_DATA, _CONTEXT, _VARIABLE = 0, 1, 2
_NAME_STOP = frozenset(".[")
_BAD_NAME_CHARS = frozenset("]()'\" \t\n\r")


class _PathSyntaxError(StackflowError):
    """A path does not follow the JSONPath syntax (internal)."""


@dataclass(frozen=True, slots=True)
class _Step:
    """One step of a compiled path.

    Attributes:
        kind: One of the ``_FIELD`` ... ``_LENGTH`` constants.
        arg: The step argument (a name, an index, a tuple of union members, slice bounds, the
            compiled jsonpath-ng filter, or the inner step of a recursive descent).
        text: The filter text (for error messages and canonical forms).
    """

    kind: str
    arg: Any = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A parsed path.

    Attributes:
        root: ``_DATA``, ``_CONTEXT`` or ``_VARIABLE``.
        variable: The variable name for ``_VARIABLE`` roots.
        steps: The steps after the root.
        simple: Steps are only fields and integer indexes (fast path); then ``keys`` holds them.
        keys: For simple paths, each step as a ``str`` (field) or ``int`` (index).
        definite: The path selects at most one value (no wildcard, slice, union, filter, ``..``).
        canonical: The bracket form AWS prints in "No results for path" messages.
        reference: The path is a valid Reference Path (only fields and indexes, no ``length()``).
    """

    root: int
    variable: str
    steps: tuple[_Step, ...]
    simple: bool
    keys: tuple[str | int, ...]
    definite: bool
    canonical: str
    reference: bool


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


def _parse_quoted(path: str, pos: int) -> tuple[str, int]:
    """Read a quoted name starting at ``path[pos]`` (a quote); return it and the index after it.

    A backslash before the delimiting quote or before another backslash escapes it; any other
    backslash is kept literally (as Step Functions does for ``$['a\\"b']``).
    """
    quote = path[pos]
    out: list[str] = []
    i = pos + 1
    n = len(path)
    while i < n:
        c = path[i]
        if c == "\\" and i + 1 < n and path[i + 1] in (quote, "\\"):
            out.append(path[i + 1])
            i += 2
            continue
        if c == quote:
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise _PathSyntaxError(f"unterminated quoted name starting at position {pos}")


def _find_filter_end(path: str, pos: int) -> int:
    """Return the index of the ``)`` closing the filter whose ``(`` is at ``pos``."""
    depth = 0
    i = pos
    n = len(path)
    quote = ""
    while i < n:
        c = path[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise _PathSyntaxError(f"unterminated filter expression starting at position {pos}")


@lru_cache(maxsize=1024)
def _compile_filter(expr: str) -> Any:
    """Compile a filter expression ``?(...)`` with jsonpath-ng; raise on bad syntax."""
    from jsonpath_ng.ext import parse as ext_parse

    try:
        return ext_parse(f"$[{expr}]")
    except Exception as exc:  # jsonpath-ng raises several exception types
        raise _PathSyntaxError(f"invalid filter expression [{expr}]: {exc}") from None


def _parse_int(text: str, what: str) -> int:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        raise _PathSyntaxError(f"invalid {what} {text!r}") from None


def _parse_bracket(path: str, pos: int) -> tuple[_Step, int]:
    """Parse the bracket step whose ``[`` is at ``pos``; return it and the index after ``]``."""
    n = len(path)
    i = pos + 1
    while i < n and path[i] == " ":
        i += 1
    if i >= n:
        raise _PathSyntaxError(f"unterminated '[' at position {pos}")
    c = path[i]
    if c in "'\"":
        names: list[str] = []
        while True:
            name, i = _parse_quoted(path, i)
            names.append(name)
            while i < n and path[i] == " ":
                i += 1
            if i < n and path[i] == ",":
                i += 1
                while i < n and path[i] == " ":
                    i += 1
                if i >= n or path[i] not in "'\"":
                    raise _PathSyntaxError(f"expected a quoted name at position {i}")
                continue
            break
        if i >= n or path[i] != "]":
            raise _PathSyntaxError(f"expected ']' at position {i}")
        if len(names) == 1:
            return _Step(_FIELD, names[0]), i + 1
        return _Step(_UNION, tuple(names)), i + 1
    if c == "?":
        j = i + 1
        while j < n and path[j] == " ":
            j += 1
        if j >= n or path[j] != "(":
            raise _PathSyntaxError(f"expected '(' after '?' at position {j}")
        end = _find_filter_end(path, j)
        k = end + 1
        while k < n and path[k] == " ":
            k += 1
        if k >= n or path[k] != "]":
            raise _PathSyntaxError(f"expected ']' after filter at position {k}")
        text = path[i : end + 1]
        return _Step(_FILTER, _compile_filter(text), text), k + 1
    end = path.find("]", i)
    if end < 0:
        raise _PathSyntaxError(f"unterminated '[' at position {pos}")
    inner = path[i:end].strip()
    if inner == "*":
        return _Step(_WILD), end + 1
    if not inner:
        raise _PathSyntaxError(f"empty brackets at position {pos}")
    if ":" in inner:
        parts = inner.split(":")
        if len(parts) > 3:
            raise _PathSyntaxError(f"invalid slice [{inner}]")
        bounds = [None if not p.strip() else _parse_int(p, "slice bound") for p in parts]
        while len(bounds) < 3:
            bounds.append(None)
        if bounds[2] == 0:
            raise _PathSyntaxError(f"slice step cannot be zero in [{inner}]")
        return _Step(_SLICE, tuple(bounds)), end + 1
    if "," in inner:
        return _Step(_UNION, tuple(_parse_int(p, "index") for p in inner.split(","))), end + 1
    return _Step(_INDEX, _parse_int(inner, "index")), end + 1


def _parse_dot_name(path: str, pos: int) -> tuple[str, int]:
    """Read an unquoted name starting at ``pos``; return it and the index after it."""
    n = len(path)
    i = pos
    while i < n and path[i] not in _NAME_STOP:
        i += 1
    name = path[pos:i]
    if not name:
        raise _PathSyntaxError(f"expected a name at position {pos}")
    return name, i


def _parse_steps(path: str, pos: int) -> list[_Step]:
    steps: list[_Step] = []
    n = len(path)
    while pos < n:
        c = path[pos]
        if c == "[":
            step, pos = _parse_bracket(path, pos)
            steps.append(step)
        elif c == ".":
            if path.startswith("..", pos):
                pos += 2
                if pos >= n:
                    raise _PathSyntaxError("path cannot end with '..'")
                if path[pos] == "[":
                    inner, pos = _parse_bracket(path, pos)
                elif path[pos] == "*":
                    inner, pos = _Step(_WILD), pos + 1
                else:
                    name, pos = _parse_dot_name(path, pos)
                    _check_name(name)
                    inner = _Step(_FIELD, name)
                steps.append(_Step(_RECURSE, inner))
                continue
            pos += 1
            if pos < n and path[pos] == "*":
                steps.append(_Step(_WILD))
                pos += 1
                continue
            name, pos = _parse_dot_name(path, pos)
            if name == "length()" and pos == n:
                steps.append(_Step(_LENGTH))
                continue
            _check_name(name)
            steps.append(_Step(_FIELD, name))
        else:
            raise _PathSyntaxError(f"unexpected character {c!r} at position {pos}")
    return steps


def _check_name(name: str) -> None:
    bad = _BAD_NAME_CHARS.intersection(name)
    if bad:
        raise _PathSyntaxError(f"invalid character {sorted(bad)[0]!r} in name {name!r}")


def _canonical(steps: list[_Step]) -> str:
    parts = ["$"]
    for step in steps:
        if step.kind == _FIELD:
            parts.append(f"['{step.arg}']")
        elif step.kind == _INDEX:
            parts.append(f"[{step.arg}]")
        elif step.kind == _WILD:
            parts.append("[*]")
        elif step.kind == _LENGTH:
            parts.append(".length()")
        elif step.kind == _UNION:
            parts.append(
                "[" + ",".join(f"'{a}'" if isinstance(a, str) else str(a) for a in step.arg) + "]"
            )
        elif step.kind == _SLICE:
            parts.append("[" + ":".join("" if b is None else str(b) for b in step.arg) + "]")
        elif step.kind == _FILTER:
            parts.append(f"[{step.text}]")
        else:  # recursive descent
            parts.append(".." + _canonical([step.arg])[1:])
    return "".join(parts)


@lru_cache(maxsize=8192)
def _compile(path: str) -> _Compiled:
    """Parse ``path``; raise ``_PathSyntaxError`` if it is not a valid path."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise _PathSyntaxError("a path must start with '$'")
    variable = ""
    if path.startswith("$$"):
        root, pos = _CONTEXT, 2
    elif len(path) == 1 or path[1] in ".[":
        root, pos = _DATA, 1
    else:
        root = _VARIABLE
        pos = 1
        while pos < len(path) and (path[pos].isalnum() or path[pos] == "_"):
            pos += 1
        variable = path[1:pos]
        if not variable:
            raise _PathSyntaxError(f"unexpected character {path[1]!r} at position 1")
    steps = _parse_steps(path, pos)
    simple = all(s.kind in (_FIELD, _INDEX) for s in steps)
    definite = all(s.kind in (_FIELD, _INDEX, _LENGTH) for s in steps)
    keys: tuple[str | int, ...] = tuple(s.arg for s in steps) if simple else ()
    return _Compiled(
        root=root,
        variable=variable,
        steps=tuple(steps),
        simple=simple,
        keys=keys,
        definite=definite,
        canonical=_canonical(steps),
        reference=simple,
    )


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


def _descendants(value: JSON, out: list[JSON]) -> None:
    """Append ``value`` and every value nested in it (pre-order) to ``out``."""
    out.append(value)
    if isinstance(value, dict):
        for v in value.values():
            _descendants(v, out)
    elif isinstance(value, list):
        for v in value:
            _descendants(v, out)


def _apply(step: _Step, nodes: list[JSON]) -> list[JSON]:
    """Apply one step to every node of an indefinite evaluation."""
    out: list[JSON] = []
    kind = step.kind
    for node in nodes:
        if kind == _FIELD:
            if isinstance(node, dict) and step.arg in node:
                out.append(node[step.arg])
        elif kind == _INDEX:
            if isinstance(node, list) and -len(node) <= step.arg < len(node):
                out.append(node[step.arg])
        elif kind == _WILD:
            if isinstance(node, dict):
                out.extend(node.values())
            elif isinstance(node, list):
                out.extend(node)
        elif kind == _SLICE:
            if isinstance(node, list):
                start, stop, stride = step.arg
                out.extend(node[start:stop:stride])
        elif kind == _UNION:
            for member in step.arg:
                if isinstance(member, str):
                    if isinstance(node, dict) and member in node:
                        out.append(node[member])
                elif isinstance(node, list) and -len(node) <= member < len(node):
                    out.append(node[member])
        elif kind == _FILTER:
            candidates = (
                node if isinstance(node, list) else [node] if isinstance(node, dict) else []
            )
            if candidates:
                out.extend(m.value for m in step.arg.find(candidates))
        elif kind == _RECURSE:
            everything: list[JSON] = []
            _descendants(node, everything)
            out.extend(_apply(step.arg, everything))
    return out


def _length(value: JSON, path: str, canonical: str) -> int:
    if isinstance(value, list | dict | str):
        return len(value)
    raise PathNotFoundError(path, canonical)


def _variable_value(compiled: _Compiled, path: str, variables: Mapping[str, JSON] | None) -> JSON:
    if variables is None or compiled.variable not in variables:
        raise PathNotFoundError(path, compiled.canonical)
    return variables[compiled.variable]


def evaluate_path(
    path: str,
    data: JSON,
    *,
    context: JSON = None,
    variables: Mapping[str, JSON] | None = None,
) -> JSON:
    """Evaluate an ASL path against the state data, the context object or a variable.

    Args:
        path: The path: ``$...`` (data), ``$$...`` (context object) or ``$name...`` (variable).
        data: The state data (the effective input).
        context: The context object, used by ``$$`` paths.
        variables: Workflow variables in scope, used by ``$name`` paths.

    Returns:
        For a definite path, the selected value (not copied); for an indefinite path, the list
        of matches (possibly empty).

    Raises:
        PathNotFoundError: A definite path matched nothing, or the variable is not defined.
        ValueError: The path is not syntactically valid.
    """
    try:
        compiled = _compile(path)
    except _PathSyntaxError as exc:
        raise ValueError(f"Invalid JSONPath {path!r}: {exc}") from None
    root = compiled.root
    if root == _DATA:
        cur = data
    elif root == _CONTEXT:
        cur = context
    else:
        cur = _variable_value(compiled, path, variables)
    if compiled.simple:
        for key in compiled.keys:
            if isinstance(key, str):
                if isinstance(cur, dict):
                    try:
                        cur = cur[key]
                        continue
                    except KeyError:
                        pass
                raise PathNotFoundError(path, compiled.canonical)
            if isinstance(cur, list) and -len(cur) <= key < len(cur):
                cur = cur[key]
                continue
            raise PathNotFoundError(path, compiled.canonical)
        return cur
    steps = compiled.steps
    has_length = steps[-1].kind == _LENGTH
    if has_length:
        steps = steps[:-1]
    if compiled.definite:
        node = cur
        for step in steps:
            matches = _apply(step, [node])
            if not matches:
                raise PathNotFoundError(path, compiled.canonical)
            node = matches[0]
        return _length(node, path, compiled.canonical) if has_length else node
    nodes = [cur]
    for step in steps:
        nodes = _apply(step, nodes)
        if not nodes:
            break
    return len(nodes) if has_length else nodes


def is_definite(path: str) -> bool:
    """Tell whether ``path`` selects at most one value (no wildcard, filter, slice, union, ``..``).

    Args:
        path: A syntactically valid path.

    Returns:
        True for a definite path.

    Raises:
        ValueError: The path is not syntactically valid.
    """
    try:
        return _compile(path).definite
    except _PathSyntaxError as exc:
        raise ValueError(f"Invalid JSONPath {path!r}: {exc}") from None


def is_path(value: object) -> bool:
    """Tell whether ``value`` looks like a path (a string starting with ``$``).

    Args:
        value: Any value.

    Returns:
        True if ``value`` is a string starting with ``$``.
    """
    return isinstance(value, str) and value.startswith("$")


def validate_path(
    path: str,
    *,
    allow_context: bool = True,
    allow_variables: bool = True,
    reference_only: bool = False,
) -> str | None:
    """Check the syntax of a path for the static validator.

    Args:
        path: The path as written in the definition.
        allow_context: Accept ``$$`` paths.
        allow_variables: Accept ``$name`` (variable) paths.
        reference_only: Require a Reference Path (as for ResultPath): only ``.name``,
            ``['name']`` and ``[index]`` steps, and no ``$$``.

    Returns:
        None if the path is valid, else a message saying what is wrong.
    """
    if not isinstance(path, str):
        return "expected a string"
    try:
        compiled = _compile(path)
    except _PathSyntaxError as exc:
        return f"The value {path!r} is not a valid JSONPath: {exc}"
    if compiled.root == _CONTEXT and (reference_only or not allow_context):
        return (
            f"The value {path!r} is not a valid JSONPath: "
            "context object paths ($$) are not allowed here"
        )
    if compiled.root == _VARIABLE and not allow_variables:
        return f"The value {path!r} is not a valid JSONPath: variables are not allowed here"
    if reference_only and not compiled.reference:
        return (
            f"The value {path!r} is not a valid ReferencePath: only '.name', \"['name']\" and "
            "'[index]' steps are allowed (no wildcards, filters, slices, unions, '..' or functions)"
        )
    return None


# ---------------------------------------------------------------------------------------------
# ResultPath
# ---------------------------------------------------------------------------------------------


def _match_failure(path: str, data: JSON) -> WorkflowFailure:
    compact = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    cause = (
        f"Unable to apply ReferencePath {path} to input {json.dumps(compact, ensure_ascii=False)}"
    )
    return WorkflowFailure(STATES_RESULT_PATH_MATCH_FAILURE, cause)


def set_path(data: JSON, path: str, value: JSON) -> JSON:
    """Place ``value`` into ``data`` at a Reference Path (the ResultPath rule).

    ``$`` replaces the whole data. Otherwise a new structure is returned: containers along the
    path are copied (the input is never mutated) and missing objects are created.

    Args:
        data: The state input.
        path: A Reference Path, e.g. ``$.result`` or ``$.a.b[0]``.
        value: The value to place.

    Returns:
        The new data.

    Raises:
        WorkflowFailure: ``States.ResultPathMatchFailure`` when an intermediate value exists and
            is not an object (or an index does not exist).
        ValueError: The path is not a valid Reference Path.
    """
    try:
        compiled = _compile(path)
    except _PathSyntaxError as exc:
        raise ValueError(f"Invalid ResultPath {path!r}: {exc}") from None
    if not compiled.reference or compiled.root != _DATA:
        raise ValueError(f"Invalid ResultPath {path!r}: not a reference path")
    keys = compiled.keys
    if not keys:
        return value
    return _set_in(data, keys, 0, value, path, data)


def _set_in(
    node: JSON, keys: tuple[str | int, ...], i: int, value: JSON, path: str, data: JSON
) -> JSON:
    key = keys[i]
    last = i == len(keys) - 1
    if isinstance(key, str):
        if not isinstance(node, dict):
            raise _match_failure(path, data)
        new = dict(node)
        if last:
            new[key] = value
        else:
            child = node.get(key)
            if key not in node:
                child = {}
            new[key] = _set_in(child, keys, i + 1, value, path, data)
        return new
    if not isinstance(node, list) or not -len(node) <= key < len(node):
        raise _match_failure(path, data)
    new_list = list(node)
    new_list[key] = value if last else _set_in(node[key], keys, i + 1, value, path, data)
    return new_list
