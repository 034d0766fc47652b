"""Load Amazon States Language definitions (JSON or YAML) together with a source map.

The source map records the 1-based line and column of every key and value of the document by its
RFC 6901 JSON pointer, so validation problems can name the exact place of a mistake. Loading is
pure: :func:`load_definition` takes text; only :func:`load_definition_file` reads a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stackflow.errors import DefinitionError, Problem, SourceLocation
from stackflow.sourcemap import JsonScanner as _JsonScanner
from stackflow.sourcemap import JsonSyntaxError as _JsonSyntaxError
from stackflow.sourcemap import LineIndex as _LineIndex
from stackflow.sourcemap import Position, SourceMap, escape_pointer_token, join_pointer

__all__ = [
    "DUPLICATE_KEY",
    "DUPLICATE_STATE_NAME",
    "INVALID_JSON_DESCRIPTION",
    "LoadedDefinition",
    "Position",
    "SourceMap",
    "escape_pointer_token",
    "from_object",
    "join_pointer",
    "load_definition",
    "load_definition_file",
]

#: Problem code of a syntax error in the definition text (AWS's name for it).
INVALID_JSON_DESCRIPTION = "INVALID_JSON_DESCRIPTION"
#: Problem code of a key that appears twice in the same object.
DUPLICATE_KEY = "DUPLICATE_KEY"
#: Problem code of a state name that appears twice (AWS's name for it).
DUPLICATE_STATE_NAME = "DUPLICATE_STATE_NAME"


@dataclass(frozen=True)
class LoadedDefinition:
    """A parsed definition and where each of its parts came from.

    Attributes:
        document: The definition as plain JSON-compatible Python values.
        source_map: Positions of its keys and values.
    """

    document: dict[str, Any]
    source_map: SourceMap

    def locate(self, pointer: str) -> SourceLocation:
        """Return the location of ``pointer`` (see :meth:`SourceMap.locate`).

        Args:
            pointer: An RFC 6901 JSON pointer.

        Returns:
            The location, with line and column when known.
        """
        return self.source_map.locate(pointer)


# --------------------------------------------------------------------------------------------
# JSON scanner with positions


def _duplicate_problem(
    file: str | None, pointer: str, key: str, first: Position, second: Position
) -> Problem:
    parent = pointer.rsplit("/", 1)[0]
    is_state = parent.endswith("/States") or parent == "/States"
    what = f'State name "{key}"' if is_state else f'Key "{key}"'
    return Problem(
        SourceLocation(file, second[0], second[1], pointer),
        f"{what} appears more than once in the same object "
        f"(first at line {first[0]}, column {first[1]}).",
        DUPLICATE_STATE_NAME if is_state else DUPLICATE_KEY,
    )


def _load_json(text: str, file: str | None) -> LoadedDefinition:
    scanner = _JsonScanner(text)
    index = _LineIndex(text)
    document = scanner.parse()
    if scanner.duplicates:
        raise DefinitionError(
            [
                _duplicate_problem(file, ptr, key, index.position(first), index.position(second))
                for ptr, key, first, second in scanner.duplicates
            ]
        )
    source_map = SourceMap(
        file,
        {p: index.position(o) for p, o in scanner.keys.items()},
        {p: index.position(o) for p, o in scanner.values.items()},
    )
    return _finish(document, source_map)


# --------------------------------------------------------------------------------------------
# YAML


_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Scalars kept as their text: ASL has no dates or binary values.
_KEEP_AS_TEXT = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}


class _YamlBuilder:
    def __init__(self, file: str | None) -> None:
        self.file = file
        self.keys: dict[str, Position] = {}
        self.values: dict[str, Position] = {}
        self.problems: list[Problem] = []
        self.constructor = yaml.SafeLoader("")
        self.active: set[int] = set()

    @staticmethod
    def _pos(node: yaml.Node) -> Position:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def build(self, node: yaml.Node, pointer: str) -> Any:
        self.values[pointer] = self._pos(node)
        if id(node) in self.active:
            self.problems.append(
                Problem(
                    self._location(node, pointer),
                    "A YAML alias refers to itself.",
                    INVALID_JSON_DESCRIPTION,
                )
            )
            return None
        if isinstance(node, yaml.MappingNode):
            self.active.add(id(node))
            try:
                return self._mapping(node, pointer)
            finally:
                self.active.discard(id(node))
        if isinstance(node, yaml.SequenceNode):
            self.active.add(id(node))
            try:
                return [
                    self.build(item, join_pointer(pointer, i)) for i, item in enumerate(node.value)
                ]
            finally:
                self.active.discard(id(node))
        if node.tag in _KEEP_AS_TEXT:
            return node.value
        return self.constructor.construct_object(node, deep=True)

    def _location(self, node: yaml.Node, pointer: str) -> SourceLocation:
        line, column = self._pos(node)
        return SourceLocation(self.file, line, column, pointer)

    def _mapping(self, node: yaml.MappingNode, pointer: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, Position] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(
                    Problem(
                        self._location(key_node, pointer),
                        "Keys must be plain strings, not lists or mappings.",
                        INVALID_JSON_DESCRIPTION,
                    )
                )
                continue
            key = str(key_node.value)
            child = join_pointer(pointer, key)
            key_pos = self._pos(key_node)
            if key in first_seen:
                self.problems.append(
                    _duplicate_problem(self.file, child, key, first_seen[key], key_pos)
                )
                continue
            first_seen[key] = key_pos
            self.keys[child] = key_pos
            result[key] = self.build(value_node, child)
        return result


def _load_yaml(text: str, file: str | None) -> LoadedDefinition:
    try:
        node = yaml.compose(text, Loader=_YAML_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        detail = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise DefinitionError(
            [
                Problem(
                    SourceLocation(file, line, column, ""),
                    f"Invalid YAML: {detail}.",
                    INVALID_JSON_DESCRIPTION,
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise DefinitionError(
            [
                Problem(
                    SourceLocation(file, None, None, ""),
                    f"Invalid YAML: {exc}.",
                    INVALID_JSON_DESCRIPTION,
                )
            ]
        ) from None
    if node is None:
        raise DefinitionError(
            [
                Problem(
                    SourceLocation(file, 1, 1, ""),
                    "The definition is empty; expected an object with StartAt and States.",
                    INVALID_JSON_DESCRIPTION,
                )
            ]
        )
    builder = _YamlBuilder(file)
    document = builder.build(node, "")
    if builder.problems:
        raise DefinitionError(builder.problems)
    return _finish(document, SourceMap(file, builder.keys, builder.values))


# --------------------------------------------------------------------------------------------
# Public entry points


def _finish(document: Any, source_map: SourceMap) -> LoadedDefinition:
    if not isinstance(document, dict):
        raise DefinitionError(
            [
                Problem(
                    source_map.locate_value(""),
                    f"The definition must be an object with StartAt and States, "
                    f"not {_json_type(document)}.",
                    INVALID_JSON_DESCRIPTION,
                )
            ]
        )
    return LoadedDefinition(document, source_map)


def _json_type(value: Any) -> str:
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


def load_definition(text: str, *, file: str | None = None) -> LoadedDefinition:
    """Parse an ASL definition written in JSON or YAML and record where each part is.

    Text starting with ``{`` (and any file named ``*.json``) is read as JSON; anything else as
    YAML.

    Args:
        text: The definition text.
        file: The file name to put in locations, if the text came from a file.

    Returns:
        The document with its source map.

    Raises:
        DefinitionError: On a syntax error (with its line and column), a duplicate key, or a top
            level that is not an object.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    stripped = text.lstrip()
    if not stripped:
        raise DefinitionError(
            [
                Problem(
                    SourceLocation(file, None, None, ""),
                    "The definition is empty; expected an object with StartAt and States.",
                    "MISSING_DESCRIPTION",
                )
            ]
        )
    json_only = bool(file) and str(file).lower().endswith(".json")
    if stripped.startswith("{") or json_only:
        try:
            return _load_json(text, file)
        except _JsonSyntaxError as exc:
            line, column = _LineIndex(text).position(exc.offset)
            raise DefinitionError(
                [
                    Problem(
                        SourceLocation(file, line, column, ""),
                        f"Invalid JSON: {exc.message}.",
                        INVALID_JSON_DESCRIPTION,
                    )
                ]
            ) from None
    return _load_yaml(text, file)


def from_object(document: dict[str, Any]) -> LoadedDefinition:
    """Wrap a definition given as a Python object (no positions are known).

    Args:
        document: The definition as a dict.

    Returns:
        A loaded definition whose locations carry pointers but no line or column.

    Raises:
        DefinitionError: If ``document`` is not a dict.
    """
    return _finish(document, SourceMap(None))


def load_definition_file(path: str | Path) -> LoadedDefinition:
    """Read a definition file and load it (see :func:`load_definition`).

    Args:
        path: Path of a JSON or YAML file.

    Returns:
        The document with its source map naming the file.

    Raises:
        DefinitionError: If the file's content is not a valid definition document.
        OSError: If the file cannot be read.
    """
    text = Path(path).read_text(encoding="utf-8")
    return load_definition(text, file=str(path))
