"""Smoke test of benchmarks/api.py: ``--quick --json`` reports the start rate and schedule delay."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "api.py"

pytest.importorskip("uvicorn", reason="the server extra is not installed")


@pytest.mark.slow
def test_quick_run_reports_start_rate_and_schedule_delay() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["quick"] is True
    assert [row["clients"] for row in report["start"]] == [1, 8]
    for row in report["start"]:
        assert row["requests"] == 200
        assert row["requests_per_second"] > 0
        assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
    schedule = report["schedule"]
    assert schedule["fires"] == 1
    # The run starts at its fire time, not before it, and well within the grace period.
    assert 0 <= schedule["delay_min_ms"] <= schedule["delay_max_ms"] < 60_000
