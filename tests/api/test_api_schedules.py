"""Schedule routes: list, describe with next fire times, backfill (records put in the store)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from api_support import bearer, wait_for
from fastapi.testclient import TestClient

from stackflow.api import AuthConfig, create_app
from stackflow.engine import Engine
from stackflow.scheduler.schedule import ScheduleSpec, execution_name
from stackflow.store.schedules import ScheduleRecord

WORKFLOW = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def add_schedule(
    engine: Engine, name: str, expression: str, *, stack: str = "app", **settings: object
) -> None:
    created = datetime(2025, 1, 1, tzinfo=UTC)
    spec = ScheduleSpec(expression, workflow="nightly", created_at=created, **settings)  # type: ignore[arg-type]
    now = time.time()
    engine.store.schedules.put_schedule(
        ScheduleRecord(name, spec.to_json(), stack, "Tick", None, now, now)
    )


def test_list_and_describe(client: TestClient, engine: Engine) -> None:
    add_schedule(engine, "berlin", "cron(0 9 ? * MON *)", timezone="Europe/Berlin", input={"a": 1})
    add_schedule(engine, "off", "rate(5 minutes)", stack="other", state="DISABLED")

    listed = client.get("/api/v1/schedules")
    assert listed.status_code == 200, listed.text
    rows = {row["name"]: row for row in listed.json()}
    assert set(rows) == {"berlin", "off"}
    berlin = rows["berlin"]
    assert (berlin["expression"], berlin["timezone"], berlin["state"]) == (
        "cron(0 9 ? * MON *)",
        "Europe/Berlin",
        "ENABLED",
    )
    assert (berlin["stack"], berlin["workflow"], berlin["input"]) == ("app", "nightly", {"a": 1})
    (first,) = berlin["next_fire_times"]  # one in the list
    local = datetime.fromisoformat(first["local"])
    assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
    assert local > datetime.now(UTC)
    assert rows["off"]["next_fire_times"] == []
    assert [r["name"] for r in client.get("/api/v1/schedules?stack=other").json()] == ["off"]

    described = client.get("/api/v1/schedules/berlin")
    assert described.status_code == 200, described.text
    times = described.json()["next_fire_times"]
    assert len(times) == 5
    assert times[0] == first
    assert [t["utc"] for t in times] == sorted(t["utc"] for t in times)
    assert len(client.get("/api/v1/schedules/berlin?count=2").json()["next_fire_times"]) == 2
    assert client.get("/api/v1/schedules/berlin?count=-1").status_code == 422

    missing = client.get("/api/v1/schedules/nope")
    assert missing.status_code == 404
    assert "Known schedules: berlin, off" in missing.json()["message"]


def test_backfill_starts_each_fire_time_once(client: TestClient, engine: Engine) -> None:
    deployed = client.post("/api/v1/workflows", json={"name": "nightly", "definition": WORKFLOW})
    assert deployed.status_code == 201, deployed.text
    add_schedule(engine, "hourly", "cron(0 * * * ? *)", timezone="Europe/Berlin")
    body = {"from": "2025-06-01T10:00:00", "to": "2025-06-01T12:00:00"}  # Berlin time

    response = client.post("/api/v1/schedules/hourly/backfill", json=body)
    assert response.status_code == 200, response.text
    runs = response.json()
    assert [r["fire_time"] for r in runs] == [
        "2025-06-01T08:00:00Z",
        "2025-06-01T09:00:00Z",
        "2025-06-01T10:00:00Z",
    ]
    fire = datetime(2025, 6, 1, 8, tzinfo=UTC)
    assert runs[0]["execution_name"] == execution_name("hourly", fire)
    ids = [r["execution"] for r in runs]
    assert all(ids)
    wait_for(lambda: all(engine.describe(i).status == "SUCCEEDED" for i in ids))

    again = client.post("/api/v1/schedules/hourly/backfill", json=body).json()
    assert [r["execution"] for r in again] == ids  # the same executions, not new ones
    assert len(engine.list_executions(workflow="nightly", limit=100)) == 3


def test_backfill_errors(client: TestClient, engine: Engine) -> None:
    add_schedule(engine, "hourly", "cron(0 * * * ? *)")
    bad = client.post(
        "/api/v1/schedules/hourly/backfill", json={"from": "yesterday", "to": "2025-01-01"}
    )
    assert bad.status_code == 400
    (problem,) = bad.json()["problems"]
    assert problem["pointer"] == "/from"
    assert "'yesterday' is not a date-time" in problem["message"]
    future = client.post(
        "/api/v1/schedules/hourly/backfill",
        json={"from": "2025-01-01T00:00:00Z", "to": "2999-01-01T00:00:00Z"},
    )
    assert future.status_code == 400
    assert "must lie in the past" in future.json()["message"]
    missing = client.post(
        "/api/v1/schedules/nope/backfill", json={"from": "2025-01-01", "to": "2025-01-02"}
    )
    assert missing.status_code == 404
    assert client.post("/api/v1/schedules/hourly/backfill", json={"from": "x"}).status_code == 422


def test_roles(engine: Engine, make_token: Callable[[str], str]) -> None:
    add_schedule(engine, "hourly", "cron(0 * * * ? *)")
    secured = TestClient(create_app(engine, auth=AuthConfig(True, engine.store.tokens)))
    read = bearer(make_token("read"))
    assert secured.get("/api/v1/schedules").status_code == 401
    assert secured.get("/api/v1/schedules", headers=read).status_code == 200
    assert secured.get("/api/v1/schedules/hourly", headers=read).status_code == 200
    body = {"from": "2025-01-01T00:00:00Z", "to": "2025-01-01T01:00:00Z"}
    denied = secured.post("/api/v1/schedules/hourly/backfill", json=body, headers=read)
    assert denied.status_code == 403
    assert engine.list_executions(limit=10) == []
