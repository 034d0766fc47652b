"""One stack operation: its intent log, its provider calls and its resource bookkeeping.

Every side effect goes through :class:`Operation`: an intent is written (``PENDING``, with the
desired properties, the previous state, the physical id hint and the request token) *before* the
provider is called, then the result (resource record, event, intent ``DONE`` or ``FAILED``). The
intent log is what crash recovery and rollback read.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackflow.clock import Clock
from stackflow.providers import (
    HandlerErrorCode,
    HandlerStatus,
    ProgressEvent,
    Provider,
    ProviderContext,
    ProviderRegistry,
    ReadResult,
    ResourceRequest,
    WorkflowDeployer,
    run_handler,
)
from stackflow.stacks.events import EventSink
from stackflow.stacks.locks import StackLock
from stackflow.stacks.results import ResourceFailure
from stackflow.store.stacks import IntentRecord, StackRecord, StackResourceRecord, StackStore

PENDING = "PENDING"
DONE = "DONE"
FAILED = "FAILED"
UNDONE = "UNDONE"

#: Intent phases: the forward walk, the cleanup after success, a stack delete, the header.
PHASE_APPLY = "apply"
PHASE_CLEANUP = "cleanup"
PHASE_DELETE = "delete"
PHASE_STACK = "stack"


@dataclass
class Services:
    """What every operation of a :class:`~stackflow.stacks.service.StackService` uses.

    Attributes:
        store: The stack store.
        registry: The resource providers.
        clock: Source of event and record timestamps.
        home: The stackflow home, handed to providers.
        workflows: The workflow deployer for ``Stackflow::Workflow`` (or None).
        stacks: The stack service itself, for nested stacks.
        lease_seconds: Stack lock lease.
        sleep: How handlers wait between IN_PROGRESS calls.
        resource_timeout: Default limit of one resource action, in seconds (None: no limit).
        root_store: The whole store, for providers that keep state of their own (services,
            schedules), or None.
    """

    store: StackStore
    registry: ProviderRegistry
    clock: Clock
    home: Path
    workflows: WorkflowDeployer | None = None
    stacks: Any = None
    lease_seconds: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    resource_timeout: float | None = None
    root_store: Any = None


def record_to_json(record: StackResourceRecord | None) -> dict[str, Any] | None:
    """Serialise a resource record for the intent log (None stays None)."""
    return dataclasses.asdict(record) if record is not None else None


def record_from_json(data: Mapping[str, Any] | None) -> StackResourceRecord | None:
    """Rebuild a resource record saved by :func:`record_to_json`."""
    if data is None:
        return None
    names = {f.name for f in dataclasses.fields(StackResourceRecord)}
    return StackResourceRecord(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Outcome:
    """The result of one resource action.

    Attributes:
        ok: True when it succeeded.
        record: The resource's record afterwards (None when deleted or never created).
        failure: What went wrong (when not ok).
        old: For an update whose provider returned a new physical id: the old resource, to
            delete in the cleanup phase.
    """

    ok: bool
    record: StackResourceRecord | None = None
    failure: ResourceFailure | None = None
    old: StackResourceRecord | None = None


class LiveValues:
    """Physical ids and attributes of the resources as they are now (for resolving templates).

    Args:
        records: The operation's live view of the records (read under ``lock``).
        lock: Guards ``records``.
    """

    def __init__(self, records: dict[str, StackResourceRecord], lock: threading.Lock) -> None:
        self._records = records
        self._lock = lock

    def physical_id(self, logical_id: str) -> Any:
        """Return the physical id of a resource that exists (KeyError otherwise)."""
        with self._lock:
            record = self._records[logical_id]
        if record.physical_id is None:
            raise KeyError(logical_id)
        return record.physical_id

    def attribute(self, logical_id: str, name: str) -> Any:
        """Return an attribute of a resource (KeyError when it has none of that name)."""
        with self._lock:
            record = self._records[logical_id]
        return record.attributes[name]


class Operation:
    """The state shared by the steps of one operation on one stack.

    Args:
        services: Store, registry, clock...
        stack: The stack record at the start of the operation.
        operation_id: The operation's id (key of its intent log).
        base_dir: The template's folder (relative paths of providers).
        events: Where events go.
        lock: The stack lock held by this operation (None in tests of parts).
        records: The stack's resources by logical id (default: read from the store).
    """

    def __init__(
        self,
        services: Services,
        stack: StackRecord,
        operation_id: str,
        base_dir: Path,
        events: EventSink,
        lock: StackLock | None = None,
        records: Mapping[str, StackResourceRecord] | None = None,
    ) -> None:
        self.services = services
        self.store = services.store
        self.stack = stack
        self.operation_id = operation_id
        self.base_dir = base_dir
        self.events = events
        self.lock = lock
        self.records_lock = threading.Lock()
        if records is None:
            records = {r.logical_id: r for r in self.store.list_resources(stack.stack_id)}
        self.records: dict[str, StackResourceRecord] = dict(records)
        existing = self.store.list_intents(operation_id)
        self._seq = itertools.count(max((i.seq for i in existing), default=0) + 1)
        self._seq_lock = threading.Lock()

    # ------------------------------------------------------------------ intents

    def write_intent(
        self,
        logical_id: str,
        action: str,
        data: dict[str, Any],
        *,
        hint: str | None = None,
        seq: int | None = None,
        state: str = PENDING,
    ) -> IntentRecord:
        """Write a new intent (``PENDING`` by default) before acting."""
        if seq is None:
            with self._seq_lock:
                seq = next(self._seq)
        intent = IntentRecord(
            operation_id=self.operation_id,
            seq=seq,
            logical_id=logical_id,
            action=action,
            state=state,
            physical_id_hint=hint or self.physical_id_hint(logical_id),
            request_token=uuid.uuid4().hex,
            data=data,
            updated_at=self.services.clock.now(),
        )
        self.store.put_intent(intent)
        return intent

    def finish_intent(self, intent: IntentRecord, state: str, **data: Any) -> IntentRecord:
        """Record an intent's outcome (and extra data) and return the new intent."""
        updated = dataclasses.replace(
            intent,
            state=state,
            data={**intent.data, **data},
            updated_at=self.services.clock.now(),
        )
        self.store.put_intent(updated)
        return updated

    def physical_id_hint(self, logical_id: str) -> str:
        """Return a fresh ``<stack>-<logical>-<random>`` hint."""
        return f"{self.stack.name}-{logical_id}-{uuid.uuid4().hex[:12]}"

    # ------------------------------------------------------------------ records

    def put_record(self, record: StackResourceRecord) -> None:
        """Store a resource record and update the live view."""
        self.store.put_resource(record)
        with self.records_lock:
            self.records[record.logical_id] = record

    def forget_record(self, logical_id: str) -> None:
        """Delete a resource record and drop it from the live view."""
        self.store.delete_resource(self.stack.stack_id, logical_id)
        with self.records_lock:
            self.records.pop(logical_id, None)

    def record(self, logical_id: str) -> StackResourceRecord | None:
        """Return the live record of a resource, or None."""
        with self.records_lock:
            return self.records.get(logical_id)

    def values(self) -> LiveValues:
        """Return resource values for resolving template expressions now."""
        return LiveValues(self.records, self.records_lock)

    def now(self) -> float:
        """Return the clock's time."""
        return self.services.clock.now()

    # ------------------------------------------------------------------ providers

    def provider(self, resource_type: str) -> Provider:
        """Return the provider of a type (ProviderError if unknown)."""
        return self.services.registry.get(resource_type)

    def request(
        self,
        logical_id: str,
        resource_type: str,
        *,
        physical_id: str | None,
        properties: Mapping[str, Any],
        hint: str,
        token: str,
        previous: StackResourceRecord | None = None,
    ) -> ResourceRequest:
        """Build a provider request for this stack."""
        return ResourceRequest(
            stack_name=self.stack.name,
            stack_id=self.stack.stack_id,
            logical_id=logical_id,
            resource_type=resource_type,
            physical_id=physical_id,
            physical_id_hint=hint,
            properties=dict(properties),
            previous_properties=dict(previous.properties) if previous is not None else None,
            previous_attributes=dict(previous.attributes) if previous is not None else None,
            request_token=token,
            base_dir=self.base_dir,
            timeout_seconds=self.services.resource_timeout,
        )

    def context(self, logical_id: str, resource_type: str, status: str) -> ProviderContext:
        """Build the provider context; progress messages become ``status`` events."""

        def report(message: str) -> None:
            self.events.resource(logical_id, resource_type, None, status, message)

        return ProviderContext(
            report=report,
            workflows=self.services.workflows,
            stacks=self.services.stacks,
            home=self.services.home,
            services=getattr(self.services.root_store, "services", None),
            store=self.services.root_store,
        )

    def call(
        self, handler: str, request: ResourceRequest, in_progress_status: str
    ) -> ProgressEvent:
        """Run ``create``/``update``/``delete`` of the request's provider to completion.

        Never raises for provider failures: they come back as a FAILED event (the reason with
        NoEcho values masked).
        """
        if self.lock is not None and self.lock.lost.is_set():
            return ProgressEvent.failed(
                "the stack lock was lost (another owner took the stack)",
                HandlerErrorCode.ResourceConflict,
            )
        try:
            provider = self.provider(request.resource_type)
        except Exception as exc:
            return ProgressEvent.failed(str(exc), HandlerErrorCode.InvalidRequest)
        context = self.context(request.logical_id, request.resource_type, in_progress_status)
        event = run_handler(getattr(provider, handler), request, context, sleep=self.services.sleep)
        if event.status == HandlerStatus.FAILED:
            message = self.events.mask(event.message) or "the provider reported a failure"
            return dataclasses.replace(event, message=message)
        return event

    def read(self, request: ResourceRequest) -> ReadResult | None:
        """Read a resource's actual state (exceptions propagate)."""
        provider = self.provider(request.resource_type)
        context = self.context(request.logical_id, request.resource_type, "READ")
        return provider.read(request, context)
