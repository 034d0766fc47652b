"""The CloudFormation-language conformance floor (cases recorded from AWS)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNNER = REPO_ROOT.parent / "shared" / "conformance" / "cfn" / "run.py"


@pytest.mark.skipif(not RUNNER.exists(), reason="../shared/conformance/cfn is absent")
def test_cfn_conformance_floor() -> None:
    done = subprocess.run(
        [sys.executable, str(RUNNER), "--min", "0.97", "--show", "5"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "CFN conformance:" in done.stdout
