"""Pure helpers of the intrinsic functions: Fn::Sub parsing, Fn::Cidr, value conversions."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from stackflow.template.model import NO_VALUE, Unknown
from stackflow.workflow.asl.validate_context import type_name as json_type

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


class IntrinsicError(Exception):
    """A bad use of an intrinsic function (turned into a TemplateError with a location)."""


def sub_parts(text: str) -> list[tuple[bool, str]]:
    """Split an Fn::Sub string into literal text and variable names.

    ``${!Literal}`` stands for the literal text ``${Literal}``.

    Args:
        text: The template string.

    Returns:
        ``(is_variable, text)`` pairs in order.
    """
    parts: list[tuple[bool, str]] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(text):
        if match.start() > pos:
            parts.append((False, text[pos : match.start()]))
        name = match.group(1)
        if name.startswith("!"):
            parts.append((False, "${" + name[1:] + "}"))
        else:
            parts.append((True, name.strip()))
        pos = match.end()
    if pos < len(text):
        parts.append((False, text[pos:]))
    return parts


def sub_variables(text: str) -> list[str]:
    """Return the variable names an Fn::Sub string uses, in order.

    Args:
        text: The template string.

    Returns:
        Names such as ``Bucket`` or ``Bucket.Arn`` (``${!x}`` literals excluded).
    """
    return [name for is_var, name in sub_parts(text) if is_var]


def to_text(value: Any) -> str:
    """Convert a scalar template value to the text CloudFormation would use.

    Args:
        value: A string, number or boolean.

    Returns:
        Its text (``true``/``false`` for booleans).

    Raises:
        IntrinsicError: For lists, objects and null.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    raise IntrinsicError(f"expected a string, got {json_type(value)}")


def to_index(value: Any) -> int:
    """Read an Fn::Select index (an integer or a string of digits).

    Args:
        value: The index argument.

    Returns:
        The index.

    Raises:
        IntrinsicError: If it is not a non-negative integer.
    """
    if isinstance(value, bool):
        raise IntrinsicError("the index must be an integer")
    if isinstance(value, int):
        index = value
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value)
    ):
        index = int(value)
    else:
        raise IntrinsicError(f"the index must be an integer, got {value!r}")
    return index


def cidr(block: str, count: Any, bits: Any) -> list[str]:
    """Compute Fn::Cidr: ``count`` subnets with ``bits`` host bits each, from ``block``.

    Args:
        block: The address block, e.g. ``192.168.0.0/24``.
        count: How many subnets (1-256).
        bits: Host bits of each subnet (the subnet mask is the address length minus these).

    Returns:
        The subnets' CIDR strings.

    Raises:
        IntrinsicError: If the arguments are invalid or the block is too small.
    """
    try:
        network = ipaddress.ip_network(block, strict=False)
        how_many = to_index(count)
        host_bits = to_index(bits)
    except (ValueError, IntrinsicError) as exc:
        raise IntrinsicError(f"invalid Fn::Cidr arguments: {exc}") from None
    prefix = network.max_prefixlen - host_bits
    if how_many < 1 or how_many > 256 or prefix < network.prefixlen or host_bits < 1:
        raise IntrinsicError(
            f"Fn::Cidr cannot make {how_many} subnets of {host_bits} host bits from {block}"
        )
    subnets = []
    for i, subnet in enumerate(network.subnets(new_prefix=prefix)):
        if i >= how_many:
            break
        subnets.append(str(subnet))
    if len(subnets) < how_many:
        raise IntrinsicError(f"Fn::Cidr: {block} holds only {len(subnets)} such subnets")
    return subnets


def to_json_string(value: Any) -> str:
    """Serialise a value as Fn::ToJsonString does (compact JSON, keys in order).

    Args:
        value: An object or array.

    Returns:
        The JSON text.
    """
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Residual:
    """An expression that cannot be resolved yet (partial evaluation only)."""

    __slots__ = ("expr",)

    def __init__(self, expr: Any) -> None:
        """Wrap ``expr`` (a long-form intrinsic function)."""
        self.expr = expr

    def __repr__(self) -> str:
        return f"Residual({self.expr!r})"


def is_opaque(value: Any) -> bool:
    """Tell whether ``value`` is, or contains, an unknown or residual value.

    Args:
        value: An evaluated value.

    Returns:
        True if any part of it is KNOWN_AFTER_APPLY or a Residual.
    """
    if isinstance(value, (Unknown, Residual)):
        return True
    if isinstance(value, dict):
        return any(is_opaque(v) for v in value.values())
    if isinstance(value, list):
        return any(is_opaque(v) for v in value)
    return False


def to_expr(value: Any) -> Any:
    """Turn an evaluated value back into template text (residuals become expressions).

    Args:
        value: An evaluated value.

    Returns:
        Plain JSON-compatible data.
    """
    if isinstance(value, Residual):
        return to_expr(value.expr)
    if value is NO_VALUE:
        return {"Ref": "AWS::NoValue"}
    if isinstance(value, dict):
        return {k: to_expr(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_expr(v) for v in value]
    return value


def comparable(value: Any) -> Any:
    """Return the form Fn::Equals compares (scalars as text, lists element-wise).

    Args:
        value: An evaluated value.

    Returns:
        The comparable form.
    """
    if isinstance(value, list):
        return [comparable(v) for v in value]
    try:
        return to_text(value)
    except IntrinsicError:
        return value
