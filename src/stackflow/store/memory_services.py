"""In-memory service store: dictionaries behind one lock (the reference for the SQLite one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from stackflow.errors import ConflictError, NotFoundError
from stackflow.store.leases import lease_is_free
from stackflow.store.memory_tables import LockedStore
from stackflow.store.memory_tables import json_copy as _copy
from stackflow.store.services import (
    ReplicaRecord,
    ServiceRecord,
    ServiceStore,
    check_service_fields,
)

__all__ = ["MemoryServiceStore"]


def _service_copy(record: ServiceRecord) -> ServiceRecord:
    return replace(
        record,
        spec=_copy(record.spec),
        previous_spec=_copy(record.previous_spec),
        rollout=_copy(record.rollout),
        deleted=bool(record.deleted),
    )


class MemoryServiceStore(LockedStore, ServiceStore):
    """A thread-safe :class:`ServiceStore` kept in memory (lost when the process ends).

    Args:
        check_open: Called (under the lock) before every operation; raises
            :class:`~stackflow.errors.StoreError` once the owning store is closed.
    """

    def __init__(self, check_open: Callable[[], None] | None = None) -> None:
        super().__init__(check_open)
        self._services: dict[str, ServiceRecord] = {}
        self._replicas: dict[str, dict[str, ReplicaRecord]] = {}
        self._controllers: dict[str, float] = {}

    # -- services ------------------------------------------------------------------------------

    def put_service(self, record: ServiceRecord) -> ServiceRecord:
        """Create the service or replace the one with the same name, and return it as stored."""
        with self._locked():
            old = self._services.get(record.name)
            if old is None:
                stored = _service_copy(replace(record, version=1))
            else:
                stored = _service_copy(
                    replace(
                        record,
                        owner=old.owner,
                        lease_expires=old.lease_expires,
                        version=old.version + 1,
                    )
                )
            self._services[record.name] = stored
            return _service_copy(stored)

    def find_service(self, name: str) -> ServiceRecord | None:
        """Return a service like :meth:`get_service`, or None."""
        with self._locked():
            found = self._services.get(name)
            return None if found is None else _service_copy(found)

    def list_services(
        self, *, stack_name: str | None = None, include_deleted: bool = False
    ) -> list[ServiceRecord]:
        """Return the services (of one stack when given), by name; deleted ones only if asked."""
        with self._locked():
            return [
                _service_copy(record)
                for name, record in sorted(self._services.items())
                if (include_deleted or not record.deleted)
                and (stack_name is None or record.stack_name == stack_name)
            ]

    def update_service(
        self, name: str, *, expected_version: int | None = None, **fields: Any
    ) -> ServiceRecord:
        """Change some fields of a service, bump its version, and return the new record.

        Raises:
            TypeError: A field name is unknown (nothing is written).
            NotFoundError: No such service.
            ConflictError: The version is not ``expected_version``.
        """
        check_service_fields(fields)
        with self._locked():
            current = self._services.get(name)
            if current is None:
                raise NotFoundError(f"service {name!r} does not exist")
            if expected_version is not None and current.version != expected_version:
                raise ConflictError(
                    f"service {name!r} is at version {current.version}, not"
                    f" {expected_version}: it changed meanwhile"
                )
            updated = _service_copy(replace(current, **fields, version=current.version + 1))
            self._services[name] = updated
            return _service_copy(updated)

    def delete_service(self, name: str) -> None:
        """Remove a service record and its replica records (no error when missing)."""
        with self._locked():
            self._services.pop(name, None)
            self._replicas.pop(name, None)

    # -- replicas ------------------------------------------------------------------------------

    def put_replica(self, record: ReplicaRecord) -> None:
        """Insert or replace the replica ``(record.service, record.replica_id)``."""
        with self._locked():
            self._replicas.setdefault(record.service, {})[record.replica_id] = record

    def delete_replica(self, service: str, replica_id: str) -> None:
        """Forget a replica (no error when it is not recorded)."""
        with self._locked():
            replicas = self._replicas.get(service)
            if replicas is not None:
                replicas.pop(replica_id, None)
                if not replicas:
                    del self._replicas[service]

    def list_replicas(self, service: str) -> list[ReplicaRecord]:
        """Return the replicas of a service by slot, then replica id."""
        with self._locked():
            replicas = list(self._replicas.get(service, {}).values())
        return sorted(replicas, key=lambda r: (r.slot, r.replica_id))

    # -- leases --------------------------------------------------------------------------------

    def acquire_service_lease(
        self,
        name: str,
        owner: str,
        seconds: float,
        now: float,
        *,
        break_if: Callable[[str], bool] | None = None,
    ) -> bool:
        """Take (or renew) the service's lease for ``owner`` (see
        :meth:`ServiceStore.acquire_service_lease`).

        Returns:
            True when ``owner`` now holds the lease.
        """
        with self._locked():
            current = self._services.get(name)
            if current is None:
                return False
            free = lease_is_free(current.owner, current.lease_expires, owner, now, break_if)
            if free:
                self._services[name] = replace(current, owner=owner, lease_expires=now + seconds)
            return free

    def release_service_lease(self, name: str, owner: str) -> None:
        """Release the lease if ``owner`` holds it."""
        with self._locked():
            current = self._services.get(name)
            if current is not None and current.owner == owner:
                self._services[name] = replace(current, owner=None, lease_expires=None)

    # -- controllers ---------------------------------------------------------------------------

    def heartbeat(self, owner: str, now: float, seconds: float) -> None:
        """Record that controller ``owner`` is alive until ``now + seconds``."""
        with self._locked():
            self._controllers[owner] = now + seconds

    def remove_controller(self, owner: str) -> None:
        """Forget controller ``owner``."""
        with self._locked():
            self._controllers.pop(owner, None)

    def live_controllers(self, now: float) -> list[str]:
        """Return the controllers whose heartbeat has not expired at ``now``, sorted."""
        with self._locked():
            return sorted(owner for owner, until in self._controllers.items() if until > now)
