"""Distributed Map end to end: ItemReader over local files, ItemBatcher, ResultWriter, children."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackflow.engine import Engine
from stackflow.store.sqlite import SQLiteStore


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(SQLiteStore(tmp_path / "sf.db"), poll_interval=0.02)
    yield eng
    eng.close()


def distributed_map(**fields: Any) -> dict[str, Any]:
    processor = fields.pop(
        "processor",
        {
            "StartAt": "Echo",
            "States": {"Echo": {"Type": "Pass", "End": True}},
        },
    )
    return {
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    **processor,
                },
                "End": True,
                **fields,
            }
        },
    }


def test_csv_reader_with_header_row(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "people.csv").write_text("name,age\nada,36\nalan,41\n")
    definition = distributed_map(
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
            "Parameters": {"Bucket.$": "$.bucket", "Key": "people.csv"},
        },
        MaxConcurrency=2,
    )
    result = engine.run(definition, {"bucket": str(tmp_path / "data")}, timeout=30)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == [{"name": "ada", "age": "36"}, {"name": "alan", "age": "41"}]
    children = engine.list_executions(parent_id=result.execution_id)
    assert sorted(c.status for c in children) == ["SUCCEEDED", "SUCCEEDED"]


def test_jsonl_reader_batcher_and_result_writer(engine: Engine, tmp_path: Path) -> None:
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    lines = [json.dumps({"n": i}) for i in range(5)]
    (bucket / "in.jsonl").write_text("\n".join(lines) + "\n")
    definition = distributed_map(
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL"},
            "Parameters": {"Bucket": str(bucket), "Key": "in.jsonl"},
        },
        ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"factor": 10}},
        ResultWriter={
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": str(bucket), "Prefix": "out"},
        },
    )
    result = engine.run(definition, {}, timeout=30)
    assert result.status == "SUCCEEDED", result.cause
    details = result.output["ResultWriterDetails"]
    manifest = json.loads((bucket / details["Key"]).read_text())
    succeeded = manifest["ResultFiles"]["SUCCEEDED"]
    assert sum(entry["Size"] for entry in succeeded) > 0
    entries = json.loads((bucket / succeeded[0]["Key"]).read_text())
    outputs = sorted(json.loads(e["Output"])["Items"][0]["n"] for e in entries)
    assert outputs == [0, 2, 4]  # three batches of at most two items
    assert all(json.loads(e["Input"])["BatchInput"] == {"factor": 10} for e in entries)


def test_reader_failure_names_the_file(engine: Engine, tmp_path: Path) -> None:
    definition = distributed_map(
        ItemReader={
            "Resource": "stackflow:file",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Path": str(tmp_path / "missing.json")},
        }
    )
    result = engine.run(definition, {}, timeout=30)
    assert (result.status, result.error) == ("FAILED", "States.ItemReaderFailed")
    assert "missing.json" in (result.cause or "")
