"""Smoke test of benchmarks/services.py: ``--quick --json`` runs and reports every figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "services.py"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_quick_run_reports_restart_rolling_cpu_and_supervisord() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["quick"] is True
    assert 0 <= report["restart"]["respawn_median"] <= report["restart"]["ready_median"]
    assert report["rolling"]["replicas"] == 5
    assert report["rolling"]["requests_ok"] > 0
    assert report["rolling"]["requests_failed"] == 0, report["rolling"]["failures"]
    assert report["cpu"]["cpu_percent"] >= 0
    assert "skipped" in report["supervisord"] or report["supervisord"]["kills"] > 0
