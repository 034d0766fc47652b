"""Tests for Distributed Map item input and result output over local files (mapio)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest

from stackflow.errors import WorkflowFailure
from stackflow.workflow.mapio import list_keys, read_items, write_results

GET = "arn:aws:states:::s3:getObject"
LIST = "arn:aws:states:::s3:listObjectsV2"
PUT = "arn:aws:states:::s3:putObject"
PARENT = "arn:aws:states:us-east-1:123456789012:execution:orders:run-1"
MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:orders/Map"


def _get(key: str, bucket: str = "bucket", **config: object) -> dict:
    return {"Resource": GET, "Parameters": {"Bucket": bucket, "Key": key}, "ReaderConfig": config}


def _failure(reader: dict, base: Path, **kwargs: object) -> WorkflowFailure:
    with pytest.raises(WorkflowFailure) as info:
        read_items(reader, base_dir=base, **kwargs)  # type: ignore[arg-type]
    assert info.value.error == "States.ItemReaderFailed"
    return info.value


@pytest.fixture
def bucket(tmp_path: Path) -> Path:
    path = tmp_path / "bucket"
    path.mkdir()
    return path


# ItemReader: s3:getObject ---------------------------------------------------------------------


def test_json_array_file(bucket: Path) -> None:
    (bucket / "data").mkdir()
    (bucket / "data" / "items.json").write_text('[{"a": 1}, "two", [3], null]')
    items = read_items(_get("data/items.json", InputType="JSON"), base_dir=bucket.parent)
    assert items == [{"a": 1}, "two", [3], None]


def test_absolute_bucket_path_and_arguments_block(bucket: Path) -> None:
    (bucket / "x.json").write_text("[1, 2]")
    reader = {
        "Resource": GET,
        "Arguments": {"Bucket": str(bucket), "Key": "x.json"},
        "ReaderConfig": {"InputType": "JSON"},
    }
    assert read_items(reader) == [1, 2]


def test_json_items_pointer(bucket: Path) -> None:
    (bucket / "nested.json").write_text('{"inventory": {"products": [{"id": 1}, {"id": 2}]}}')
    reader = _get("nested.json", InputType="JSON", ItemsPointer="/inventory/products")
    assert read_items(reader, base_dir=bucket.parent) == [{"id": 1}, {"id": 2}]


def test_json_not_an_array_names_file_and_hints(bucket: Path) -> None:
    (bucket / "obj.json").write_text('{"a": 1}')
    failure = _failure(_get("obj.json", InputType="JSON"), bucket.parent)
    assert "obj.json" in (failure.cause or "")
    assert "must contain a JSON array" in (failure.cause or "")
    assert "ItemsPointer" in (failure.cause or "")


def test_bad_json_reports_line_and_column(bucket: Path) -> None:
    (bucket / "bad.json").write_text("[\n  1,\n  2,,\n]")
    failure = _failure(_get("bad.json", InputType="JSON"), bucket.parent)
    assert "bad.json" in (failure.cause or "")
    assert "line 3 column" in (failure.cause or "")


def test_json_nan_is_not_json(bucket: Path) -> None:
    (bucket / "nan.json").write_text("[NaN]")
    assert "not valid JSON" in (
        _failure(_get("nan.json", InputType="JSON"), bucket.parent).cause or ""
    )


def test_jsonl_ignores_blank_lines_and_keeps_order(bucket: Path) -> None:
    (bucket / "f.jsonl").write_text('{"n": 1}\n\n  \n[2]\r\n"three"\n')
    assert read_items(_get("f.jsonl", InputType="JSONL"), base_dir=bucket.parent) == [
        {"n": 1},
        [2],
        "three",
    ]


def test_bad_jsonl_line_number(bucket: Path) -> None:
    (bucket / "f.jsonl").write_text('{"n": 1}\n\n{"n": 2\n{"n": 3}\n')
    failure = _failure(_get("f.jsonl", InputType="JSONL"), bucket.parent)
    assert "f.jsonl' line 3 is not valid JSON" in (failure.cause or "")


def test_gzip_jsonl(bucket: Path) -> None:
    (bucket / "f.jsonl.gz").write_bytes(gzip.compress(b'{"a": 1}\n{"a": 2}\n'))
    assert read_items(_get("f.jsonl.gz", InputType="JSONL"), base_dir=bucket.parent) == [
        {"a": 1},
        {"a": 2},
    ]


def test_csv_first_row_values_are_strings(bucket: Path) -> None:
    (bucket / "r.csv").write_text("userId,movieId,rating\n1,307,3.5\n2,481,\n")
    items = read_items(_get("r.csv", InputType="CSV"), base_dir=bucket.parent)
    assert items == [
        {"userId": "1", "movieId": "307", "rating": "3.5"},
        {"userId": "2", "movieId": "481", "rating": ""},
    ]


def test_csv_given_headers_short_and_long_rows(bucket: Path) -> None:
    (bucket / "r.csv").write_text("1,307,3.5,1256677221\n1,481\n1,1091,1.5,7,extra\n")
    reader = _get(
        "r.csv",
        InputType="CSV",
        CSVHeaderLocation="GIVEN",
        CSVHeaders=["userId", "movieId", "rating", "timestamp"],
    )
    assert read_items(reader, base_dir=bucket.parent) == [
        {"userId": "1", "movieId": "307", "rating": "3.5", "timestamp": "1256677221"},
        {"userId": "1", "movieId": "481", "rating": "", "timestamp": ""},
        {"userId": "1", "movieId": "1091", "rating": "1.5", "timestamp": "7"},
    ]


@pytest.mark.parametrize(
    ("name", "char"),
    [("COMMA", ","), ("PIPE", "|"), ("SEMICOLON", ";"), ("SPACE", " "), ("TAB", "\t")],
)
def test_csv_delimiters(bucket: Path, name: str, char: str) -> None:
    (bucket / "d.csv").write_text(f"a{char}b\n1{char}2\n")
    reader = _get("d.csv", InputType="CSV", CSVDelimiter=name)
    assert read_items(reader, base_dir=bucket.parent) == [{"a": "1", "b": "2"}]


def test_csv_aws_documented_example(bucket: Path) -> None:
    # The file from AWS's "How Step Functions parses input CSV files" page.
    (bucket / "my.csv").write_text(
        'abc,123,"This string contains commas, a double quotation marks (""), and a newline (\n'
        ')",{""MyKey"":""MyValue""},"[1,2,3]"\n'
    )
    reader = _get(
        "my.csv",
        InputType="CSV",
        CSVHeaderLocation="GIVEN",
        CSVHeaders=["MyLetters", "MyNumbers", "MyString", "MyObject", "MyArray"],
    )
    [item] = read_items(reader, base_dir=bucket.parent)
    assert item["MyString"] == (
        'This string contains commas, a double quotation marks ("), and a newline (\n)'
    )
    assert json.loads(item["MyObject"]) == {"MyKey": "MyValue"}
    assert json.loads(item["MyArray"]) == [1, 2, 3]
    assert item["MyLetters"] == "abc"
    assert item["MyNumbers"] == "123"


def test_csv_backslash_escapes(bucket: Path) -> None:
    (bucket / "p.csv").write_text('path,size\nC:\\\\Program Files\\\\App.exe,65\na\\,b,\\"q\\"\n')
    assert read_items(_get("p.csv", InputType="CSV"), base_dir=bucket.parent) == [
        {"path": "C:\\Program Files\\App.exe", "size": "65"},
        {"path": "a,b", "size": '"q"'},
    ]


def test_csv_unclosed_quote_reports_line(bucket: Path) -> None:
    (bucket / "q.csv").write_text('a,b\n1,2\n3,"open\n4,5\n')
    failure = _failure(_get("q.csv", InputType="CSV"), bucket.parent)
    assert "q.csv' line 3" in (failure.cause or "")
    assert "never closed" in (failure.cause or "")


def test_csv_given_without_headers_fails(bucket: Path) -> None:
    (bucket / "q.csv").write_text("1,2\n")
    failure = _failure(_get("q.csv", InputType="CSV", CSVHeaderLocation="GIVEN"), bucket.parent)
    assert "CSVHeaders" in (failure.cause or "")


def test_csv_bad_delimiter_fails(bucket: Path) -> None:
    (bucket / "q.csv").write_text("a\n1\n")
    failure = _failure(_get("q.csv", InputType="CSV", CSVDelimiter="COLON"), bucket.parent)
    assert "CSVDelimiter" in (failure.cause or "")


def test_max_items_in_reader_config_and_override(bucket: Path) -> None:
    (bucket / "r.csv").write_text("n\n" + "".join(f"{i}\n" for i in range(10)))
    reader = _get("r.csv", InputType="CSV", MaxItems=3)
    assert read_items(reader, base_dir=bucket.parent) == [{"n": "0"}, {"n": "1"}, {"n": "2"}]
    assert len(read_items(reader, base_dir=bucket.parent, max_items=5)) == 5
    (bucket / "a.json").write_text("[1, 2, 3, 4]")
    assert read_items(_get("a.json", InputType="JSON", MaxItems=2), base_dir=bucket.parent) == [
        1,
        2,
    ]


@pytest.mark.parametrize("value", [0, -1, "3", 100_000_001])
def test_bad_max_items(bucket: Path, value: object) -> None:
    (bucket / "a.json").write_text("[1]")
    failure = _failure(_get("a.json", InputType="JSON", MaxItems=value), bucket.parent)
    assert "MaxItems" in (failure.cause or "")


def test_missing_file_and_missing_bucket(bucket: Path) -> None:
    failure = _failure(_get("nope.json", InputType="JSON"), bucket.parent)
    assert "nope.json' does not exist" in (failure.cause or "")
    failure = _failure(_get("x.json", bucket="missing", InputType="JSON"), bucket.parent)
    assert "Bucket 'missing' does not exist" in (failure.cause or "")


def test_key_outside_bucket_is_refused(bucket: Path) -> None:
    (bucket.parent / "secret.json").write_text("[1]")
    failure = _failure(_get("../secret.json", InputType="JSON"), bucket.parent)
    assert "leads outside bucket" in (failure.cause or "")


def test_input_type_required_and_parquet_refused(bucket: Path) -> None:
    (bucket / "a.json").write_text("[1]")
    assert "InputType" in (_failure(_get("a.json"), bucket.parent).cause or "")
    failure = _failure(_get("a.json", InputType="PARQUET"), bucket.parent)
    assert "PARQUET is not supported" in (failure.cause or "")


def test_unknown_resource_is_refused(bucket: Path) -> None:
    failure = _failure({"Resource": "arn:aws:states:::s3:deleteObject"}, bucket.parent)
    assert "not supported" in (failure.cause or "")


def test_s3_inventory_manifest(bucket: Path) -> None:
    (bucket / "inv" / "data").mkdir(parents=True)
    (bucket / "inv" / "data" / "part.csv.gz").write_bytes(
        gzip.compress(
            b'"src","csvDataset/titles.csv","3399671","2022-11-16T00:29:32.000Z"\n'
            b'"src","img/a.jpg","27034","2022-11-15T20:02:16.000Z"\n'
        )
    )
    manifest = {
        "sourceBucket": "src",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate",
        "files": [{"key": "inv/data/part.csv.gz", "size": 1}],
    }
    (bucket / "inv" / "manifest.json").write_text(json.dumps(manifest))
    items = read_items(_get("inv/manifest.json", InputType="MANIFEST"), base_dir=bucket.parent)
    assert items[0] == {
        "Bucket": "src",
        "Key": "csvDataset/titles.csv",
        "Size": "3399671",
        "LastModifiedDate": "2022-11-16T00:29:32.000Z",
    }
    assert len(items) == 2


# ItemReader: stackflow:file --------------------------------------------------------------------


def test_stackflow_file_relative_to_base_dir(tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text("1\n2\n3\n")
    reader = {
        "Resource": "stackflow:file",
        "Parameters": {"Path": "rows.jsonl"},
        "ReaderConfig": {"InputType": "JSONL", "MaxItems": 2},
    }
    assert read_items(reader, base_dir=tmp_path) == [1, 2]


# ItemReader: s3:listObjectsV2 ------------------------------------------------------------------


def _tree(bucket: Path) -> None:
    for key, body in {
        "data/a.txt": b"alpha",
        "data/sub/b.txt": b"bravo!",
        "data/sub/deep/c.txt": b"",
        "data10/x.txt": b"x",
        "other/y.txt": b"y",
    }.items():
        path = bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def test_list_objects_nested_items_like_s3(bucket: Path) -> None:
    _tree(bucket)
    os.utime(bucket / "data" / "a.txt", (1668699881, 1668699881.75))
    reader = {"Resource": LIST, "Parameters": {"Bucket": "bucket", "Prefix": "data/"}}
    items = read_items(reader, base_dir=bucket.parent)
    assert [i["Key"] for i in items] == ["data/a.txt", "data/sub/b.txt", "data/sub/deep/c.txt"]
    assert items[0] == {
        "Etag": '"' + hashlib.md5(b"alpha").hexdigest() + '"',
        "Key": "data/a.txt",
        "LastModified": 1668699881,
        "Size": 5,
        "StorageClass": "STANDARD",
    }
    assert items[2]["Etag"] == '"d41d8cd98f00b204e9800998ecf8427e"'


def test_list_objects_prefix_is_a_string_prefix(bucket: Path) -> None:
    _tree(bucket)
    assert list_keys(bucket, "data") == [
        "data/a.txt",
        "data/sub/b.txt",
        "data/sub/deep/c.txt",
        "data10/x.txt",
    ]
    assert list_keys(bucket, "data/sub/b") == ["data/sub/b.txt"]
    assert list_keys(bucket, "") == [*list_keys(bucket, "data"), "other/y.txt"]
    assert list_keys(bucket, "missing/") == []


def test_list_objects_max_items(bucket: Path) -> None:
    _tree(bucket)
    reader = {"Resource": LIST, "Parameters": {"Bucket": "bucket"}, "ReaderConfig": {"MaxItems": 2}}
    assert [i["Key"] for i in read_items(reader, base_dir=bucket.parent)] == [
        "data/a.txt",
        "data/sub/b.txt",
    ]


def test_list_objects_load_and_flatten(bucket: Path) -> None:
    (bucket / "in").mkdir()
    (bucket / "in" / "1.jsonl").write_text('{"n": 1}\n{"n": 2}\n')
    (bucket / "in" / "2.jsonl").write_text('{"n": 3}\n')
    reader = {
        "Resource": LIST,
        "Parameters": {"Bucket": "bucket", "Prefix": "in/"},
        "ReaderConfig": {"InputType": "JSONL", "Transformation": "LOAD_AND_FLATTEN"},
    }
    assert read_items(reader, base_dir=bucket.parent) == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert len(read_items(reader, base_dir=bucket.parent, max_items=2)) == 2


# ResultWriter -----------------------------------------------------------------------------------


def _child(index: int, status: str, **extra: object) -> dict:
    base = {
        "index": index,
        "name": f"child-{index}",
        "execution_arn": f"{MACHINE_ARN.replace(':stateMachine:', ':execution:')}:child-{index}",
        "input": {"i": index},
        "status": status,
        "output": None,
        "error": None,
        "cause": None,
        "start_time": 1738633790.099,
        "stop_time": 1738633790.163,
    }
    base.update(extra)
    return base


def _results() -> list[dict]:
    return [
        _child(2, "FAILED", error="States.TaskFailed", cause="boom"),
        _child(0, "SUCCEEDED", output={"ok": 0}),
        _child(1, "SUCCEEDED", output=[1, 2]),
        _child(3, "PENDING", start_time=None, stop_time=None),
        _child(4, "TIMED_OUT", error="States.Timeout"),
    ]


def test_write_results_files_and_manifest(bucket: Path) -> None:
    writer = {"Resource": PUT, "Parameters": {"Bucket": "bucket", "Prefix": "jobs"}}
    output = write_results(
        writer,
        map_run_id="run-uuid",
        execution_arn=PARENT,
        results=_results(),
        base_dir=bucket.parent,
    )
    assert output == {
        "MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:orders/Map:run-uuid",
        "ResultWriterDetails": {"Bucket": "bucket", "Key": "jobs/run-uuid/manifest.json"},
    }
    folder = bucket / "jobs" / "run-uuid"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["DestinationBucket"] == "bucket"
    assert manifest["MapRunArn"] == output["MapRunArn"]
    files = manifest["ResultFiles"]
    assert list(files) == ["FAILED", "PENDING", "SUCCEEDED"]
    for status in files:
        [entry] = files[status]
        path = bucket / entry["Key"]
        assert entry["Key"] == f"jobs/run-uuid/{status}_0.json"
        assert entry["Size"] == path.stat().st_size
    succeeded = json.loads((folder / "SUCCEEDED_0.json").read_text())
    failed = json.loads((folder / "FAILED_0.json").read_text())
    pending = json.loads((folder / "PENDING_0.json").read_text())
    assert [e["Name"] for e in succeeded] == ["child-0", "child-1"]
    assert [e["Status"] for e in failed] == ["FAILED", "TIMED_OUT"]
    assert pending == [
        {"Input": '{"i":3}', "InputDetails": {"Included": True}, "Status": "PENDING"}
    ]
    first = succeeded[0]
    assert list(first) == sorted(first)
    assert first["Input"] == '{"i":0}'
    assert first["Output"] == '{"ok":0}'
    assert first["StartDate"] == "2025-02-04T01:49:50.099Z"
    assert first["StopDate"] == "2025-02-04T01:49:50.163Z"
    assert first["RedriveStatus"] == "NOT_REDRIVABLE"
    assert first["StateMachineArn"] == (
        "arn:aws:states:us-east-1:123456789012:stateMachine:orders/Map"
    )
    assert failed[0]["Error"] == "States.TaskFailed"
    assert failed[0]["Cause"] == "boom"
    assert "Output" not in failed[0]
    assert not list(folder.glob(".*"))  # no temporary files left behind


def test_write_results_only_writes_files_with_entries(bucket: Path) -> None:
    writer = {"Resource": PUT, "Parameters": {"Bucket": str(bucket), "Prefix": ""}}
    results = [_child(0, "SUCCEEDED", output=1)]
    output = write_results(writer, map_run_id="r", execution_arn=PARENT, results=results)
    assert output["ResultWriterDetails"]["Key"] == "r/manifest.json"
    manifest = json.loads((bucket / "r" / "manifest.json").read_text())
    assert manifest["ResultFiles"]["FAILED"] == []
    assert manifest["ResultFiles"]["PENDING"] == []
    assert sorted(p.name for p in (bucket / "r").iterdir()) == ["SUCCEEDED_0.json", "manifest.json"]


def test_writer_config_flatten_jsonl(bucket: Path) -> None:
    writer = {
        "Resource": PUT,
        "Parameters": {"Bucket": "bucket", "Prefix": "out/"},
        "WriterConfig": {"OutputType": "JSONL", "Transformation": "FLATTEN"},
    }
    write_results(
        writer,
        map_run_id="m",
        execution_arn=PARENT,
        results=_results()[:3],
        base_dir=bucket.parent,
    )
    lines = (bucket / "out" / "m" / "SUCCEEDED_0.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"ok": 0}, 1, 2]
    failed = (bucket / "out" / "m" / "FAILED_0.jsonl").read_text().splitlines()
    assert json.loads(failed[0])["Error"] == "States.TaskFailed"


def test_writer_config_only_returns_transformed_results(bucket: Path) -> None:
    results = [_child(1, "SUCCEEDED", output=[3]), _child(0, "SUCCEEDED", output=[1, 2])]
    compact = write_results(
        {"WriterConfig": {}}, map_run_id="m", execution_arn=PARENT, results=results
    )
    assert compact == [[1, 2], [3]]
    flat = write_results(
        {"WriterConfig": {"Transformation": "FLATTEN"}},
        map_run_id="m",
        execution_arn=PARENT,
        results=results,
    )
    assert flat == [1, 2, 3]
    assert list(bucket.iterdir()) == []


def test_writer_errors(bucket: Path) -> None:
    with pytest.raises(WorkflowFailure) as info:
        write_results(
            {"Resource": PUT, "Parameters": {"Bucket": "missing"}},
            map_run_id="m",
            execution_arn=PARENT,
            results=[],
            base_dir=bucket.parent,
        )
    assert info.value.error == "States.ResultWriterFailed"
    assert "Bucket 'missing' does not exist" in (info.value.cause or "")
    with pytest.raises(WorkflowFailure, match="WriterConfig OutputType"):
        write_results(
            {
                "Resource": PUT,
                "Parameters": {"Bucket": "bucket"},
                "WriterConfig": {"OutputType": "CSV"},
            },
            map_run_id="m",
            execution_arn=PARENT,
            results=[],
            base_dir=bucket.parent,
        )
    with pytest.raises(WorkflowFailure, match="needs WriterConfig"):
        write_results({}, map_run_id="m", execution_arn=PARENT, results=[])
    with pytest.raises(WorkflowFailure, match="leads outside"):
        write_results(
            {"Resource": PUT, "Parameters": {"Bucket": "bucket", "Prefix": "../x"}},
            map_run_id="m",
            execution_arn=PARENT,
            results=[],
            base_dir=bucket.parent,
        )


def test_unwritable_location_is_result_writer_failed(bucket: Path) -> None:
    (bucket / "jobs").write_text("a file where the prefix folder should be")
    with pytest.raises(WorkflowFailure) as info:
        write_results(
            {"Resource": PUT, "Parameters": {"Bucket": "bucket", "Prefix": "jobs"}},
            map_run_id="m",
            execution_arn=PARENT,
            results=[],
            base_dir=bucket.parent,
        )
    assert info.value.error == "States.ResultWriterFailed"
    assert "Failed to write results" in (info.value.cause or "")


def test_stackflow_file_writer(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    output = write_results(
        {"Resource": "stackflow:file", "Parameters": {"Path": "results"}},
        map_run_id="m",
        execution_arn=PARENT,
        results=[_child(0, "SUCCEEDED", output=1)],
        base_dir=tmp_path,
        map_run_arn="arn:custom",
    )
    assert output == {
        "MapRunArn": "arn:custom",
        "ResultWriterDetails": {"Bucket": "results", "Key": "m/manifest.json"},
    }
    assert json.loads((tmp_path / "results" / "m" / "manifest.json").read_text())["MapRunArn"] == (
        "arn:custom"
    )
