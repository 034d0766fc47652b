"""Services and schedules through a server: :class:`RemoteServices` and :class:`RemoteSchedules`.

Both answer with the JSON shapes of :mod:`stackflow.views` and
:func:`stackflow.scheduler.service.describe_schedule`, which are the shapes ``stackflow service
...`` and ``stackflow schedule ... --json`` print locally, so the CLI renders a remote answer with
the code it uses for a local one. Errors come back as the local ones (a missing service or
schedule is a :class:`~stackflow.errors.NotFoundError` naming the known ones).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from stackflow.client.http import ApiClient

__all__ = ["RemoteSchedules", "RemoteServices"]


def _service_path(name: str) -> str:
    return f"/services/{quote(name, safe='')}"


def _schedule_path(name: str) -> str:
    return f"/schedules/{quote(name, safe='')}"


class RemoteServices:
    """Read and steer the ``Local::Service`` services of a stackflow server.

    Args:
        api: The server's client.
    """

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def list_services(self, stack: str | None = None) -> list[dict[str, Any]]:
        """Return the services as ``service list --json`` rows.

        Args:
            stack: Only this stack's services.
        """
        rows: list[dict[str, Any]] = self.api.request("GET", "/services", params={"stack": stack})
        return rows

    def describe(self, name: str) -> dict[str, Any]:
        """Return a service, its replicas and its supervisor (``service status --json``).

        Args:
            name: The service name.

        Raises:
            NotFoundError: No such service (or it is being deleted).
        """
        data: dict[str, Any] = self.api.request("GET", _service_path(name))
        return data

    def logs(self, name: str, lines: int, replica: int | None = None) -> list[dict[str, Any]]:
        """Return the last lines of each replica's log: ``[{"slot", "path", "lines"}]``.

        Args:
            name: The service name.
            lines: Last lines of each log.
            replica: Only the replica in this slot.

        Raises:
            NotFoundError: No such service, or no log of a replica in that slot.
        """
        rows: list[dict[str, Any]] = self.api.request(
            "GET", _service_path(name) + "/logs", params={"lines": lines, "replica": replica}
        )
        return rows

    def scale(self, name: str, replicas: int) -> dict[str, Any]:
        """Set the desired number of replicas; return ``{"name", "replicas", "previous"}``.

        Args:
            name: The service name.
            replicas: The desired number of replicas.
        """
        data: dict[str, Any] = self.api.request(
            "POST", _service_path(name) + "/scale", json={"replicas": replicas}
        )
        return data

    def restart(self, name: str) -> dict[str, Any]:
        """Request a rolling restart; return ``{"name", "restart_requested_at"}``.

        Args:
            name: The service name.
        """
        data: dict[str, Any] = self.api.request("POST", _service_path(name) + "/restart")
        return data


class RemoteSchedules:
    """Read the schedules of a stackflow server and backfill them.

    Args:
        api: The server's client.
    """

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def list_schedules(self, stack: str | None = None) -> list[dict[str, Any]]:
        """Return the schedules as ``schedule list --json`` rows (one next fire time each).

        Args:
            stack: Only this stack's schedules.
        """
        rows: list[dict[str, Any]] = self.api.request("GET", "/schedules", params={"stack": stack})
        return rows

    def describe(self, name: str, count: int = 5) -> dict[str, Any]:
        """Return a schedule with its next ``count`` fire times (``schedule describe --json``).

        Args:
            name: The schedule name.
            count: How many next fire times to list.

        Raises:
            NotFoundError: No such schedule.
        """
        data: dict[str, Any] = self.api.request(
            "GET", _schedule_path(name), params={"count": count}
        )
        return data

    def backfill(self, name: str, start: str, end: str) -> list[dict[str, Any]]:
        """Start the runs of every fire time from ``start`` to ``end``, run by the server.

        Args:
            name: The schedule name.
            start: First time of the range (ISO 8601; without an offset, in the schedule's zone).
            end: Last time of the range, inclusive.

        Returns:
            ``[{"fire_time", "execution_name", "execution"}]`` (``schedule backfill --json``).
        """
        rows: list[dict[str, Any]] = self.api.request(
            "POST", _schedule_path(name) + "/backfill", json={"from": start, "to": end}
        )
        return rows
