"""Find the names a template value refers to (Ref, Fn::GetAtt, Fn::Sub) for the dependency graph."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stackflow.sourcemap import join_pointer
from stackflow.template.sub import sub_variables


@dataclass(frozen=True)
class Reference:
    """One reference found in a template value.

    Attributes:
        name: The logical id or parameter name referred to.
        kind: ``Ref``, ``Fn::GetAtt`` or ``Fn::Sub``.
        pointer: Where the reference is.
        attribute: The attribute name for Fn::GetAtt and ``${X.Attr}``.
    """

    name: str
    kind: str
    pointer: str
    attribute: str | None = None


def find_references(
    node: Any, pointer: str, condition: Callable[[str], bool | None]
) -> list[Reference]:
    """Collect the references of a value, following only the taken branch of each Fn::If.

    Args:
        node: A template value (long-form intrinsics).
        pointer: Its JSON pointer.
        condition: Returns a condition's value (None when unknown: both branches are followed).

    Returns:
        Every reference found, in document order.
    """
    found: list[Reference] = []
    _walk(node, pointer, condition, found)
    return found


def _walk(
    node: Any, pointer: str, condition: Callable[[str], bool | None], found: list[Reference]
) -> None:
    if isinstance(node, list):
        for i, item in enumerate(node):
            _walk(item, join_pointer(pointer, i), condition, found)
        return
    if not isinstance(node, dict):
        return
    if len(node) == 1:
        key, arg = next(iter(node.items()))
        here = join_pointer(pointer, key)
        if key == "Ref" and isinstance(arg, str):
            found.append(Reference(arg, key, here))
            return
        if key == "Fn::GetAtt":
            if isinstance(arg, str) and "." in arg:
                logical, _, attribute = arg.partition(".")
                found.append(Reference(logical, key, here, attribute))
                return
            if isinstance(arg, list) and arg and isinstance(arg[0], str):
                name = arg[1] if len(arg) > 1 and isinstance(arg[1], str) else None
                found.append(Reference(arg[0], key, here, name))
                _walk(arg[1:], here, condition, found)
                return
        if key == "Fn::Sub":
            _sub(arg, here, condition, found)
            return
        if key == "Fn::If" and isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str):
            try:
                chosen = condition(arg[0])
            except Exception:  # an undefined condition is reported by the evaluator
                chosen = None
            if chosen is None:
                _walk(arg[1:], here, condition, found)
            else:
                index = 1 if chosen else 2
                _walk(arg[index], join_pointer(here, index), condition, found)
            return
    for key, value in node.items():
        _walk(value, join_pointer(pointer, key), condition, found)


def _sub(
    arg: Any, pointer: str, condition: Callable[[str], bool | None], found: list[Reference]
) -> None:
    local: set[str] = set()
    template = arg
    if isinstance(arg, list) and arg:
        template = arg[0]
        if len(arg) > 1 and isinstance(arg[1], dict):
            local = set(arg[1])
            _walk(arg[1], join_pointer(pointer, 1), condition, found)
    if not isinstance(template, str):
        return
    for name in sub_variables(template):
        if name in local:
            continue
        if "." in name and not name.startswith("AWS::"):
            logical, _, attribute = name.partition(".")
            found.append(Reference(logical, "Fn::Sub", pointer, attribute))
        else:
            found.append(Reference(name, "Fn::Sub", pointer))
