"""Smoke test of benchmarks/stacks.py: --quick plans and applies and reports sane figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "stacks.py"


def test_quick_run_plans_and_applies() -> None:
    env = dict(os.environ, PATH="/usr/bin:/bin")  # no ansible: that comparison is skipped
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (
        report["plan"]["changes"] == report["plan"]["resources"] and report["plan"]["seconds"] > 0
    )
    assert [row["parallelism"] for row in report["apply"]] == [1, 10]
    for row in report["apply"]:
        assert row["status"] == "CREATE_COMPLETE"
        assert row["files"] == row["resources"]
    assert "skipped" in report["ansible"] or "seconds" in report["ansible"]
