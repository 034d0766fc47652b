"""In-process tests of ``stackflow schedule ...`` (click's CliRunner, a real SQLite home)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stackflow.cli.main import cli
from stackflow.engine import Engine
from stackflow.scheduler.schedule import ScheduleSpec
from stackflow.store.schedules import ScheduleRecord

PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    with Engine.open(path) as engine:
        engine.deploy(PASS, "wf")
        created = datetime(2025, 1, 1, tzinfo=UTC)
        for name, spec in (
            (
                "berlin-daily",
                ScheduleSpec(
                    "cron(0 9 * * ? *)",
                    timezone="Europe/Berlin",
                    workflow="wf",
                    input={"at": "<aws.scheduler.scheduled-time>"},
                    created_at=created,
                ),
            ),
            ("paused", ScheduleSpec("rate(1 hour)", state="DISABLED", workflow="wf")),
        ):
            at = created.timestamp()
            engine.store.schedules.put_schedule(
                ScheduleRecord(name, spec.to_json(), "app", name.title(), None, at, at)
            )
    return path


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)


def test_list_as_json_and_table(home: Path) -> None:
    result = run(home, "schedule", "list", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [d["name"] for d in data] == ["berlin-daily", "paused"]
    assert "T09:00:00+0" in data[0]["next_fire_times"][0]["local"]
    assert data[1]["next_fire_times"] == []
    table = run(home, "schedule", "list")
    assert table.exit_code == 0
    assert "cron(0 9 * * ? *)" in table.output and "Europe/Berlin" in table.output
    assert "DISABLED" in table.output
    only = json.loads(run(home, "schedule", "list", "--stack", "nope", "--json").output)
    assert only == []


def test_describe_shows_five_fire_times_in_the_schedules_zone(home: Path) -> None:
    result = run(home, "schedule", "describe", "berlin-daily")
    assert result.exit_code == 0, result.output
    assert "Next fire times (Europe/Berlin):" in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("  ")]
    assert len(lines) == 5
    assert all(" 09:00:00+0" in line for line in lines)
    data = json.loads(
        run(home, "schedule", "describe", "berlin-daily", "--json", "--count", "2").output
    )
    assert len(data["next_fire_times"]) == 2
    assert data["workflow"] == "wf"
    disabled = run(home, "schedule", "describe", "paused")
    assert "none (the schedule is disabled)" in disabled.output


def test_describe_an_unknown_schedule_names_the_known_ones(home: Path) -> None:
    result = CliRunner().invoke(cli, ["--home", str(home), "schedule", "describe", "nope"])
    assert result.exit_code == 1
    assert "no schedule named 'nope'" in result.output
    assert "berlin-daily, paused" in result.output


def test_backfill_records_each_past_fire_time_once(home: Path) -> None:
    args = ("schedule", "backfill", "berlin-daily", "--from", "2025-03-01T00:00")
    result = run(home, *args, "--to", "2025-03-03T23:59", "--json")
    assert result.exit_code == 0, result.output
    runs = json.loads(result.output)
    assert [r["execution_name"] for r in runs] == [
        "berlin-daily-20250301T080000Z",
        "berlin-daily-20250302T080000Z",
        "berlin-daily-20250303T080000Z",
    ]
    again = json.loads(run(home, *args, "--to", "2025-03-01T12:00", "--json").output)
    assert again[0]["execution"] == runs[0]["execution"]
    with Engine.open(home) as engine:
        records = engine.store.list_executions(workflow="wf")
        assert len(records) == 3
        first = engine.store.find_execution("wf", "berlin-daily-20250301T080000Z")
        assert first is not None
        assert first.input == {"at": "2025-03-01T08:00:00Z"}
        assert first.status == "RUNNING"  # recorded for a server or worker to run
    text = run(home, *args, "--to", "2025-03-01T12:00")
    assert "2025-03-01 09:00:00+01:00  berlin-daily-20250301T080000Z" in text.output


def test_backfill_errors(home: Path) -> None:
    base = ["--home", str(home), "schedule", "backfill", "berlin-daily"]
    future = CliRunner().invoke(cli, [*base, "--from", "2025-01-01T00:00", "--to", "2999-01-01"])
    assert future.exit_code == 1
    assert "must lie in the past" in future.output
    bad = CliRunner().invoke(cli, [*base, "--from", "last week", "--to", "2025-01-01T00:00"])
    assert bad.exit_code == 2
    assert "is not a date-time" in bad.output
