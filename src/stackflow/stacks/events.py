"""Stack events: recorded in the store and handed to the caller's ``on_event`` callback."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from stackflow.clock import Clock
from stackflow.stacks.changes import mask_secrets
from stackflow.stacks.status import STACK_TYPE
from stackflow.store.stacks import StackEvent, StackStore

#: The live-progress callback: called once per recorded event, in ``seq`` order.
EventCallback = Callable[[StackEvent], None]


class EventSink:
    """Records the events of one operation and forwards them to ``on_event``.

    Events are recorded one by one under a lock, so ``on_event`` sees them in ``seq`` order,
    one at a time (possibly from a worker thread). Reasons have NoEcho values masked.

    Args:
        store: The stack store.
        clock: Source of timestamps.
        stack_id: The stack.
        stack_name: Its name (the logical id of stack events).
        operation_id: The operation.
        secrets: NoEcho values to mask in reasons.
        on_event: The caller's callback, or None.
    """

    def __init__(
        self,
        store: StackStore,
        clock: Clock,
        stack_id: str,
        stack_name: str,
        operation_id: str,
        secrets: Iterable[str] = (),
        on_event: EventCallback | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.stack_id = stack_id
        self.stack_name = stack_name
        self.operation_id = operation_id
        self.secrets = [s for s in secrets if s]
        self.on_event = on_event
        self._lock = threading.Lock()

    def mask(self, text: str | None) -> str | None:
        """Return ``text`` with NoEcho values replaced by ``****``."""
        if text is None:
            return None
        return str(mask_secrets(text, self.secrets))

    def resource(
        self,
        logical_id: str,
        resource_type: str,
        physical_id: str | None,
        status: str,
        reason: str | None = None,
    ) -> StackEvent:
        """Record a resource event and return it (with its ``seq``)."""
        return self._add(logical_id, resource_type, physical_id, status, reason)

    def stack(self, status: str, reason: str | None = None) -> StackEvent:
        """Record a stack event (logical id = stack name, physical id = stack id)."""
        return self._add(self.stack_name, STACK_TYPE, self.stack_id, status, reason)

    def _add(
        self,
        logical_id: str,
        resource_type: str,
        physical_id: str | None,
        status: str,
        reason: str | None,
    ) -> StackEvent:
        event = StackEvent(
            stack_id=self.stack_id,
            seq=0,
            timestamp=self.clock.now(),
            logical_id=logical_id,
            physical_id=physical_id,
            resource_type=resource_type,
            status=status,
            reason=self.mask(reason),
            operation_id=self.operation_id,
        )
        with self._lock:
            stored = self.store.add_events([event])[0]
            if self.on_event is not None:
                try:
                    self.on_event(stored)
                except Exception:  # a display error must not break the operation
                    self.on_event = None
        return stored
