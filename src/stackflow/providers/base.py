"""The resource provider interface: requests, progress events, schemas and the Provider base.

A *provider* implements one resource type (``Local::File``, ``Stackflow::Workflow``...) the way a
CloudFormation resource provider does: a resource schema describing its properties, and create,
read, update and delete handlers. A handler returns a :class:`ProgressEvent`; a long operation may
return ``IN_PROGRESS`` with a callback context and delay, and is then called again (see
:func:`stackflow.providers.handler.run_handler`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol

import jsonschema

from stackflow.errors import Problem, SourceLocation
from stackflow.template.model import Unknown, contains_unknown
from stackflow.workflow.asl.loader import join_pointer


class HandlerStatus(StrEnum):
    """The status of a handler call, as in the CloudFormation resource provider protocol."""

    IN_PROGRESS = "IN_PROGRESS"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


class HandlerErrorCode(StrEnum):
    """CloudFormation handler error codes."""

    NotFound = "NotFound"
    AlreadyExists = "AlreadyExists"
    InvalidRequest = "InvalidRequest"
    NotUpdatable = "NotUpdatable"
    NotStabilized = "NotStabilized"
    GeneralServiceException = "GeneralServiceException"
    InternalFailure = "InternalFailure"
    Timeout = "Timeout"
    ResourceConflict = "ResourceConflict"
    AccessDenied = "AccessDenied"


@dataclass(frozen=True)
class ResourceRequest:
    """One call of a provider handler.

    Attributes:
        stack_name: Name of the stack.
        stack_id: Id of the stack.
        logical_id: The resource's logical id in the template.
        resource_type: The type as written in the template (e.g. ``Custom::Thing``).
        physical_id: The physical id; None on create.
        physical_id_hint: ``<stack>-<logical>-<random>``, stable per action; a create may use it.
        properties: Desired, fully resolved properties (delete: the last applied ones).
        previous_properties: The properties last applied (update only).
        previous_attributes: What create/update returned last (update, delete, read).
        request_token: Unique per action and stable across retries.
        base_dir: The template's folder; relative paths resolve against it.
        callback_context: The context returned with the last ``IN_PROGRESS`` event.
        timeout_seconds: How long the whole action may take, or None.
    """

    stack_name: str
    stack_id: str
    logical_id: str
    resource_type: str
    physical_id: str | None
    physical_id_hint: str
    properties: dict[str, Any]
    previous_properties: dict[str, Any] | None
    previous_attributes: dict[str, Any] | None
    request_token: str
    base_dir: Path
    callback_context: dict[str, Any] | None = None
    timeout_seconds: float | None = None


@dataclass(frozen=True)
class ProgressEvent:
    """What a handler call returns.

    Attributes:
        status: IN_PROGRESS, SUCCESS or FAILED.
        physical_id: The resource's physical id (SUCCESS of create/update).
        attributes: Values for ``Fn::GetAtt`` (SUCCESS of create/update).
        message: Progress or failure message (never a NoEcho value).
        error_code: A :class:`HandlerErrorCode` value when FAILED.
        callback_context: State handed back on the next call (IN_PROGRESS).
        callback_delay_seconds: How long to wait before the next call (IN_PROGRESS).
        no_echo: True when the attributes must be masked in outputs and displays (a custom
            resource answered ``NoEcho: true``).
    """

    status: HandlerStatus
    physical_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    error_code: str | None = None
    callback_context: dict[str, Any] | None = None
    callback_delay_seconds: float = 0.0
    no_echo: bool = False

    @classmethod
    def success(
        cls,
        physical_id: str | None,
        attributes: dict[str, Any] | None = None,
        message: str = "",
        *,
        no_echo: bool = False,
    ) -> ProgressEvent:
        """Build a SUCCESS event.

        Args:
            physical_id: The resource's physical id.
            attributes: Its GetAtt attributes.
            message: Optional message.
            no_echo: Whether the attributes are secret.

        Returns:
            The event.
        """
        return cls(
            HandlerStatus.SUCCESS, physical_id, dict(attributes or {}), message, no_echo=no_echo
        )

    @classmethod
    def failed(
        cls, message: str, code: str = HandlerErrorCode.GeneralServiceException
    ) -> ProgressEvent:
        """Build a FAILED event.

        Args:
            message: What went wrong.
            code: A handler error code.

        Returns:
            The event.
        """
        return cls(HandlerStatus.FAILED, message=message, error_code=str(code))

    @classmethod
    def in_progress(
        cls, context: dict[str, Any] | None, delay: float, message: str = ""
    ) -> ProgressEvent:
        """Build an IN_PROGRESS event: the handler is called again after ``delay`` seconds.

        Args:
            context: The callback context handed to the next call.
            delay: Seconds to wait before the next call.
            message: Optional progress message.

        Returns:
            The event.
        """
        return cls(
            HandlerStatus.IN_PROGRESS,
            message=message,
            callback_context=context,
            callback_delay_seconds=delay,
        )


@dataclass(frozen=True)
class ReadResult:
    """The observed state of a resource.

    Attributes:
        properties: The actual values of the properties the provider can observe; drift
            compares these keys only.
        attributes: The current GetAtt attributes.
    """

    properties: dict[str, Any]
    attributes: dict[str, Any]


class WorkflowDeployer(Protocol):
    """Deploys workflows for ``Stackflow::Workflow``; implemented by the engine."""

    def deploy_definition(
        self, name: str, definition: dict[str, Any], *, base_dir: Path
    ) -> tuple[str, int]:
        """Deploy a definition as a new version of workflow ``name``; return (arn, version)."""
        ...

    def delete_workflow(self, name: str) -> None:
        """Delete workflow ``name``; a missing workflow is not an error."""
        ...

    def describe_workflow(self, name: str) -> tuple[str, int, dict[str, Any]] | None:
        """Return (arn, version, definition) of workflow ``name``, or None if it is missing."""
        ...


def _no_report(message: str) -> None:
    """Discard a progress message."""


@dataclass
class ProviderContext:
    """Services a provider may use, built by the stacks engine per call.

    Attributes:
        report: Sends a progress message to the live display / events.
        workflows: The workflow deployer (for ``Stackflow::Workflow``), or None.
        stacks: The nested-stack service, opaque to providers other than the nested one.
        home: The stackflow home (state directory).
        services: The services store (``store.services``, for ``Local::Service``), or None.
        store: The engine's whole store (for ``Stackflow::Schedule``: ``store.schedules``), or
            None.
    """

    report: Callable[[str], None] = _no_report
    workflows: WorkflowDeployer | None = None
    stacks: Any | None = None
    home: Path = field(default_factory=lambda: Path(".stackflow"))
    services: Any | None = None
    store: Any | None = None


def _top_names(pointers: Any) -> frozenset[str]:
    """Turn ``["/properties/Path", ...]`` into the top-level property names."""
    names: set[str] = set()
    for pointer in pointers or ():
        parts = str(pointer).split("/")
        if len(parts) >= 3 and parts[1] == "properties":
            names.add(parts[2].replace("~1", "/").replace("~0", "~"))
    return frozenset(names)


def _is_unknown(value: Any) -> bool:
    """Tell whether a value is the template's KNOWN_AFTER_APPLY placeholder."""
    return isinstance(value, Unknown)


