"""Load CloudFormation-language templates (JSON, or YAML with short-form tags) with a source map.

YAML short forms (``!Ref``, ``!GetAtt a.b``, ``!Sub``, ...) become their long JSON forms. As in
CloudFormation, duplicate keys and YAML anchors/aliases are errors and dates such as ``2010-09-09``
stay strings. Every problem names file:line:column and the JSON pointer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stackflow.errors import Problem, SourceLocation, TemplateError
from stackflow.sourcemap import (
    JsonScanner,
    JsonSyntaxError,
    LineIndex,
    Position,
    SourceMap,
    join_pointer,
)

#: Short-form YAML tags and the long-form function each stands for.
SHORT_TAGS = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    **{
        f"!{name}": f"Fn::{name}"
        for name in (
            "Base64",
            "Cidr",
            "FindInMap",
            "GetAtt",
            "GetAZs",
            "ImportValue",
            "Join",
            "Select",
            "Split",
            "Sub",
            "Transform",
            "And",
            "Equals",
            "If",
            "Not",
            "Or",
            "Length",
            "ToJsonString",
            "ForEach",
            "Contains",
            "EachMemberEquals",
            "EachMemberIn",
            "RefAll",
            "ValueOf",
            "ValueOfAll",
            "Implies",
        )
    },
}

_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_KEEP_AS_TEXT = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}
_CODE = "TEMPLATE_SYNTAX"


@dataclass(frozen=True)
class LoadedTemplate:
    """A parsed template and where each of its parts came from.

    Attributes:
        document: The template as plain JSON-compatible values (long-form intrinsics).
        source_map: Positions of its keys and values.
    """

    document: dict[str, Any]
    source_map: SourceMap

    def locate(self, pointer: str) -> SourceLocation:
        """Return the location of ``pointer`` (nearest known ancestor when not recorded).

        Args:
            pointer: An RFC 6901 JSON pointer.

        Returns:
            The location with file, line and column when known.
        """
        return self.source_map.locate(pointer)


def _error(file: str | None, pos: Position | None, pointer: str, message: str) -> Problem:
    line, column = pos if pos else (None, None)
    return Problem(SourceLocation(file, line, column, pointer), message, _CODE)


class _YamlBuilder:
    def __init__(self, file: str | None) -> None:
        self.file = file
        self.keys: dict[str, Position] = {}
        self.values: dict[str, Position] = {}
        self.problems: list[Problem] = []
        self.constructor = yaml.SafeLoader("")
        self.seen: set[int] = set()

    @staticmethod
    def _pos(node: yaml.Node) -> Position:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def build(self, node: yaml.Node, pointer: str) -> Any:
        pos = self._pos(node)
        self.values[pointer] = pos
        if id(node) in self.seen and not isinstance(node, yaml.ScalarNode):
            self.problems.append(
                _error(self.file, pos, pointer, "YAML aliases are not supported in templates.")
            )
            return None
        self.seen.add(id(node))
        tag = node.tag
        if tag in SHORT_TAGS:
            return self._short_form(node, SHORT_TAGS[tag], pointer)
        if isinstance(tag, str) and tag.startswith("!"):
            self.problems.append(
                _error(
                    self.file,
                    pos,
                    pointer,
                    f"Unknown YAML tag {tag}; expected one of {', '.join(sorted(SHORT_TAGS))}.",
                )
            )
            return None
        return self._plain(node, pointer)

    def _plain(self, node: yaml.Node, pointer: str) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, pointer)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, join_pointer(pointer, i)) for i, item in enumerate(node.value)]
        if node.tag in _KEEP_AS_TEXT:
            return node.value
        return self.constructor.construct_object(node, deep=True)

    def _short_form(self, node: yaml.Node, name: str, pointer: str) -> Any:
        inner = join_pointer(pointer, name)
        self.values[inner] = self._pos(node)
        if isinstance(node, yaml.ScalarNode):
            text = str(node.value)
            if name == "Fn::GetAtt":
                logical, _, attribute = text.partition(".")
                return {name: [logical, attribute] if attribute else text}
            return {name: text}
        if isinstance(node, yaml.SequenceNode):
            items = [self.build(item, join_pointer(inner, i)) for i, item in enumerate(node.value)]
            return {name: items}
        return {name: self._mapping(node, inner)}  # type: ignore[arg-type]

    def _mapping(self, node: yaml.MappingNode, pointer: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, Position] = {}
        for key_node, value_node in node.value:
            key_pos = self._pos(key_node)
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag in SHORT_TAGS:
                self.problems.append(
                    _error(self.file, key_pos, pointer, "Keys must be plain strings.")
                )
                continue
            key = str(key_node.value)
            child = join_pointer(pointer, key)
            if key in first_seen:
                first = first_seen[key]
                self.problems.append(
                    _error(
                        self.file,
                        key_pos,
                        child,
                        f'Key "{key}" appears more than once in the same mapping '
                        f"(first at line {first[0]}, column {first[1]}).",
                    )
                )
                continue
            first_seen[key] = key_pos
            self.keys[child] = key_pos
            result[key] = self.build(value_node, child)
        return result


def _check_anchors(text: str, file: str | None) -> list[Problem]:
    if "&" not in text and "*" not in text:
        return []
    problems = []
    for event in yaml.parse(text, Loader=_YAML_LOADER):
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent) or anchor:
            mark = event.start_mark
            assert mark is not None
            kind = "alias" if isinstance(event, yaml.AliasEvent) else "anchor"
            problems.append(
                _error(
                    file,
                    (mark.line + 1, mark.column + 1),
                    "",
                    f"YAML {kind} '{anchor}' is not supported in templates "
                    "(CloudFormation does not allow anchors or aliases).",
                )
            )
    return problems


def _load_yaml(text: str, file: str | None) -> LoadedTemplate:
    try:
        problems = _check_anchors(text, file)
        node = yaml.compose(text, Loader=_YAML_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = (mark.line + 1, mark.column + 1) if mark else None
        detail = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise TemplateError([_error(file, pos, "", f"Invalid YAML: {detail}.")]) from None
    except yaml.YAMLError as exc:
        raise TemplateError([_error(file, None, "", f"Invalid YAML: {exc}.")]) from None
    if problems:
        raise TemplateError(problems)
    if node is None:
        raise TemplateError([_error(file, (1, 1), "", "The template is empty.")])
    builder = _YamlBuilder(file)
    document = builder.build(node, "")
    if builder.problems:
        raise TemplateError(builder.problems)
    return _finish(document, SourceMap(file, builder.keys, builder.values))


def _load_json(text: str, file: str | None) -> LoadedTemplate:
    scanner = JsonScanner(text)
    index = LineIndex(text)
    try:
        document = scanner.parse()
    except JsonSyntaxError as exc:
        pos = index.position(exc.offset)
        raise TemplateError([_error(file, pos, "", f"Invalid JSON: {exc.message}.")]) from None
    if scanner.duplicates:
        problems = []
        for pointer, key, first, second in scanner.duplicates:
            line, column = index.position(first)
            problems.append(
                _error(
                    file,
                    index.position(second),
                    pointer,
                    f'Key "{key}" appears more than once in the same object '
                    f"(first at line {line}, column {column}).",
                )
            )
        raise TemplateError(problems)
    source_map = SourceMap(
        file,
        {p: index.position(o) for p, o in scanner.keys.items()},
        {p: index.position(o) for p, o in scanner.values.items()},
    )
    return _finish(document, source_map)


def _finish(document: Any, source_map: SourceMap) -> LoadedTemplate:
    if not isinstance(document, dict):
        raise TemplateError(
            [
                Problem(
                    source_map.locate_value(""),
                    "A template must be an object (a mapping) with a Resources section.",
                    _CODE,
                )
            ]
        )
    return LoadedTemplate(document, source_map)


def load_template(text: str, *, file: str | None = None) -> LoadedTemplate:
    """Parse a template written in JSON or YAML and record where each part is.

    Text starting with ``{`` (and any ``*.json`` file) is read as JSON, anything else as YAML
    with CloudFormation's short-form tags.

    Args:
        text: The template text.
        file: File name to put in locations.

    Returns:
        The document (long-form intrinsics) with its source map.

    Raises:
        TemplateError: On a syntax error, a duplicate key, an anchor or alias, an unknown tag,
            or a top level that is not an object; each problem has line and column.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    stripped = text.lstrip()
    if not stripped:
        raise TemplateError([_error(file, None, "", "The template is empty.")])
    json_only = bool(file) and str(file).lower().endswith(".json")
    if stripped.startswith("{") or json_only:
        return _load_json(text, file)
    return _load_yaml(text, file)


def from_document(document: dict[str, Any]) -> LoadedTemplate:
    """Wrap a template given as a Python object (locations carry pointers only).

    Args:
        document: The template as a dict.

    Returns:
        The loaded template.

    Raises:
        TemplateError: If ``document`` is not a dict.
    """
    return _finish(document, SourceMap(None))


def load_template_file(path: str | Path) -> LoadedTemplate:
    """Read a template file and load it (see :func:`load_template`).

    Args:
        path: Path of a JSON or YAML template.

    Returns:
        The loaded template whose locations name the file.

    Raises:
        TemplateError: If the content is not a valid template document.
        OSError: If the file cannot be read.
    """
    text = Path(path).read_text(encoding="utf-8")
    return load_template(text, file=str(path))
