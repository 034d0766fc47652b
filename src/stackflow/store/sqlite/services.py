"""The SQLite service store: writes go through the store's single writer, reads use its readers.

Every write runs in the writer's next group commit (under a savepoint), so compare-and-set
operations (a version check, a lease) are atomic even across processes sharing the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from stackflow.errors import ConflictError, NotFoundError
from stackflow.store.leases import lease_is_free
from stackflow.store.services import (
    ReplicaRecord,
    ServiceRecord,
    ServiceStore,
    check_service_fields,
)
from stackflow.store.sqlite.tables import Table, WriterStore, execute

__all__ = ["SQLiteServiceStore"]

_SERVICES = Table("services", ServiceRecord, ("spec", "previous_spec", "rollout"))
_REPLICAS = Table("service_replicas", ReplicaRecord)
_SERVICE_UPDATE = (
    f"UPDATE services SET {', '.join(c + ' = ?' for c in _SERVICES.fields[1:])} WHERE name = ?"
)


def _service_from_row(row: Sequence[Any]) -> ServiceRecord:
    record = _SERVICES.record(row)
    return replace(record, deleted=bool(record.deleted))


def _load_service(conn: sqlite3.Connection, name: str) -> ServiceRecord | None:
    row = conn.execute(
        f"SELECT {_SERVICES.columns} FROM services WHERE name = ?", (name,)
    ).fetchone()
    return None if row is None else _service_from_row(row)


class SQLiteServiceStore(WriterStore, ServiceStore):
    """A :class:`ServiceStore` in the SQLite store's file.

    Args:
        writer: The store's single writer (every write runs in its group commit).
        query: Runs a read on the calling thread's reader connection.
    """

    # -- services ------------------------------------------------------------------------------

    def put_service(self, record: ServiceRecord) -> ServiceRecord:
        """Create the service or replace the one with the same name, and return it as stored."""

        def put(conn: sqlite3.Connection) -> ServiceRecord:
            old = _load_service(conn, record.name)
            if old is None:
                stored = replace(record, version=1)
                conn.execute(
                    f"INSERT INTO services ({_SERVICES.columns}) VALUES ({_SERVICES.marks})",
                    _SERVICES.row(stored),
                )
            else:
                stored = replace(
                    record,
                    owner=old.owner,
                    lease_expires=old.lease_expires,
                    version=old.version + 1,
                )
                row = _SERVICES.row(stored)
                conn.execute(_SERVICE_UPDATE, (*row[1:], record.name))
            return stored

        self._call(put)
        return self.get_service(record.name)

    def find_service(self, name: str) -> ServiceRecord | None:
        """Return a service like :meth:`get_service`, or None."""
        rows = self._query(f"SELECT {_SERVICES.columns} FROM services WHERE name = ?", (name,))
        return _service_from_row(rows[0]) if rows else None

    def list_services(
        self, *, stack_name: str | None = None, include_deleted: bool = False
    ) -> list[ServiceRecord]:
        """Return the services (of one stack when given), by name; deleted ones only if asked."""
        where: list[str] = []
        params: list[Any] = []
        if not include_deleted:
            where.append("deleted = 0")
        if stack_name is not None:
            where.append("stack_name = ?")
            params.append(stack_name)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._query(
            f"SELECT {_SERVICES.columns} FROM services{clause} ORDER BY name", tuple(params)
        )
        return [_service_from_row(row) for row in rows]

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

        def update(conn: sqlite3.Connection) -> ServiceRecord:
            current = _load_service(conn, name)
            if current is None:
                raise NotFoundError(f"service {name!r} does not exist")
            if expected_version is not None and current.version != expected_version:
                raise ConflictError(
                    f"service {name!r} is at version {current.version}, not"
                    f" {expected_version}: it changed meanwhile"
                )
            updated = replace(current, **fields, version=current.version + 1)
            row = _SERVICES.row(updated)
            conn.execute(_SERVICE_UPDATE, (*row[1:], name))
            return _service_from_row(row)

        return self._call(update)

    def delete_service(self, name: str) -> None:
        """Remove a service record and its replica records (no error when missing)."""

        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM service_replicas WHERE service = ?", (name,))
            conn.execute("DELETE FROM services WHERE name = ?", (name,))

        self._call(delete)

    # -- replicas ------------------------------------------------------------------------------

    def put_replica(self, record: ReplicaRecord) -> None:
        """Insert or replace the replica ``(record.service, record.replica_id)``."""
        row = _REPLICAS.row(record)

        def put(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT OR REPLACE INTO service_replicas ({_REPLICAS.columns})"
                f" VALUES ({_REPLICAS.marks})",
                row,
            )

        self._call(put)

    def delete_replica(self, service: str, replica_id: str) -> None:
        """Forget a replica (no error when it is not recorded)."""

        def delete(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM service_replicas WHERE service = ? AND replica_id = ?",
                (service, replica_id),
            )

        self._call(delete)

    def list_replicas(self, service: str) -> list[ReplicaRecord]:
        """Return the replicas of a service by slot, then replica id."""
        rows = self._query(
            f"SELECT {_REPLICAS.columns} FROM service_replicas WHERE service = ?"
            " ORDER BY slot, replica_id",
            (service,),
        )
        return [_REPLICAS.record(row) for row in rows]

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
        :meth:`ServiceStore.acquire_service_lease`); one compare-and-set in the writer.

        Returns:
            True when ``owner`` now holds the lease.
        """

        def acquire(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT owner, lease_expires FROM services WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                return False
            free = lease_is_free(row[0], row[1], owner, now, break_if)
            if free:
                conn.execute(
                    "UPDATE services SET owner = ?, lease_expires = ? WHERE name = ?",
                    (owner, now + seconds, name),
                )
            return free

        return self._call(acquire)

    def release_service_lease(self, name: str, owner: str) -> None:
        """Release the lease if ``owner`` holds it."""
        self._call(
            execute(
                "UPDATE services SET owner = NULL, lease_expires = NULL"
                " WHERE name = ? AND owner = ?",
                (name, owner),
            )
        )

    # -- controllers ---------------------------------------------------------------------------

    def heartbeat(self, owner: str, now: float, seconds: float) -> None:
        """Record that controller ``owner`` is alive until ``now + seconds``."""
        self._call(
            execute(
                "INSERT INTO service_controllers (owner, expires, heartbeat_at) VALUES (?, ?, ?)"
                " ON CONFLICT (owner) DO UPDATE SET expires = excluded.expires,"
                " heartbeat_at = excluded.heartbeat_at",
                (owner, now + seconds, now),
            )
        )

    def remove_controller(self, owner: str) -> None:
        """Forget controller ``owner``."""
        self._call(execute("DELETE FROM service_controllers WHERE owner = ?", (owner,)))

    def live_controllers(self, now: float) -> list[str]:
        """Return the controllers whose heartbeat has not expired at ``now``, sorted."""
        rows = self._query(
            "SELECT owner FROM service_controllers WHERE expires > ? ORDER BY owner", (now,)
        )
        return [row[0] for row in rows]
