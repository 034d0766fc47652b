"""Smoke test of benchmarks/peers.py: --quick --json runs the three workloads on stackflow."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "peers.py"


def test_quick_run_reports_the_three_workloads() -> None:
    # Peers are left out: their virtualenvs exist only on a benchmark machine, and they are slow.
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", "--peers", "none"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["environment"]["quick"] is True
    assert report["environment"]["n"] == 20
    for durability in ("full", "normal"):
        results = report["stackflow"][durability]
        for workload in ("single", "chain", "fanout"):
            assert results[workload]["ok"] is True, results[workload]
            assert results[workload]["wall_s"] > 0
            assert results[workload]["run_s"] is not None
        # Every execution of every run was stored complete: status and one record per step.
        assert results["durable"]["ok"] is True
        assert results["durable"]["executions"] == {"single": 2, "chain": 2, "fanout": 2}
        assert set(results["per_step_ms"]) == {"chain", "fanout"}
    assert report["cli"]["ok"] is True
    assert report["peers"] == {}
    assert [g["result"] in ("PASS", "MISS") for g in report["goals"]] == [True, True, True]


def test_peer_without_virtualenv_is_listed_as_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    monkeypatch.setenv("VENV_LUIGI", str(tmp_path / "missing"))
    peers = importlib.import_module("peers")
    assert peers.venv_python("luigi") is None
    assert peers.bench_peer("luigi", 20, 1, tmp_path) == {"status": "not installed"}
