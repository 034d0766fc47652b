"""Persistence of HTTP triggers (``Stackflow::HttpTrigger``): which workflow a hook starts.

A trigger record names the workflow ``POST /hooks/NAME`` starts and how callers authenticate:
no check, a token, or an HMAC signature of the request body. The secret is kept for the server
to check requests (for a token only its SHA-256); it is never returned by the API nor shown in
stack outputs, events or change sets.

Each :class:`~stackflow.store.base.Store` gives one :class:`TriggerStore` through
``store.triggers``; the memory and SQLite backends implement it. Times are floats (epoch
seconds) passed in by the caller; the store reads no clock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from stackflow.errors import NotFoundError

__all__ = ["AUTH_TYPES", "TriggerRecord", "TriggerStore"]

#: How callers of a hook authenticate.
AUTH_TYPES = ("None", "Token", "Hmac")


@dataclass(frozen=True)
class TriggerRecord:
    """One HTTP trigger, as stored.

    Attributes:
        name: Unique trigger name (the physical id; the hook is ``/hooks/NAME``).
        workflow: The workflow it starts: ``NAME`` (latest version) or ``NAME:VERSION``.
        auth_type: One of :data:`AUTH_TYPES`.
        secret: ``Hmac``: the signing key; ``Token``: the SHA-256 (hex) of the token; None
            for ``None``.
        header: The request header holding an HMAC signature.
        algorithm: The HMAC digest (``sha256``).
        stack_name: The stack that owns it ("" when none).
        logical_id: Its logical id in the stack's template ("" when none).
        created_at: Creation time (epoch seconds); kept when the record is replaced.
        updated_at: Time of the last change (epoch seconds).
    """

    name: str
    workflow: str
    auth_type: str
    secret: str | None
    header: str
    algorithm: str
    stack_name: str
    logical_id: str
    created_at: float
    updated_at: float


class TriggerStore(ABC):
    """Persistence of HTTP triggers. Thread-safe."""

    @abstractmethod
    def put_trigger(self, record: TriggerRecord) -> TriggerRecord:
        """Create the trigger or replace the one with the same name; return it as stored.

        Replacing keeps the stored ``created_at``.
        """

    def get_trigger(self, name: str) -> TriggerRecord:
        """Return a trigger.

        Raises:
            NotFoundError: No such trigger.
        """
        found = self.find_trigger(name)
        if found is None:
            raise NotFoundError(f"trigger {name!r} does not exist")
        return found

    @abstractmethod
    def find_trigger(self, name: str) -> TriggerRecord | None:
        """Return a trigger like :meth:`get_trigger`, or None."""

    @abstractmethod
    def list_triggers(self, *, stack_name: str | None = None) -> list[TriggerRecord]:
        """Return the triggers (of one stack when given), by name."""

    @abstractmethod
    def delete_trigger(self, name: str) -> None:
        """Remove a trigger (no error when missing)."""