#: JSON-schema keywords that judge an object's keys, not its values.
_KEY_VALIDATORS = frozenset(
    {"required", "additionalProperties", "propertyNames", "dependencies", "dependentRequired"}
)


def _path_hits_unknown(instance: Any, path: Any) -> bool:
    """Tell whether any value along ``path`` inside ``instance`` is unknown."""
    current = instance
    if _is_unknown(current):
        return True
    for token in path:
        try:
            current = current[token]
        except (KeyError, IndexError, TypeError):
            return False
        if _is_unknown(current):
            return True
    return False


@dataclass(frozen=True)
class ResourceSchema:
    """A CloudFormation resource schema, parsed.

    Attributes:
        type_name: The type, e.g. ``Local::File``.
        raw: The schema document (CloudFormation resource schema, JSON Schema draft 7).
        properties: Every top-level property name (attributes included).
        required: Required properties.
        create_only: Properties whose change forces replacement.
        read_only: GetAtt attribute names.
        write_only: Properties never shown nor compared on drift (secrets).
    """

    type_name: str
    raw: dict[str, Any]
    properties: frozenset[str]
    required: frozenset[str]
    create_only: frozenset[str]
    read_only: frozenset[str]
    write_only: frozenset[str]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ResourceSchema:
        """Parse a resource schema document.

        Args:
            raw: The schema, with ``typeName``, ``properties``, ``required``,
                ``createOnlyProperties``, ``readOnlyProperties`` and ``writeOnlyProperties``.

        Returns:
            The parsed schema.
        """
        jsonschema.Draft7Validator.check_schema(raw)
        return cls(
            type_name=str(raw["typeName"]),
            raw=raw,
            properties=frozenset(raw.get("properties", {})),
            required=frozenset(raw.get("required", ())),
            create_only=_top_names(raw.get("createOnlyProperties")),
            read_only=_top_names(raw.get("readOnlyProperties")),
            write_only=_top_names(raw.get("writeOnlyProperties")),
        )

    def validate(self, properties: dict[str, Any], *, pointer: str) -> list[Problem]:
        """Check resolved properties against the schema.

        Values that are known only after apply (``KNOWN_AFTER_APPLY``) are not checked.
        Messages never quote the value of a write-only property.

        Args:
            properties: The properties.
            pointer: JSON pointer of the properties object (e.g. ``/Resources/A/Properties``).

        Returns:
            One problem per violation, each located by the pointer of the offending value.
        """
        validator = jsonschema.Draft7Validator(self.raw)
        problems: list[Problem] = []
        for error in validator.iter_errors(properties):
            path = list(error.absolute_path)
            if _path_hits_unknown(properties, path):
                continue
            # Errors about which keys are present hold whatever the values are.
            if error.validator not in _KEY_VALIDATORS and contains_unknown(error.instance):
                continue
            where = join_pointer(pointer, *path)
            if error.validator == "additionalProperties" and isinstance(error.instance, dict):
                # Point at the first unknown key itself (its line), not at the whole object.
                allowed = set(error.schema.get("properties", {}))
                extra = sorted(set(error.instance) - allowed)
                if extra:
                    where = join_pointer(where, extra[0])
            problems.append(
                Problem(
                    SourceLocation(None, None, None, where),
                    self._message(error, path),
                )
            )
        if isinstance(properties, dict):
            for name, value in properties.items():
                sub = self.raw.get("properties", {}).get(name)
                if isinstance(sub, dict) and sub.get("readOnly") and not _is_unknown(value):
                    problems.append(
                        Problem(
                            SourceLocation(None, None, None, join_pointer(pointer, name)),
                            f"{name} is a read-only attribute of {self.type_name}; "
                            "it cannot be set as a property.",
                        )
                    )
        problems.sort(key=lambda p: p.location.pointer)
        return problems

    def _message(self, error: jsonschema.ValidationError, path: list[Any]) -> str:
        """Word a validation error, hiding write-only values."""
        where = "/".join(str(p) for p in path) or "Properties"
        secret = bool(path) and str(path[0]) in self.write_only
        kind = error.validator
        if kind == "required":
            missing = str(error.message).split("'")[1] if "'" in error.message else "?"
            return f"{where}: the required property {missing} is missing."
        if kind == "additionalProperties":
            allowed = sorted(
                name
                for name, sub in error.schema.get("properties", {}).items()
                if not (isinstance(sub, dict) and sub.get("readOnly"))
            )
            extra = (
                sorted(set(error.instance) - set(allowed))
                if isinstance(error.instance, dict)
                else []
            )
            hint = _did_you_mean(extra, allowed)
            return (
                f"{where}: unknown propert{'y' if len(extra) == 1 else 'ies'} "
                f"{', '.join(extra)}; expected one of {', '.join(allowed)}.{hint}"
            )
        if kind in ("oneOf", "anyOf") and all(
            isinstance(s, dict) and set(s) == {"required"} for s in error.validator_value
        ):
            names = [n for s in error.validator_value for n in s["required"]]
            word = "exactly" if kind == "oneOf" else "at least"
            return f"{where}: set {word} one of {', '.join(names)}."
        if kind == "type":
            expected = error.validator_value
            if isinstance(expected, list):
                expected = " or ".join(expected)
            return f"{where}: expected {expected}, got {_json_type(error.instance)}."
        if secret:
            return f"{where}: the value does not satisfy '{kind}' (value hidden)."
        return f"{where}: {error.message}"

    def replacement_reason(self, name: str) -> str | None:
        """Say why changing a property forces replacement, or None if it does not.

        Args:
            name: A top-level property name.

        Returns:
            e.g. ``"Path is create-only"``.
        """
        if name in self.create_only:
            return f"{name} is create-only"
        return None


