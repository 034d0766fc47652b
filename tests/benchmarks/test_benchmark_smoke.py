"""Smoke test of benchmarks/asl_throughput.py: it runs with --quick and reports every workload."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "asl_throughput.py"
WORKLOADS = ("pass-chain", "map-python-task", "concurrent-executions")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_quick_run_prints_every_workload_and_the_environment() -> None:
    done = _run()
    assert done.returncode == 0, done.stderr
    for name in WORKLOADS:
        assert name in done.stdout
    for word in ("python", "cpus", "memory", "sqlite-full", "sqlite-normal"):
        assert word in done.stdout
    assert "PASS" in done.stdout or "MISS" in done.stdout


def test_json_output_lists_each_workload_and_store() -> None:
    done = _run("--json", "--only", "pass-chain")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["environment"]["quick"] is True
    assert report["environment"]["cpus"] >= 1
    stores = [r["store"] for r in report["results"]]
    assert stores == ["memory", "sqlite-full", "sqlite-normal"]
    for result in report["results"]:
        assert result["workload"] == "pass-chain"
        assert result["transitions"] == 1000
        assert result["verdict"] in ("PASS", "MISS", "-")
