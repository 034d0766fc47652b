"""Smoke test of benchmarks/durable.py: --quick runs every section and reports sane results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "durable.py"


def test_quick_run_reports_every_section() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["environment"]["quick"] is True
    assert [r["mode"] for r in report["start-rate"]] == ["drive=False", "drive=True"]
    assert all(r["per_s"] > 0 for r in report["start-rate"])
    throughput = report["worker-throughput"]
    assert [r["workers"] for r in throughput] == [1, 2]
    assert all(r["succeeded"] == r["executions"] for r in throughput)
    for result in report["failover"]:
        # Another worker can claim only after the dead one's lease expired.
        assert result["first_s"] >= result["lease_s"] * 2 / 3 - 0.05
        assert result["last_s"] < result["lease_s"] * 3 + 10
    (run,) = report["map-memory"]["runs"]
    assert run["status"] == "SUCCEEDED"
    assert run["children"] == {"SUCCEEDED": run["items"]}
    assert run["ru_maxrss_mib"] > 0
