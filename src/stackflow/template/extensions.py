"""``AWS::LanguageExtensions``: Fn::ForEach expansion and the transform's partial evaluation.

:func:`expand_foreach` replicates ``Fn::ForEach::<Name>`` blocks (in Conditions, Resources,
Outputs and inside resource bodies). :func:`expand_template` is the whole transform as AWS runs
it: ForEach, then every intrinsic function that can be resolved from the template alone
(parameter defaults, mappings, conditions, Fn::Length, Fn::ToJsonString, Fn::FindInMap with
DefaultValue...) is resolved; the rest (resource references, pseudo parameters, parameters
without defaults) is left as written.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from stackflow.errors import TemplateError
from stackflow.sourcemap import SourceMap, join_pointer
from stackflow.template.conditions import ConditionTable, check_mappings
from stackflow.template.intrinsics import Evaluator, Residual, is_opaque, to_expr
from stackflow.template.model import NO_VALUE, PSEUDO_PARAMETERS, template_error
from stackflow.template.parameters import is_list_type
from stackflow.template.sub import IntrinsicError, to_text

FOREACH_PREFIX = "Fn::ForEach::"
_SECTIONS = ("Conditions", "Resources", "Outputs")

Collection = Callable[[Any, str], Any]


def expand_foreach(
    document: dict[str, Any], collection: Collection, locate: Callable[[str], Any]
) -> dict[str, Any]:
    """Replicate every ``Fn::ForEach`` block of a template.

    Args:
        document: The template (not modified).
        collection: Evaluates a loop's collection (node, pointer) to a list.
        locate: Maps a JSON pointer to a SourceLocation.

    Returns:
        A new template with the loops expanded.

    Raises:
        TemplateError: For a malformed loop, a collection that is not a list of strings, or
            two loop iterations producing the same key.
    """
    if not any(_has_foreach(document.get(s)) for s in _SECTIONS):
        return document
    result = dict(document)
    for section in _SECTIONS:
        if section in document:
            expanded = _expand(document[section], "/" + section, collection, locate)
            if expanded or section == "Resources" or not _has_foreach(document[section]):
                result[section] = expanded
            else:
                del result[section]
    return result


def _has_foreach(node: Any) -> bool:
    if isinstance(node, dict):
        return any(k.startswith(FOREACH_PREFIX) or _has_foreach(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_has_foreach(v) for v in node)
    return False


def _expand(node: Any, pointer: str, collection: Collection, locate: Callable[[str], Any]) -> Any:
    if isinstance(node, list):
        return [
            _expand(v, join_pointer(pointer, i), collection, locate) for i, v in enumerate(node)
        ]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        child = join_pointer(pointer, key)
        if not key.startswith(FOREACH_PREFIX):
            _put(out, key, _expand(value, child, collection, locate), child, locate)
            continue
        for fragment in _iterate(value, child, collection, locate):
            for new_key, new_value in _expand(fragment, child, collection, locate).items():
                _put(out, new_key, new_value, child, locate)
    return out


def _put(
    out: dict[str, Any], key: str, value: Any, pointer: str, locate: Callable[[str], Any]
) -> None:
    if key in out:
        raise template_error(
            locate, pointer, f"Fn::ForEach produces the key {key!r}, which already exists."
        )
    out[key] = value


def _iterate(
    loop: Any, pointer: str, collection: Collection, locate: Callable[[str], Any]
) -> list[dict[str, Any]]:
    if not isinstance(loop, list) or len(loop) != 3:
        raise template_error(
            locate, pointer, "Fn::ForEach takes [identifier, collection, output template]."
        )
    identifier, items_node, body = loop
    if not isinstance(identifier, str) or not re.fullmatch(r"[A-Za-z0-9]+", identifier):
        raise template_error(
            locate,
            join_pointer(pointer, 0),
            "Fn::ForEach's identifier must be an alphanumeric string.",
        )
    if not isinstance(body, dict):
        raise template_error(
            locate, join_pointer(pointer, 2), "Fn::ForEach's output template must be an object."
        )
    if items_node is None:
        raise template_error(
            locate, join_pointer(pointer, 1), "Fn::ForEach's collection must be a list."
        )
    items = collection(items_node, join_pointer(pointer, 1))
    if not isinstance(items, list) or is_opaque(items):
        raise template_error(
            locate,
            join_pointer(pointer, 1),
            "Fn::ForEach's collection must resolve to a list of strings.",
        )
    results: list[dict[str, Any]] = []
    for item in items:
        try:
            text = to_text(item)
        except IntrinsicError:
            raise template_error(
                locate, join_pointer(pointer, 1), "Fn::ForEach's collection must hold strings."
            ) from None
        results.append(_substitute(copy.deepcopy(body), identifier, text))
    return results


def _replace(text: str, identifier: str, value: str) -> str:
    text = text.replace("${" + identifier + "}", value)
    return text.replace("&{" + identifier + "}", re.sub(r"[^A-Za-z0-9]", "", value))


def _substitute(node: Any, identifier: str, value: str) -> Any:
    if isinstance(node, list):
        return [_substitute(v, identifier, value) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        key, arg = next(iter(node.items()))
        if key == "Ref" and arg == identifier:
            return value
        if key == "Fn::Sub":
            if isinstance(arg, str):
                return {key: _replace(arg, identifier, value)}
            if isinstance(arg, list) and arg and isinstance(arg[0], str):
                rest = [_substitute(v, identifier, value) for v in arg[1:]]
                return {key: [_replace(arg[0], identifier, value), *rest]}
    return {
        _replace(k, identifier, value): _substitute(v, identifier, value) for k, v in node.items()
    }


# ---------------------------------------------------------------------------------------------
# The transform's partial evaluation


class _PartialEnv:
    """References as the transform sees them: only parameter defaults are known."""

    partial = True

    def __init__(self, document: dict[str, Any], locate: Callable[[str], Any]) -> None:
        self.locate = locate
        params = document.get("Parameters")
        self.parameters: dict[str, Any] = params if isinstance(params, dict) else {}
        mappings = document.get("Mappings")
        self.mappings: dict[str, Any] = mappings if isinstance(mappings, dict) else {}
        resources = document.get("Resources")
        self.resources: dict[str, Any] = resources if isinstance(resources, dict) else {}
        self.table: ConditionTable | None = None

    def ref(self, name: str, pointer: str, in_condition: bool) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        declaration = self.parameters.get(name)
        if isinstance(declaration, dict) and "Default" in declaration:
            default = declaration["Default"]
            type_name = declaration.get("Type")
            if isinstance(type_name, str) and is_list_type(type_name) and isinstance(default, str):
                return [m.strip() for m in default.split(",")]
            return default
        return Residual({"Ref": name})

    def get_att(self, logical_id: str, attribute: str, pointer: str) -> Any:
        return Residual({"Fn::GetAtt": [logical_id, attribute]})

    def condition(self, name: str, pointer: str) -> bool | None:
        assert self.table is not None
        return self.table.value(name, pointer)

    def import_value(self, name: str, pointer: str) -> Any:
        return Residual({"Fn::ImportValue": name})

    def get_azs(self, region: str, pointer: str) -> Any:
        return Residual({"Fn::GetAZs": region})

    def is_defined(self, name: str) -> bool:
        return name in self.parameters or name in self.resources or name in PSEUDO_PARAMETERS

    def is_resource(self, name: str) -> bool:
        return name in self.resources


def expand_template(
    document: dict[str, Any], source_map: SourceMap | None = None
) -> dict[str, Any]:
    """Apply ``AWS::LanguageExtensions`` to a template, as AWS's transform does.

    Args:
        document: The template (not modified).
        source_map: Positions for error locations, if the template came from text.

    Returns:
        The processed template.

    Raises:
        TemplateError: For an invalid template or a function the transform cannot resolve
            although it must (e.g. Fn::FindInMap without a match, Fn::Length of a string).
    """
    smap = source_map or SourceMap(None)
    locate = smap.locate
    if not isinstance(document, dict):
        raise template_error(locate, "", "A template must be an object.")
    if "Resources" in document and not isinstance(document["Resources"], dict):
        raise template_error(locate, "/Resources", "Resources must be an object.")
    env = _PartialEnv(document, locate)
    evaluator = Evaluator(env, locate)
    check_mappings(env.mappings, locate)

    def collection(node: Any, pointer: str) -> Any:
        return evaluator.evaluate(node, pointer)

    expanded = expand_foreach(document, collection, locate)
    env.resources = expanded.get("Resources") or {}
    table = ConditionTable(expanded.get("Conditions"), evaluator, locate)
    env.table = table
    table.evaluate_all()
    result = dict(expanded)
    if isinstance(expanded.get("Resources"), dict):
        result["Resources"] = {
            lid: _expand_resource(lid, body, evaluator, table, locate)
            for lid, body in expanded["Resources"].items()
        }
    outputs = expanded.get("Outputs")
    if outputs is not None:
        if not isinstance(outputs, dict):
            raise template_error(locate, "/Outputs", "Outputs must be an object.")
        result["Outputs"] = {
            name: _expand_output(name, body, evaluator, table, locate)
            for name, body in outputs.items()
        }
    return result


def _active(body: dict[str, Any], pointer: str, table: ConditionTable) -> bool:
    name = body.get("Condition")
    if name is None:
        return True
    if not isinstance(name, str):
        raise table.evaluator.error(
            join_pointer(pointer, "Condition"), "Condition must name a condition."
        )
    return table.value(name, join_pointer(pointer, "Condition")) is not False


def _expand_resource(
    lid: str, body: Any, evaluator: Evaluator, table: ConditionTable, locate: Callable[[str], Any]
) -> Any:
    pointer = join_pointer("/Resources", lid)
    if not isinstance(body, dict):
        raise template_error(locate, pointer, f"Resource {lid!r} must be an object with a Type.")
    if not _active(body, pointer, table):
        return body
    out: dict[str, Any] = {}
    for key, value in body.items():
        child = join_pointer(pointer, key)
        if key in ("Type", "Condition"):
            out[key] = value
            continue
        resolved = evaluator.evaluate(value, child)
        policy = key in ("DeletionPolicy", "UpdateReplacePolicy")
        if policy and (
            resolved is NO_VALUE or not (isinstance(resolved, (str, Residual)) or value is None)
        ):
            raise template_error(
                locate, child, f"{key} must be a string (Delete, Retain or Snapshot)."
            )
        if resolved is NO_VALUE:
            continue
        out[key] = to_expr(resolved)
    return out


def _expand_output(
    name: str, body: Any, evaluator: Evaluator, table: ConditionTable, locate: Callable[[str], Any]
) -> Any:
    pointer = join_pointer("/Outputs", name)
    if not isinstance(body, dict):
        raise template_error(locate, pointer, f"Output {name!r} must be an object with a Value.")
    if not _active(body, pointer, table):
        return body
    out: dict[str, Any] = {}
    for key, value in body.items():
        child = join_pointer(pointer, key)
        if key == "Condition":
            out[key] = value
            continue
        resolved = evaluator.evaluate(value, child)
        if resolved is NO_VALUE:
            raise template_error(locate, child, f"Output {name!r}: {key} cannot be AWS::NoValue.")
        out[key] = to_expr(resolved)
    return out


__all__ = ["FOREACH_PREFIX", "TemplateError", "expand_foreach", "expand_template"]
