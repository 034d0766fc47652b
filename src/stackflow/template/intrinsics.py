"""The evaluator of intrinsic and condition functions, with CloudFormation's semantics.

One evaluator serves two modes, chosen by its :class:`Environment`:

* resolve: every reference has a value; a value that depends on a resource not created yet is
  :data:`KNOWN_AFTER_APPLY`, and any function whose argument contains it yields it as a whole.
* partial (``AWS::LanguageExtensions`` processing): what cannot be resolved yet (resource
  references, parameters without defaults, pseudo parameters) stays as its expression, wrapped
  in :class:`Residual` while evaluating; functions over residual arguments stay expressions too.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, Protocol

from stackflow.errors import TemplateError
from stackflow.sourcemap import join_pointer
from stackflow.template.model import KNOWN_AFTER_APPLY, NO_VALUE, Unknown, template_error
from stackflow.template.sub import (
    IntrinsicError,
    Residual,
    cidr,
    comparable,
    is_opaque,
    json_type,
    sub_parts,
    to_expr,
    to_index,
    to_json_string,
    to_text,
)

__all__ = ["CONDITION_FUNCTIONS", "Environment", "Evaluator", "Residual", "is_opaque", "to_expr"]

#: Functions allowed in the Conditions section (and in Fn::And/Or/Not).
CONDITION_FUNCTIONS = frozenset({"Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Condition"})


class Environment(Protocol):
    """What the evaluator needs from its caller: the values references stand for."""

    partial: bool
    mappings: dict[str, Any]

    def ref(self, name: str, pointer: str, in_condition: bool) -> Any:
        """Return the value of ``Ref name``."""

    def get_att(self, logical_id: str, attribute: str, pointer: str) -> Any:
        """Return the value of ``Fn::GetAtt [logical_id, attribute]``."""

    def condition(self, name: str, pointer: str) -> bool | None:
        """Return the value of a named condition (None: not known yet)."""

    def import_value(self, name: str, pointer: str) -> Any:
        """Return the value exported under ``name``."""

    def get_azs(self, region: str, pointer: str) -> Any:
        """Return the availability zones of ``region`` ("" = this stack's region)."""

    def is_defined(self, name: str) -> bool:
        """Tell whether ``name`` is a parameter, resource or pseudo parameter."""


Handler = Callable[[Any, str, bool], Any]


class Evaluator:
    """Evaluates template values containing intrinsic functions."""

    def __init__(self, env: Environment, locate: Callable[[str], Any]) -> None:
        """Create an evaluator.

        Args:
            env: Supplies references, conditions and mappings.
            locate: Maps a JSON pointer to a SourceLocation (for errors).
        """
        self.env = env
        self.locate = locate
        self.functions: dict[str, Handler] = {
            "Ref": self._ref,
            "Condition": self._condition,
            "Fn::GetAtt": self._get_att,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::Sub": self._sub,
            "Fn::If": self._if,
            "Fn::Equals": self._equals,
            "Fn::And": self._and_or,
            "Fn::Or": self._and_or,
            "Fn::Not": self._not,
            "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": self._base64,
            "Fn::Cidr": self._cidr,
            "Fn::GetAZs": self._get_azs,
            "Fn::ImportValue": self._import_value,
            "Fn::Length": self._length,
            "Fn::ToJsonString": self._to_json_string,
            "Fn::Transform": lambda arg, ptr, cond: {"Fn::Transform": arg},
        }

    def error(self, pointer: str, message: str) -> TemplateError:
        """Build a TemplateError located at ``pointer``.

        Args:
            pointer: JSON pointer of the bad value.
            message: What is wrong.

        Returns:
            The error (to raise).
        """
        return template_error(self.locate, pointer, message)

    # ------------------------------------------------------------------ structure

    def evaluate(self, node: Any, pointer: str, in_condition: bool = False) -> Any:
        """Evaluate a template value.

        Args:
            node: The value as written (long-form intrinsics).
            pointer: Its JSON pointer.
            in_condition: True inside the Conditions section (condition functions allowed).

        Returns:
            The value; NO_VALUE for ``Ref AWS::NoValue``; KNOWN_AFTER_APPLY or a Residual when
            it cannot be known yet. Object members and array elements that are NO_VALUE are
            removed.

        Raises:
            TemplateError: On a bad use of a function or a reference to nothing.
        """
        if isinstance(node, dict):
            if len(node) == 1:
                key, arg = next(iter(node.items()))
                handler = self.functions.get(key)
                if handler is not None and (key != "Condition" or in_condition):
                    fn_pointer = join_pointer(pointer, key)
                    if key in CONDITION_FUNCTIONS and not in_condition:
                        raise self.error(
                            fn_pointer,
                            f"{key} can only be used in Conditions (or Fn::If's first "
                            "argument names a condition).",
                        )
                    try:
                        return handler(arg, fn_pointer, in_condition)
                    except IntrinsicError as exc:
                        raise self.error(fn_pointer, f"Template error: {key}: {exc}.") from None
            result: dict[str, Any] = {}
            for key, value in node.items():
                item = self.evaluate(value, join_pointer(pointer, key), in_condition)
                if item is not NO_VALUE:
                    result[key] = item
            return result
        if isinstance(node, list):
            items = []
            for i, value in enumerate(node):
                item = self.evaluate(value, join_pointer(pointer, i), in_condition)
                if item is not NO_VALUE:
                    items.append(item)
            return items
        return node

    def _opaque(self, name: str, args: Any) -> Any:
        if self.env.partial:
            return Residual({name: to_expr(args)})
        return KNOWN_AFTER_APPLY

    @staticmethod
    def _top_opaque(*values: Any) -> bool:
        return any(isinstance(v, (Unknown, Residual)) for v in values)

    def _args(self, arg: Any, pointer: str, name: str, counts: tuple[int, ...]) -> list[Any]:
        if not isinstance(arg, list) or len(arg) not in counts:
            want = " or ".join(str(c) for c in counts)
            raise self.error(
                pointer,
                f"Template error: {name} requires a list of {want} "
                f"arguments, got {json_type(arg)}"
                + (f" of {len(arg)}" if isinstance(arg, list) else "")
                + ".",
            )
        return arg

    def _string(self, value: Any, pointer: str, what: str) -> str:
        try:
            return to_text(value)
        except IntrinsicError:
            raise self.error(
                pointer, f"Template error: {what} must be a string, got {json_type(value)}."
            ) from None

    # ------------------------------------------------------------------ references

    def _ref(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        if not isinstance(arg, str):
            if not isinstance(arg, dict):
                raise self.error(
                    pointer,
                    f"Template error: Ref must name a parameter, resource "
                    f"or pseudo parameter, got {json_type(arg)}.",
                )
            name = self.evaluate(arg, pointer, in_condition)
            if self._top_opaque(name):
                return self._opaque("Ref", name)
            if not isinstance(name, str):
                raise self.error(
                    pointer,
                    "Template error: Ref's argument must resolve to a "
                    f"string, got {'AWS::NoValue' if name is NO_VALUE else json_type(name)}.",
                )
            arg = name
        return self.env.ref(arg, pointer, in_condition)

    def _condition(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        if not isinstance(arg, str):
            raise self.error(pointer, "Template error: Condition must name a condition.")
        value = self.env.condition(arg, pointer)
        if value is None:
            return Residual({"Condition": arg})
        return value

    def _get_att(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        if isinstance(arg, str):
            logical, _, attribute = arg.partition(".")
            if not attribute:
                raise self.error(
                    pointer,
                    "Template error: Fn::GetAtt needs a logical id and an "
                    f"attribute name ('Resource.Attribute'), got {arg!r}.",
                )
            parts: list[Any] = [logical, attribute]
        else:
            parts = self._args(arg, pointer, "Fn::GetAtt", (2,))
            parts = [self.evaluate(p, join_pointer(pointer, i)) for i, p in enumerate(parts)]
        if self._top_opaque(*parts):
            return self._opaque("Fn::GetAtt", parts)
        logical = self._string(parts[0], pointer, "Fn::GetAtt's logical id")
        attribute = self._string(parts[1], pointer, "Fn::GetAtt's attribute name")
        return self.env.get_att(logical, attribute, pointer)

    def _import_value(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        name = self.evaluate(arg, pointer)
        if is_opaque(name):
            return self._opaque("Fn::ImportValue", name)
        return self.env.import_value(self._string(name, pointer, "Fn::ImportValue's name"), pointer)

    def _get_azs(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        region = self.evaluate(arg, pointer)
        if is_opaque(region):
            return self._opaque("Fn::GetAZs", region)
        if region is None:
            region = ""
        return self.env.get_azs(self._string(region, pointer, "Fn::GetAZs's region"), pointer)

    # ------------------------------------------------------------------ strings and lists

    def _join(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        args = self._args(arg, pointer, "Fn::Join", (2,))
        delimiter = self.evaluate(args[0], join_pointer(pointer, 0))
        items = self.evaluate(args[1], join_pointer(pointer, 1))
        if is_opaque(delimiter) or is_opaque(items):
            return self._opaque("Fn::Join", [delimiter, items])
        if not isinstance(delimiter, str):
            raise self.error(pointer, "Template error: Fn::Join's delimiter must be a string.")
        if not isinstance(items, list):
            raise self.error(
                pointer,
                "Template error: Fn::Join's second argument must be a "
                f"list of strings, got {json_type(items)}.",
            )
        texts = [
            self._string(v, join_pointer(pointer, 1, i), "every Fn::Join element")
            for i, v in enumerate(items)
        ]
        return delimiter.join(texts)

    def _select(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        args = self._args(arg, pointer, "Fn::Select", (2,))
        index = self.evaluate(args[0], join_pointer(pointer, 0))
        items = self.evaluate(args[1], join_pointer(pointer, 1))
        if self._top_opaque(index, items) or is_opaque(index):
            return self._opaque("Fn::Select", [index, items])
        try:
            position = to_index(index)
        except IntrinsicError as exc:
            raise self.error(
                join_pointer(pointer, 0), f"Template error: Fn::Select: {exc}."
            ) from None
        if not isinstance(items, list):
            raise self.error(
                join_pointer(pointer, 1),
                "Template error: Fn::Select's second "
                f"argument must be a list, got {json_type(items)}.",
            )
        if position >= len(items):
            raise self.error(
                pointer,
                f"Template error: Fn::Select cannot select element "
                f"{position} of a list of {len(items)}.",
            )
        return items[position]

    def _split(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        args = self._args(arg, pointer, "Fn::Split", (2,))
        delimiter = self.evaluate(args[0], join_pointer(pointer, 0))
        source = self.evaluate(args[1], join_pointer(pointer, 1))
        if is_opaque(delimiter) or is_opaque(source):
            return self._opaque("Fn::Split", [delimiter, source])
        if not isinstance(delimiter, str) or not delimiter:
            raise self.error(
                pointer, "Template error: Fn::Split's delimiter must be a non-empty string."
            )
        text = self._string(source, join_pointer(pointer, 1), "Fn::Split's source")
        return text.split(delimiter)

    def _sub(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        variables: dict[str, Any] = {}
        if isinstance(arg, list):
            args = self._args(arg, pointer, "Fn::Sub", (1, 2))
            template = args[0]
            if len(args) == 2:
                if not isinstance(args[1], dict):
                    raise self.error(
                        join_pointer(pointer, 1),
                        "Template error: Fn::Sub's variables must be an object of name: value.",
                    )
                for name, raw in args[1].items():
                    value = self.evaluate(raw, join_pointer(pointer, 1, name))
                    if value is None or value is NO_VALUE:
                        raise self.error(
                            join_pointer(pointer, 1, name),
                            "Template error: the "
                            f"value of Fn::Sub variable {name!r} must not be null.",
                        )
                    variables[name] = value
        else:
            template = arg
        if not isinstance(template, str):
            raise self.error(
                pointer,
                f"Template error: Fn::Sub's template must be a string, got {json_type(template)}.",
            )
        out: list[Any] = []
        opaque = any(is_opaque(v) for v in variables.values())
        for is_var, text in sub_parts(template):
            if not is_var:
                out.append(text)
                continue
            if text in variables:
                value = variables[text]
            elif "." in text and not text.startswith("AWS::"):
                logical, _, attribute = text.partition(".")
                value = self.env.get_att(logical, attribute, pointer)
            else:
                value = self.env.ref(text, pointer, in_condition)
            if value is NO_VALUE:
                raise self.error(
                    pointer, f"Template error: ${{{text}}} in Fn::Sub is AWS::NoValue."
                )
            if is_opaque(value):
                opaque = True
                continue
            out.append(self._string(value, pointer, f"the value of ${{{text}}} in Fn::Sub"))
        if opaque:
            if self.env.partial:
                rest = (
                    [template, variables] if isinstance(arg, list) and len(arg) == 2 else template
                )
                return Residual({"Fn::Sub": to_expr(rest)})
            return KNOWN_AFTER_APPLY
        return "".join(out)

    def _base64(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        value = self.evaluate(arg, pointer)
        if is_opaque(value):
            return self._opaque("Fn::Base64", value)
        text = self._string(value, pointer, "Fn::Base64's argument")
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    def _cidr(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        args = self._args(arg, pointer, "Fn::Cidr", (3,))
        values = [self.evaluate(a, join_pointer(pointer, i)) for i, a in enumerate(args)]
        if is_opaque(values):
            return self._opaque("Fn::Cidr", values)
        block = self._string(values[0], pointer, "Fn::Cidr's address block")
        return cidr(block, values[1], values[2])

    def _length(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        value = self.evaluate(arg, pointer, in_condition)
        if self._top_opaque(value):
            return self._opaque("Fn::Length", value)
        if not isinstance(value, list):
            raise self.error(
                pointer,
                "Template error: Fn::Length needs a list (or a function "
                f"returning one), got {json_type(value)}.",
            )
        return len(value)

    def _to_json_string(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        self._check_json_argument(arg, pointer)
        value = self.evaluate(arg, pointer)
        if is_opaque(value):
            return self._opaque("Fn::ToJsonString", value)
        if not isinstance(value, (dict, list)):
            raise self.error(
                pointer,
                "Template error: Fn::ToJsonString needs an object or a "
                f"list, got {json_type(value)}.",
            )
        return to_json_string(value)

    def _check_json_argument(self, node: Any, pointer: str) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                self._check_json_argument(item, join_pointer(pointer, i))
            return
        if not isinstance(node, dict):
            return
        if len(node) == 1:
            key, arg = next(iter(node.items()))
            if key in CONDITION_FUNCTIONS - {"Condition"}:
                raise self.error(
                    pointer, f"Template error: {key} cannot be used in Fn::ToJsonString."
                )
            if key == "Ref" and isinstance(arg, str):
                if arg == "AWS::NotificationARNs":
                    raise self.error(
                        pointer,
                        "Template error: AWS::NotificationARNs cannot be used in Fn::ToJsonString.",
                    )
                if not self.env.is_defined(arg):
                    raise self.error(
                        pointer,
                        f"Template error: unresolved reference {arg!r} in Fn::ToJsonString.",
                    )
        for key, value in node.items():
            self._check_json_argument(value, join_pointer(pointer, key))

    # ------------------------------------------------------------------ conditions

    def _if(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        args = self._args(arg, pointer, "Fn::If", (3,))
        name = args[0]
        if not isinstance(name, str):
            raise self.error(
                join_pointer(pointer, 0),
                "Template error: Fn::If's first argument must name a condition.",
            )
        chosen = self.env.condition(name, join_pointer(pointer, 0))
        if chosen is None:
            branches = [
                self.evaluate(args[i], join_pointer(pointer, i), in_condition) for i in (1, 2)
            ]
            return Residual({"Fn::If": [name, *(to_expr(b) for b in branches)]})
        index = 1 if chosen else 2
        return self.evaluate(args[index], join_pointer(pointer, index), in_condition)

    def _equals(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        args = self._args(arg, pointer, "Fn::Equals", (2,))
        values = [self.evaluate(a, join_pointer(pointer, i), True) for i, a in enumerate(args)]
        for i, value in enumerate(values):
            if isinstance(value, dict) or value is NO_VALUE:
                raise self.error(
                    join_pointer(pointer, i),
                    f"Template error: Fn::Equals compares strings, got {json_type(value)}.",
                )
        if is_opaque(values):
            return Residual({"Fn::Equals": to_expr(values)}) if self.env.partial else None
        return comparable(values[0]) == comparable(values[1])

    def _and_or(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        name = pointer.rsplit("/", 1)[-1]
        if not isinstance(arg, list) or not 2 <= len(arg) <= 10:
            raise self.error(
                pointer, f"Template error: {name} requires a list of 2 to 10 conditions."
            )
        results = [self._boolean(a, join_pointer(pointer, i)) for i, a in enumerate(arg)]
        known = [r for r in results if isinstance(r, bool)]
        if name == "Fn::And":
            if False in known:
                return False
            if len(known) == len(results):
                return True
        else:
            if True in known:
                return True
            if len(known) == len(results):
                return False
        return Residual({name: [to_expr(r) for r in results]})

    def _not(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        args = self._args(arg, pointer, "Fn::Not", (1,))
        result = self._boolean(args[0], join_pointer(pointer, 0))
        if isinstance(result, bool):
            return not result
        return Residual({"Fn::Not": [to_expr(result)]})

    def _boolean(self, node: Any, pointer: str) -> Any:
        if not (
            isinstance(node, dict) and len(node) == 1 and next(iter(node)) in CONDITION_FUNCTIONS
        ):
            raise self.error(
                pointer,
                "Template error: expected a condition function "
                "(Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition).",
            )
        result = self.evaluate(node, pointer, True)
        if isinstance(result, (bool, Residual)):
            return result
        raise self.error(pointer, f"Template error: expected a condition, got {json_type(result)}.")

    # ------------------------------------------------------------------ mappings

    def _find_in_map(self, arg: Any, pointer: str, in_condition: bool) -> Any:
        args = self._args(arg, pointer, "Fn::FindInMap", (3, 4))
        default_node: Any = None
        has_default = len(args) == 4
        if has_default:
            if not (isinstance(args[3], dict) and list(args[3]) == ["DefaultValue"]):
                raise self.error(
                    join_pointer(pointer, 3),
                    "Template error: Fn::FindInMap takes "
                    "a map name, a top-level key and a second-level key (and "
                    "optionally {DefaultValue: value}).",
                )
            default_node = args[3]["DefaultValue"]
        keys: list[Any] = []
        for i in range(3):
            node = args[i]
            if self.env.partial and isinstance(node, dict) and len(node) == 1:
                key, ref = next(iter(node.items()))
                if key == "Fn::GetAtt" or (
                    key == "Ref" and isinstance(ref, str) and self._is_resource_ref(ref)
                ):
                    raise self.error(
                        join_pointer(pointer, i),
                        f"Template error: {key} of a "
                        "resource cannot be used in Fn::FindInMap's keys.",
                    )
            keys.append(self.evaluate(node, join_pointer(pointer, i), in_condition))
        if is_opaque(keys):
            rest = [to_expr(k) for k in keys]
            if has_default:
                rest.append({"DefaultValue": to_expr(self.evaluate(default_node, pointer))})
            return self._opaque("Fn::FindInMap", rest)
        names = [
            self._string(k, join_pointer(pointer, i), "Fn::FindInMap's keys")
            for i, k in enumerate(keys)
        ]
        mapping = self.env.mappings.get(names[0])
        if mapping is None:
            raise self.error(
                join_pointer(pointer, 0),
                f"Template error: the mapping {names[0]!r} is not defined in Mappings.",
            )
        top = mapping.get(names[1]) if isinstance(mapping, dict) else None
        value = top.get(names[2]) if isinstance(top, dict) else None
        if value is None:
            if has_default:
                return self.evaluate(default_node, join_pointer(pointer, 3, "DefaultValue"))
            where = names[1] if top is None else f"{names[1]}/{names[2]}"
            raise self.error(
                pointer,
                f"Template error: Unable to get mapping for "
                f"{names[0]}::{names[1]}::{names[2]} (no key {where!r}).",
            )
        return value

    def _is_resource_ref(self, name: str) -> bool:
        checker = getattr(self.env, "is_resource", None)
        return bool(checker and checker(name))