def _did_you_mean(extra: list[str], allowed: list[str]) -> str:
    import difflib

    for name in extra:
        close = difflib.get_close_matches(name, allowed, n=1)
        if close:
            return f" Did you mean {close[0]}?"
    return ""


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Provider(ABC):
    """A resource type: a schema and create, read, update and delete handlers.

    Subclasses set :attr:`schema` (and optionally :attr:`aliases`, other type names the
    registry maps to this provider).
    """

    schema: ClassVar[ResourceSchema]
    aliases: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def create(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Create the resource; SUCCESS carries the physical id and attributes."""

    @abstractmethod
    def update(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Update the resource in place (only called when no create-only property changed)."""

    @abstractmethod
    def delete(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Delete the resource; a resource that is already gone is SUCCESS."""

    @abstractmethod
    def read(self, request: ResourceRequest, context: ProviderContext) -> ReadResult | None:
        """Read the actual state of the resource; None when it does not exist."""

    def check(self, properties: dict[str, Any], *, pointer: str) -> list[Problem]:
        """Find every problem in a resource's resolved properties, before anything is done.

        ``stack plan``, ``stack apply`` and ``validate`` call it for each resource, so a mistake
        is reported with its location instead of failing the handler mid-apply. The default is
        the JSON-schema check; providers with rules a schema cannot say override it (and call
        this one first).

        Args:
            properties: The resolved properties (values only known after apply are
                ``KNOWN_AFTER_APPLY``).
            pointer: JSON pointer of the properties object (``/Resources/A/Properties``).

        Returns:
            One problem per mistake, each with the pointer of the offending value.
        """
        return self.schema.validate(properties, pointer=pointer)

    def requires_replacement(self, name: str, before: Any, after: Any) -> bool:
        """Tell whether changing property ``name`` from ``before`` to ``after`` forces replacement.

        Args:
            name: Top-level property name.
            before: The applied value (None when absent).
            after: The desired value (None when absent).

        Returns:
            True when the property is create-only (the default rule).
        """
        return name in self.schema.create_only

    def attribute_names(self) -> frozenset[str] | None:
        """Return the GetAtt attribute names, or None when any name may exist (opaque).

        Returns:
            The schema's read-only properties by default.
        """
        return self.schema.read_only
