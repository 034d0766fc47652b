"""``Stackflow::Schedule`` (alias ``AWS::Scheduler::Schedule``): start a workflow on a timetable.

AWS EventBridge Scheduler's property names:

* ``ScheduleExpression`` (required): ``cron(...)`` (AWS's six fields), ``rate(...)``,
  ``at(...)``, or classic five-field cron.
* ``ScheduleExpressionTimezone``: IANA zone of cron and at() expressions (default UTC).
* ``FlexibleTimeWindow``: ``{Mode: OFF}`` or ``{Mode: FLEXIBLE, MaximumWindowInMinutes: n}``.
* ``State``: ``ENABLED`` (default) or ``DISABLED``.
* ``StartDate``, ``EndDate``: ISO 8601 date-times (UTC when no offset is written).
* ``Target``: ``Arn`` (a workflow name, ``NAME:VERSION``, or a state machine ARN, e.g. what
  ``!Ref`` of a ``Stackflow::Workflow`` returns) and ``Input`` (JSON text, or an object).
* ``Name`` (create-only): default ``<stack>-<logical id>``.
* ``CatchUp`` (stackflow's own): ``skip`` (default), ``once`` or ``all`` for fire times missed
  while no scheduler ran.
* ``GroupName``, ``Description``, ``KmsKeyArn``, ``ActionAfterCompletion`` and the target's
  ``RoleArn``, ``RetryPolicy``, ``DeadLetterConfig``: accepted so AWS templates run unchanged,
  and ignored.

The provider stores a :class:`~stackflow.store.schedules.ScheduleRecord` (``store.schedules``);
the scheduler of ``stackflow server`` starts the runs. ``Ref`` returns the name; ``Fn::GetAtt``
gives ``Arn``. See ``docs/schedules.md``.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from stackflow.errors import ProviderError
from stackflow.providers.base import (
    ProgressEvent,
    Provider,
    ProviderContext,
    ReadResult,
    ResourceRequest,
    ResourceSchema,
)
from stackflow.providers.common import (
    invalid,
    name_taken,
    stack_resource_name,
    whole_store,
)
from stackflow.scheduler.expressions import ExpressionError, parse_expression
from stackflow.scheduler.schedule import (
    ScheduleSpec,
    parse_instant,
    schedule_arn,
    valid_schedule_name,
)
from stackflow.scheduler.zones import load_zone
from stackflow.store.schedules import ScheduleRecord

TYPE_NAME = "Stackflow::Schedule"
_NAME_PATTERN = "^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"
_STATE_MACHINE_ARN = re.compile(r"^arn:[^:]+:states:[^:]*:[^:]*:stateMachine:(.+)$")
_WORKFLOW_REF = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(:[0-9]+)?$")
_IGNORED = ("GroupName", "Description", "KmsKeyArn", "ActionAfterCompletion")
_IGNORED_TARGET = ("RoleArn", "RetryPolicy", "DeadLetterConfig")
#: Properties that decide when the schedule fires: changing one forgets owed fire times.
_TIMING = ("expression", "timezone", "start_date")

SCHEMA = ResourceSchema.from_dict(
    {
        "typeName": TYPE_NAME,
        "description": "Starts a workflow on a cron, rate or one-time schedule "
        "(EventBridge Scheduler's properties).",
        "properties": {
            "Name": {
                "type": "string",
                "pattern": _NAME_PATTERN,
                "maxLength": 64,
                "description": "Schedule name (default <stack>-<logical id>); prefixes the "
                "names of its executions.",
            },
            "ScheduleExpression": {
                "type": "string",
                "description": "cron(m h dom mon dow year), rate(n unit), "
                "at(yyyy-mm-ddThh:mm:ss) or five-field cron.",
            },
            "ScheduleExpressionTimezone": {
                "type": "string",
                "description": "IANA time zone of cron and at() expressions (default UTC).",
            },
            "FlexibleTimeWindow": {
                "type": "object",
                "additionalProperties": False,
                "required": ["Mode"],
                "properties": {
                    "Mode": {"type": "string", "enum": ["OFF", "FLEXIBLE"]},
                    "MaximumWindowInMinutes": {"type": "integer", "minimum": 1, "maximum": 1440},
                },
            },
            "State": {"type": "string", "enum": ["ENABLED", "DISABLED"]},
            "StartDate": {"type": "string", "description": "ISO 8601; UTC without offset."},
            "EndDate": {"type": "string", "description": "ISO 8601; UTC without offset."},
            "Target": {
                "type": "object",
                "additionalProperties": False,
                "required": ["Arn"],
                "properties": {
                    "Arn": {
                        "type": "string",
                        "description": "Workflow name, NAME:VERSION or state machine ARN.",
                    },
                    "Input": {
                        "type": ["string", "object", "array"],
                        "description": "Execution input as JSON text (or an object).",
                    },
                    **{
                        name: {"description": "Accepted for AWS compatibility and ignored."}
                        for name in _IGNORED_TARGET
                    },
                },
            },
            "CatchUp": {
                "type": "string",
                "enum": ["skip", "once", "all"],
                "description": "Fire times missed while no scheduler ran: skip (default), "
                "run the latest once, or run all.",
            },
            **{
                name: {"description": "Accepted for AWS compatibility and ignored."}
                for name in _IGNORED
            },
            "Arn": {"type": "string", "readOnly": True, "description": "The schedule ARN."},
        },
        "required": ["ScheduleExpression", "Target"],
        "createOnlyProperties": ["/properties/Name"],
        "readOnlyProperties": ["/properties/Arn"],
        "writeOnlyProperties": [],
        "primaryIdentifier": ["/properties/Name"],
        "additionalProperties": False,
    }
)


#: The schedule name: ``Name``, the physical id, or ``<stack>-<logical id>``.
schedule_name = stack_resource_name


def check_record_name(name: str) -> None:
    """Refuse a schedule or trigger name the store does not accept.

    Args:
        name: The name.

    Raises:
        ProviderError: InvalidRequest saying what a name may hold.
    """
    if not valid_schedule_name(name):
        raise invalid(
            f"Name {name!r}: expected at most 64 letters, digits, '_', '-' and '.' "
            "(not starting with '.')"
        )


def target_workflow(arn: Any) -> str:
    """Return the workflow a ``Target.Arn`` names.

    Args:
        arn: A workflow name, ``NAME:VERSION``, or a state machine ARN.

    Raises:
        ProviderError: InvalidRequest for anything else.
    """
    text = str(arn) if isinstance(arn, str) else ""
    match = _STATE_MACHINE_ARN.match(text)
    workflow = match.group(1) if match else text
    if not _WORKFLOW_REF.match(workflow):
        raise invalid(
            f"Target.Arn {arn!r}: expected a workflow name, NAME:VERSION or a state machine ARN "
            "(arn:aws:states:REGION:ACCOUNT:stateMachine:NAME); stackflow schedules start "
            "workflows only"
        )
    return workflow


def _input(value: Any) -> Any:
    if value is None or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise invalid(f"Target.Input: expected JSON text ({exc})") from None


def _problems(exc: ExpressionError) -> ProviderError:
    lines = "; ".join(
        f"{p.location.pointer.lstrip('/')}: {p.message}" if p.location.pointer else p.message
        for p in exc.problems
    )
    return invalid(f"Invalid schedule: {lines}")


def build_spec(request: ResourceRequest, created_at: float) -> ScheduleSpec:
    """Validate a request's properties and build the schedule spec.

    Args:
        request: The request.
        created_at: The schedule's creation time (epoch seconds); rate schedules without a
            start date count from it.

    Raises:
        ProviderError: InvalidRequest naming the property at fault and what was expected.
    """
    props = request.properties
    name = schedule_name(request)
    check_record_name(name)
    window = props.get("FlexibleTimeWindow") or {"Mode": "OFF"}
    minutes = None
    if window.get("Mode") == "FLEXIBLE":
        minutes = window.get("MaximumWindowInMinutes")
        if minutes is None:
            raise invalid(
                "FlexibleTimeWindow.MaximumWindowInMinutes: required with Mode FLEXIBLE (1 to 1440)"
            )
    target = props.get("Target") or {}
    try:
        expression = str(props.get("ScheduleExpression", ""))
        parse_expression(expression, pointer="/ScheduleExpression")
        zone_name = str(props.get("ScheduleExpressionTimezone") or "UTC")
        load_zone(zone_name, pointer="/ScheduleExpressionTimezone")
        dates = {
            key: parse_instant(props[prop], pointer=f"/{prop}")
            for key, prop in (("start_date", "StartDate"), ("end_date", "EndDate"))
            if props.get(prop) is not None
        }
        return ScheduleSpec(
            expression,
            timezone=zone_name,
            state=str(props.get("State") or "ENABLED"),
            flexible_window_minutes=minutes,
            catch_up=str(props.get("CatchUp") or "skip"),
            workflow=target_workflow(target.get("Arn")),
            input=_input(target.get("Input")),
            created_at=datetime.fromtimestamp(created_at, UTC),
            **dates,
        )
    except ExpressionError as exc:
        raise _problems(exc) from None


def _schedules(context: ProviderContext) -> Any:
    """Return the schedule store reachable from the context, or fail clearly."""
    return whole_store(context, TYPE_NAME).schedules


class ScheduleProvider(Provider):
    """The ``Stackflow::Schedule`` resource type (also ``AWS::Scheduler::Schedule``)."""

    schema = SCHEMA
    aliases = ("AWS::Scheduler::Schedule",)

    def create(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Validate the properties and store the schedule."""
        store = _schedules(context)
        name = schedule_name(request)
        existing = store.find_schedule(name)
        taken = name_taken(existing, request, "a schedule", name)
        return taken or self._write(request, store, name, existing)

    def update(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Store the new spec; a changed timing or a re-enabled schedule owes no past runs."""
        store = _schedules(context)
        name = schedule_name(request)
        return self._write(request, store, name, store.find_schedule(name))

    def _write(
        self,
        request: ResourceRequest,
        store: Any,
        name: str,
        existing: ScheduleRecord | None,
    ) -> ProgressEvent:
        now = time.time()
        spec = build_spec(request, existing.created_at if existing is not None else now)
        stored = store.put_schedule(
            ScheduleRecord(
                name=name,
                spec=spec.to_json(),
                stack_name=request.stack_name,
                logical_id=request.logical_id,
                last_fire_time=None,
                created_at=now,
                updated_at=now,
            )
        )
        if existing is not None and _forget_past(existing, spec):
            last = stored.last_fire_time
            store.advance(name, last, max(now, last or now))
        return ProgressEvent.success(name, {"Arn": schedule_arn(name)})

    def delete(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Remove the schedule; a missing one is success."""
        _schedules(context).delete_schedule(schedule_name(request))
        return ProgressEvent.success(request.physical_id)

    def read(self, request: ResourceRequest, context: ProviderContext) -> ReadResult | None:
        """Return the stored schedule in the request's property names (for drift)."""
        name = schedule_name(request)
        record = _schedules(context).find_schedule(name)
        if record is None:
            return None
        stored = dict(record.spec)
        desired: dict[str, Any] = {}
        with contextlib.suppress(ProviderError):
            desired = build_spec(request, record.created_at).to_json()
        props = request.properties
        actual: dict[str, Any] = {}
        for key, fields in _READ_FIELDS.items():
            if key not in props:
                continue
            if all(stored.get(f) == desired.get(f) for f in fields):
                actual[key] = props[key]
            else:
                actual[key] = _render(key, stored)
        if "Name" in props:
            actual["Name"] = record.name
        return ReadResult(actual, {"Arn": schedule_arn(name)})


_READ_FIELDS: dict[str, tuple[str, ...]] = {
    "ScheduleExpression": ("expression",),
    "ScheduleExpressionTimezone": ("timezone",),
    "State": ("state",),
    "CatchUp": ("catch_up",),
    "StartDate": ("start_date",),
    "EndDate": ("end_date",),
    "FlexibleTimeWindow": ("flexible_window_minutes",),
    "Target": ("workflow", "input"),
}


def _render(key: str, stored: dict[str, Any]) -> Any:
    """Show a stored spec value under its AWS property name."""
    if key == "FlexibleTimeWindow":
        minutes = stored.get("flexible_window_minutes")
        return (
            {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": minutes} if minutes else {"Mode": "OFF"}
        )
    if key == "Target":
        return {"Arn": stored.get("workflow"), "Input": json.dumps(stored.get("input"))}
    return stored.get(_READ_FIELDS[key][0])


def _forget_past(existing: ScheduleRecord, spec: ScheduleSpec) -> bool:
    """Tell whether an update makes the fire times owed so far moot."""
    before = existing.spec
    after = spec.to_json()
    if any(before.get(key) != after.get(key) for key in _TIMING):
        return True
    return before.get("state") == "DISABLED" and spec.state == "ENABLED"
