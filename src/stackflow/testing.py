"""Helpers for testing workflows (shipped for users, used by stackflow's own tests).

``run_workflow`` runs a definition to completion on an in-memory store. With ``time_skipping``
(the default) a fake clock jumps over Wait states and retry intervals whenever nothing else can
happen, so a workflow that waits for a day finishes in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stackflow.clock import FakeClock
from stackflow.engine import DefinitionSource, Engine
from stackflow.store.base import HistoryEvent
from stackflow.store.memory import MemoryStore
from stackflow.types import JSON
from stackflow.workflow.code.decorators import WorkflowFunction


@dataclass(frozen=True)
class WorkflowResult:
    """The outcome of :func:`run_workflow`.

    Attributes:
        execution_id: The execution's id.
        status: SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
        output: Output when SUCCEEDED.
        error: Error name when not SUCCEEDED.
        cause: Cause when not SUCCEEDED.
        events: The history, each event with ``type`` (e.g. ``PassStateEntered``) and ``details``.
    """

    execution_id: str
    status: str
    output: JSON = None
    error: str | None = None
    cause: str | None = None
    events: list[HistoryEvent] = field(default_factory=list)


def run_workflow(
    definition: DefinitionSource,
    input: JSON = None,
    *,
    time_skipping: bool = True,
    timeout: float | None = 30.0,
) -> WorkflowResult:
    """Run a workflow definition to completion on an in-memory store.

    Args:
        definition: The definition (parsed JSON, a loaded definition, or a file path), or a
            ``@stackflow.workflow`` function (a code workflow; its sleeps are skipped too).
        input: Execution input (default ``{}``).
        time_skipping: Skip waits and retry intervals on a fake clock; False runs in real time.
        timeout: Real seconds to wait for the execution to end.

    Returns:
        The execution's status, output, error, cause and history.

    Raises:
        DefinitionError: The definition is invalid.
        TimeoutError: The execution did not end within ``timeout``.
    """
    clock = FakeClock() if time_skipping else None
    if callable(definition) and not isinstance(definition, WorkflowFunction):
        raise TypeError("run_workflow takes a definition or a @stackflow.workflow function")
    engine = Engine(MemoryStore(), clock=clock)
    try:
        record = engine.run(definition, {} if input is None else input, timeout=timeout)
        return WorkflowResult(
            execution_id=record.execution_id,
            status=record.status,
            output=record.output,
            error=record.error,
            cause=record.cause,
            events=engine.history(record.execution_id),
        )
    finally:
        engine.close()


# ---------------------------------------------------------------------------------------------
# CloudFormation-language helpers (the contract of ../shared/conformance/cfn/run.py)


@dataclass(frozen=True)
class TemplateResult:
    """The outcome of :func:`resolve_template`.

    Attributes:
        resources: ``{logical id: {"Type": ..., "Properties": {...}}}`` of the resources whose
            Condition is true, properties fully resolved.
        outputs: ``{name: value}`` of the outputs whose Condition is true.
        conditions: ``{name: bool}``.
        order: Logical ids in a valid creation order.
    """

    resources: dict[str, dict[str, object]]
    outputs: dict[str, object]
    conditions: dict[str, bool]
    order: list[str]


class _EchoValues:
    """Resource values for tests: given ids/attributes, else ``X-physical`` / ``X.Attr``."""

    def __init__(
        self,
        physical_ids: dict[str, str] | None,
        attributes: dict[str, dict[str, object]] | None,
    ) -> None:
        self.physical_ids = physical_ids or {}
        self.attributes = attributes or {}

    def physical_id(self, logical_id: str) -> object:
        return self.physical_ids.get(logical_id, f"{logical_id}-physical")

    def attribute(self, logical_id: str, name: str) -> object:
        return self.attributes.get(logical_id, {}).get(name, f"{logical_id}.{name}")


def _load_any(template: dict[str, object] | str) -> object:
    from stackflow.template.loader import from_document, load_template

    if isinstance(template, str):
        return load_template(template)
    return from_document(template)  # type: ignore[arg-type]


def expand_template(template: dict[str, object] | str) -> dict[str, object]:
    """Apply ``AWS::LanguageExtensions`` to a template, whether or not it declares it.

    Args:
        template: The template as a dict, or JSON/YAML text.

    Returns:
        The processed template.

    Raises:
        TemplateError: For an invalid template.
    """
    from stackflow.template.extensions import expand_template as expand
    from stackflow.template.loader import LoadedTemplate

    loaded = _load_any(template)
    assert isinstance(loaded, LoadedTemplate)
    return expand(loaded.document, loaded.source_map)


def _pseudo(pseudo: dict[str, object] | None) -> object:
    from stackflow.template.model import PseudoParameters

    values = dict(pseudo or {})
    zones = values.get("AvailabilityZones")
    arns = values.get("AWS::NotificationARNs")
    return PseudoParameters(
        stack_name=str(values.get("AWS::StackName", "stack")),
        stack_id=str(values.get("AWS::StackId", "stackflow:stack/stack")),
        region=str(values.get("AWS::Region", "local")),
        account_id=str(values.get("AWS::AccountId", "000000000000")),
        partition=str(values.get("AWS::Partition", "aws")),
        url_suffix=str(values.get("AWS::URLSuffix", "localhost")),
        notification_arns=tuple(str(a) for a in arns) if isinstance(arns, list) else (),
        availability_zones=zones if isinstance(zones, dict) else {},
    )


def resolve_template(
    template: dict[str, object] | str,
    parameters: dict[str, str] | None = None,
    *,
    pseudo: dict[str, object] | None = None,
    physical_ids: dict[str, str] | None = None,
    attributes: dict[str, dict[str, object]] | None = None,
) -> TemplateResult:
    """Resolve a template as a deployment would, with echoed resource values.

    ``Ref`` of resource X returns ``physical_ids[X]`` (default ``"X-physical"``) and
    ``Fn::GetAtt X.Attr`` returns ``attributes[X][Attr]`` (default ``"X.Attr"``).

    Args:
        template: The template as a dict, or JSON/YAML text.
        parameters: Parameter values (strings).
        pseudo: Pseudo parameters (``AWS::Region``...) and ``AvailabilityZones``.
        physical_ids: Physical ids of resources.
        attributes: Attributes of resources.

    Returns:
        Resolved resources, outputs, condition values and a creation order.

    Raises:
        TemplateError: For an invalid template or parameter values.
    """
    from stackflow.template.loader import LoadedTemplate
    from stackflow.template.model import PseudoParameters
    from stackflow.template.prepare import prepare_template

    loaded = _load_any(template)
    assert isinstance(loaded, LoadedTemplate)
    pseudo_values = _pseudo(pseudo)
    assert isinstance(pseudo_values, PseudoParameters)
    prepared = prepare_template(loaded, parameters, pseudo_values)
    values = _EchoValues(physical_ids, attributes)
    resources: dict[str, dict[str, object]] = {}
    for lid in prepared.order:
        declaration = prepared.resources[lid]
        resources[lid] = {
            "Type": declaration.type,
            "Properties": prepared.resolve_properties(lid, values),
        }
    outputs = {name: out.value for name, out in prepared.resolve_outputs(values).items()}
    return TemplateResult(resources, outputs, dict(prepared.conditions), list(prepared.order))
