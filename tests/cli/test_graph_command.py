"""``stackflow workflow graph ID``: JSON and text outline, for code and ASL executions."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from click.testing import CliRunner

import stackflow
from stackflow.cli.main import cli
from stackflow.engine import Engine


@stackflow.step
def slow_square(n: int) -> int:
    threading.Event().wait(0.05)
    return n * n


@stackflow.step
def plus(n: int) -> int:
    return n + 1


@stackflow.workflow
def graphed(n: int) -> list[int]:
    return [plus(n), *slow_square.map([1, 2])]


ASL: dict[str, Any] = {
    "StartAt": "Both",
    "States": {
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "L", "States": {"L": {"Type": "Pass", "End": True}}},
                {"StartAt": "R", "States": {"R": {"Type": "Pass", "End": True}}},
            ],
            "Next": "Last",
        },
        "Last": {"Type": "Pass", "End": True},
    },
}


def invoke(home: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["workflow", "graph", *args, "--home", str(home)])
    assert result.exit_code == 0, result.output
    return result.output


def test_graph_of_a_code_execution(tmp_path: Path) -> None:
    with Engine.open(tmp_path) as engine:
        record = engine.run(graphed, 2, timeout=20)
    assert record.output == [3, 1, 4]
    data = json.loads(invoke(tmp_path, record.execution_id, "--json"))
    assert (data["execution"], data["type"], data["status"]) == (
        record.execution_id,
        "code",
        "SUCCEEDED",
    )
    group = next(n for n in data["nodes"] if n["kind"] == "parallel")
    assert group["members"] == ["op-1", "op-2"]
    text = invoke(tmp_path, record.execution_id)
    assert text.splitlines() == [
        "code execution, SUCCEEDED",
        "  #0 plus [step] ok",
        "  = in parallel (2): slow_square succeeded",
        "    | #1 slow_square [step] ok",
        "    | #2 slow_square [step] ok",
    ]


def test_graph_of_an_asl_execution(tmp_path: Path) -> None:
    with Engine.open(tmp_path) as engine:
        record = engine.run(ASL, {}, timeout=20)
    data = json.loads(invoke(tmp_path, record.execution_id, "--json"))
    assert data["type"] == "asl"
    pairs = {(e["from"], e["to"]) for e in data["edges"]}
    assert {("state:Both", "state:L"), ("state:R", "state:Last")} <= pairs
    text = invoke(tmp_path, record.execution_id)
    assert text.splitlines() == [
        "asl execution, SUCCEEDED",
        "  Both [parallel] ok",
        "      branch 0: L [pass] ok",
        "      branch 1: R [pass] ok",
        "  Last [pass] ok",
    ]


def test_unknown_execution_fails(tmp_path: Path) -> None:
    Engine.open(tmp_path).close()
    result = CliRunner().invoke(cli, ["workflow", "graph", "nope", "--home", str(tmp_path)])
    assert result.exit_code != 0
