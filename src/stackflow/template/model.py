"""Data types of the template language: pseudo parameters, unknown values, declarations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from stackflow.errors import Problem, SourceLocation, TemplateError

#: The ``Transform`` value that enables the AWS language extensions.
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"


class Unknown:
    """A value only known after the resources it depends on exist (CloudFormation's marker).

    There is one instance, :data:`KNOWN_AFTER_APPLY`; any intrinsic function whose argument
    contains it evaluates to it as a whole.
    """

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        """Return the single instance."""
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __str__(self) -> str:
        return "{{changeSet:KNOWN_AFTER_APPLY}}"

    def __repr__(self) -> str:
        return "KNOWN_AFTER_APPLY"

    def __reduce__(self) -> str:
        return "KNOWN_AFTER_APPLY"


def contains_unknown(value: Any) -> bool:
    """Tell whether ``value`` is or holds ``KNOWN_AFTER_APPLY``.

    Args:
        value: A resolved value.

    Returns:
        True when any part of it is only known after apply.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Unknown):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


#: The value of a property that depends on a resource not created yet.
KNOWN_AFTER_APPLY = Unknown()


class _NoValue:
    """The value of ``Ref AWS::NoValue``: the surrounding property or element is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


#: Marker for ``{"Ref": "AWS::NoValue"}`` while evaluating; never left in a result.
NO_VALUE: Any = _NoValue()


@dataclass(frozen=True)
class PseudoParameters:
    """Values of the ``AWS::*`` pseudo parameters for one stack.

    Attributes:
        stack_name: ``AWS::StackName``.
        stack_id: ``AWS::StackId``.
        region: ``AWS::Region``.
        account_id: ``AWS::AccountId``.
        partition: ``AWS::Partition``.
        url_suffix: ``AWS::URLSuffix``.
        notification_arns: ``AWS::NotificationARNs``.
        availability_zones: Zones by region, returned by ``Fn::GetAZs``.
    """

    stack_name: str
    stack_id: str
    region: str = "local"
    account_id: str = "000000000000"
    partition: str = "aws"
    url_suffix: str = "localhost"
    notification_arns: tuple[str, ...] = ()
    availability_zones: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def value(self, name: str) -> Any:
        """Return the value of pseudo parameter ``name`` (KeyError if there is none).

        Args:
            name: e.g. ``AWS::Region``.

        Returns:
            The value (a string, or a list for ``AWS::NotificationARNs``).
        """
        values: dict[str, Any] = {
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": self.url_suffix,
            "AWS::NotificationARNs": list(self.notification_arns),
        }
        return values[name]


#: Names of the pseudo parameters (``AWS::NoValue`` included).
PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::StackName",
        "AWS::StackId",
        "AWS::Region",
        "AWS::AccountId",
        "AWS::Partition",
        "AWS::URLSuffix",
        "AWS::NotificationARNs",
        "AWS::NoValue",
    }
)


class ResourceValues(Protocol):
    """Physical ids and attributes of resources, supplied by the caller."""

    def physical_id(self, logical_id: str) -> Any:
        """Return the physical id of a resource (or KNOWN_AFTER_APPLY)."""

    def attribute(self, logical_id: str, name: str) -> Any:
        """Return an attribute of a resource (or KNOWN_AFTER_APPLY); KeyError if none."""


@dataclass(frozen=True)
class ParameterValue:
    """The value of one template parameter.

    Attributes:
        name: Parameter name.
        type: Its declared type, e.g. ``String`` or ``List<Number>``.
        value: A string, or a list of strings for list types.
        no_echo: True when the value must never be shown.
    """

    name: str
    type: str
    value: Any
    no_echo: bool


@dataclass(frozen=True)
class ResourceDeclaration:
    """One resource as declared in the template (properties not resolved).

    Attributes:
        logical_id: Its key under ``Resources``.
        type: Resource type, e.g. ``Local::File``.
        properties: The raw ``Properties``.
        depends_on: Explicit ``DependsOn`` ids.
        condition: Name of its condition, if any.
        deletion_policy: ``DeletionPolicy``.
        update_replace_policy: ``UpdateReplacePolicy``.
        creation_policy: ``CreationPolicy``.
        update_policy: ``UpdatePolicy``.
        metadata: ``Metadata``.
        pointer: JSON pointer of the declaration.
    """

    logical_id: str
    type: str
    properties: dict[str, Any]
    depends_on: tuple[str, ...]
    condition: str | None
    deletion_policy: str | None
    update_replace_policy: str | None
    creation_policy: dict[str, Any] | None
    update_policy: dict[str, Any] | None
    metadata: dict[str, Any] | None
    pointer: str


@dataclass(frozen=True)
class ResolvedOutput:
    """One stack output after resolution.

    Attributes:
        value: The resolved value (or KNOWN_AFTER_APPLY).
        export_name: The resolved ``Export.Name``, if exported.
        description: The ``Description``.
    """

    value: Any
    export_name: str | None
    description: str | None


class Problems:
    """Collects problems with locations and raises them together as a TemplateError."""

    def __init__(self, locate: Any) -> None:
        """Create an empty collection.

        Args:
            locate: Function from a JSON pointer to a SourceLocation.
        """
        self.locate = locate
        self.items: list[Problem] = []

    def add(self, pointer: str, message: str, code: str = "TEMPLATE_INVALID") -> None:
        """Record one problem at ``pointer``.

        Args:
            pointer: Where the problem is.
            message: What is wrong and what was expected.
            code: Stable problem code.
        """
        location: SourceLocation = self.locate(pointer)
        self.items.append(Problem(location, message, code))

    def raise_if_any(self) -> None:
        """Raise TemplateError with every recorded problem, if there are any.

        Raises:
            TemplateError: When at least one problem was recorded.
        """
        if self.items:
            raise TemplateError(self.items, f"Template format error: {len(self.items)} problem(s)")


def template_error(locate: Any, pointer: str, message: str) -> TemplateError:
    """Build a TemplateError with a single problem.

    Args:
        locate: Function from a JSON pointer to a SourceLocation.
        pointer: Where the problem is.
        message: What is wrong.

    Returns:
        The error (not raised).
    """
    return TemplateError([Problem(locate(pointer), message, "TEMPLATE_INVALID")])
