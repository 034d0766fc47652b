"""Item input and result output of a Distributed Map over local files.

This is the I/O side of a Distributed Map's ``ItemReader`` and ``ResultWriter``, following AWS
Step Functions with local directories in place of S3 buckets:

* A "bucket" is a directory: an absolute path, or a path relative to ``base_dir`` (default: the
  current directory). A "key" is a file path inside it, with ``/`` separators; keys that lead
  outside the bucket are refused.
* ``arn:aws:states:::s3:getObject`` with ``{Bucket, Key}`` reads one file; ``ReaderConfig``
  gives ``InputType`` (``JSON``, ``JSONL``, ``CSV``, ``MANIFEST``), the CSV options and
  ``MaxItems``. ``stackflow:file`` with ``{Path}`` reads one file by path with the same options.
* ``arn:aws:states:::s3:listObjectsV2`` with ``{Bucket, Prefix}`` gives one item per file under the
  bucket whose key starts with ``Prefix`` (a string prefix, as in S3, not a folder), in S3's order,
  shaped as AWS shapes them: ``{"Etag", "Key", "LastModified", "Size", "StorageClass"}``.
* ``arn:aws:states:::s3:putObject`` with ``{Bucket, Prefix}`` writes
  ``<Bucket>/<Prefix>/<MapRunId>/manifest.json`` and ``SUCCEEDED_0.json``, ``FAILED_0.json``,
  ``PENDING_0.json`` (each only when it has entries, as AWS does), atomically.

The callers evaluate ``Parameters``/``Arguments`` first; these functions see plain values. Every
failure is a :class:`~stackflow.errors.WorkflowFailure` with ``States.ItemReaderFailed`` or
``States.ResultWriterFailed`` and a cause naming the file and the problem.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from stackflow.errors import (
    STATES_RESULT_WRITER_FAILED,
    WorkflowFailure,
)
from stackflow.types import JSON
from stackflow.workflow.mapio_formats import (
    csv_items,
    csv_records,
    csv_rows,
    json_error,
    json_items,
    jsonl_items,
    loads_strict,
    reader_failure,
)
from stackflow.workflow.mapio_results import (
    FAILED_STATUSES,
    PENDING_STATUSES,
    encode_chunks,
    iter_results,
    make_map_run_arn,
    transform_results,
)

#: The stackflow-native reader resource: ``Parameters: {"Path": ...}`` names one file.
STACKFLOW_FILE = "stackflow:file"
#: AWS's largest ``MaxItems``.
MAX_ITEMS_LIMIT = 100_000_000
#: ``ReaderConfig.InputType`` values AWS accepts (PARQUET is refused with a clear cause).
INPUT_TYPES = frozenset({"JSON", "JSONL", "CSV", "MANIFEST", "PARQUET"})

_S3_RESOURCE = re.compile(r"^arn:aws[a-z-]*:states:[^:]*:[^:]*:s3:(\w+)$")


def _writer_fail(cause: str) -> WorkflowFailure:
    return WorkflowFailure(STATES_RESULT_WRITER_FAILED, cause)


def _s3_action(resource: Any) -> str | None:
    match = _S3_RESOURCE.match(resource) if isinstance(resource, str) else None
    return match.group(1) if match else None


def _params(block: Mapping[str, JSON], fail: Any, what: str) -> Mapping[str, JSON]:
    params = block.get("Parameters", block.get("Arguments", {}))
    if not isinstance(params, Mapping):
        raise fail(f"{what} Parameters/Arguments must be an object, not {json.dumps(params)}.")
    return params


def _string(params: Mapping[str, JSON], key: str, fail: Any, what: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise fail(f"{what} needs a non-empty string '{key}', got {json.dumps(value)}.")
    return value


def _local(path: str, base_dir: Path | None) -> Path:
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = (base_dir or Path.cwd()) / candidate
    return candidate


def _bucket_dir(bucket: str, base_dir: Path | None, fail: Any) -> Path:
    directory = _local(bucket, base_dir)
    if not directory.is_dir():
        raise fail(f"Bucket '{bucket}' does not exist: '{directory}' is not a directory.")
    return directory


def _object_path(bucket_dir: Path, bucket: str, key: str, fail: Any) -> Path:
    path = bucket_dir / key.lstrip("/")
    if not path.resolve().is_relative_to(bucket_dir.resolve()):
        raise fail(f"Key '{key}' leads outside bucket '{bucket}'.")
    return path


# ----------------------------------------------------------------------------------------------
# ItemReader
# ----------------------------------------------------------------------------------------------


def read_items(
    reader: Mapping[str, JSON], *, base_dir: Path | None = None, max_items: int | None = None
) -> list[JSON]:
    """Read the items of a Distributed Map from local files, as its ItemReader says.

    Args:
        reader: The ``ItemReader`` block with ``Parameters``/``Arguments`` already evaluated.
        base_dir: Directory that relative bucket and file paths are relative to (default: the
            current directory).
        max_items: A resolved ``MaxItemsPath`` (or JSONata ``MaxItems``); overrides
            ``ReaderConfig.MaxItems``.

    Returns:
        The items, in file order (``listObjectsV2``: key order), at most MaxItems of them.

    Raises:
        WorkflowFailure: ``States.ItemReaderFailed`` naming the file and the problem (with the
            line number for bad JSON, JSON Lines and CSV).
    """
    if not isinstance(reader, Mapping):
        raise reader_failure("ItemReader must be an object.")
    config = reader.get("ReaderConfig", {})
    if not isinstance(config, Mapping):
        raise reader_failure("ItemReader ReaderConfig must be an object.")
    limit = _max_items(config.get("MaxItems") if max_items is None else max_items)
    resource = reader.get("Resource")
    params = _params(reader, reader_failure, "ItemReader")
    action = _s3_action(resource)
    if resource == STACKFLOW_FILE:
        path = _local(
            _string(params, "Path", reader_failure, "ItemReader stackflow:file"), base_dir
        )
        return _parse_file(path, config, limit, path.parent)
    if action not in ("getObject", "listObjectsV2"):
        raise reader_failure(
            f"ItemReader Resource {json.dumps(resource)} is not supported; use "
            f"arn:aws:states:::s3:getObject, arn:aws:states:::s3:listObjectsV2 or {STACKFLOW_FILE}."
        )
    bucket = _string(params, "Bucket", reader_failure, "ItemReader")
    bucket_dir = _bucket_dir(bucket, base_dir, reader_failure)
    if action == "getObject":
        key = _string(params, "Key", reader_failure, "ItemReader s3:getObject")
        path = _object_path(bucket_dir, bucket, key, reader_failure)
        return _parse_file(path, config, limit, bucket_dir)
    prefix = params.get("Prefix", "")
    if not isinstance(prefix, str):
        raise reader_failure(f"ItemReader Prefix must be a string, not {json.dumps(prefix)}.")
    keys = list_keys(bucket_dir, prefix)
    transformation = config.get("Transformation", "NONE")
    if transformation == "NONE":
        keys = keys if limit is None else keys[:limit]
        return [object_metadata(bucket_dir, key) for key in keys]
    if transformation != "LOAD_AND_FLATTEN":
        raise reader_failure(
            f"ReaderConfig Transformation must be NONE or LOAD_AND_FLATTEN, not "
            f"{json.dumps(transformation)}."
        )
    items: list[JSON] = []
    for key in keys:
        remaining = None if limit is None else limit - len(items)
        if remaining == 0:
            break
        items.extend(_parse_file(bucket_dir / key, config, remaining, bucket_dir))
    return items


def _max_items(value: JSON) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_ITEMS_LIMIT:
        raise reader_failure(
            f"MaxItems must be an integer from 1 to {MAX_ITEMS_LIMIT}, not {json.dumps(value)}."
        )
    return value


def list_keys(bucket_dir: Path, prefix: str) -> list[str]:
    """List the keys (relative paths with ``/``) of the files under a directory, as S3 would.

    Args:
        bucket_dir: The bucket's directory.
        prefix: Keep only keys starting with this string (``"data"`` matches ``data1/x``).

    Returns:
        The matching keys, sorted by their UTF-8 bytes (S3's listing order).
    """
    folder = prefix.rpartition("/")[0]
    start = bucket_dir / folder if folder else bucket_dir
    keys: list[str] = []
    if not start.is_dir():
        return keys
    for root, dirs, files in os.walk(start):
        dirs.sort()
        rel = Path(root).relative_to(bucket_dir).as_posix()
        for name in files:
            key = name if rel == "." else f"{rel}/{name}"
            if key.startswith(prefix) and (Path(root) / name).is_file():
                keys.append(key)
    keys.sort(key=lambda k: k.encode("utf-8", "surrogateescape"))
    return keys


def object_metadata(bucket_dir: Path, key: str) -> dict[str, JSON]:
    """Describe one file the way a listObjectsV2 ItemReader item describes an S3 object.

    Args:
        bucket_dir: The bucket's directory.
        key: The file's key in the bucket.

    Returns:
        ``{"Etag": '"<md5 hex>"', "Key", "LastModified": <epoch seconds>, "Size",
        "StorageClass": "STANDARD"}``.
    """
    path = bucket_dir / key
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        stat = path.stat()
    except OSError as exc:
        raise reader_failure(f"Failed to read file '{path}': {exc.strerror or exc}.")
    return {
        "Etag": f'"{digest.hexdigest()}"',
        "Key": key,
        "LastModified": int(stat.st_mtime),
        "Size": stat.st_size,
        "StorageClass": "STANDARD",
    }


def _read_text(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".zst", ".zstd")):
        raise reader_failure(f"File '{path}' is ZSTD-compressed; stackflow reads plain and GZIP.")
    try:
        data = path.read_bytes()
        if name.endswith((".gz", ".gzip")):
            data = gzip.decompress(data)
    except FileNotFoundError:
        raise reader_failure(f"File '{path}' does not exist.")
    except (OSError, EOFError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise reader_failure(f"Failed to read file '{path}': {reason}.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise reader_failure(f"File '{path}' is not UTF-8 text (byte {exc.start}).")


def _parse_file(
    path: Path, config: Mapping[str, JSON], limit: int | None, root: Path
) -> list[JSON]:
    manifest = config.get("ManifestType")
    input_type = config.get("InputType")
    if manifest == "S3_INVENTORY":
        input_type = "MANIFEST"
    elif manifest is not None:
        raise reader_failure(
            f"ReaderConfig ManifestType {json.dumps(manifest)} is not supported "
            "(only S3_INVENTORY)."
        )
    if input_type not in INPUT_TYPES:
        raise reader_failure(
            f"ReaderConfig InputType must be one of CSV, JSON, JSONL, MANIFEST, not "
            f"{json.dumps(input_type)}."
        )
    if input_type == "PARQUET":
        raise reader_failure(f"File '{path}': InputType PARQUET is not supported by stackflow.")
    text = _read_text(path)
    if input_type == "JSON":
        items = json_items(text, path, config.get("ItemsPointer"))
        return items if limit is None else items[:limit]
    if input_type == "JSONL":
        return jsonl_items(text, path, limit)
    if input_type == "CSV":
        return csv_items(text, path, config, limit)
    return _manifest_items(text, path, limit, root)


def _manifest_items(text: str, path: Path, limit: int | None, root: Path) -> list[JSON]:
    try:
        manifest = loads_strict(text)
    except json.JSONDecodeError as exc:
        raise json_error(path, exc)
    files = manifest.get("files") if isinstance(manifest, dict) else None
    schema = manifest.get("fileSchema") if isinstance(manifest, dict) else None
    if not isinstance(files, list) or not isinstance(schema, str):
        raise reader_failure(
            f"File '{path}' is not an S3 inventory manifest (needs 'fileSchema' and 'files')."
        )
    if manifest.get("fileFormat", "CSV") != "CSV":
        raise reader_failure(f"File '{path}': only CSV S3 inventory reports are supported.")
    headers = [name.strip() for name in schema.split(",")]
    items: list[JSON] = []
    for entry in files:
        key = entry.get("key") if isinstance(entry, dict) else None
        if not isinstance(key, str):
            raise reader_failure(f"File '{path}': every entry of 'files' needs a string 'key'.")
        remaining = None if limit is None else limit - len(items)
        if remaining == 0:
            break
        data_path = _object_path(root, str(root), key, reader_failure)
        records = csv_records(_read_text(data_path), ",", data_path)
        items.extend(csv_rows(records, headers, remaining))
    return items


def atomic_write(path: Path, data: bytes | Iterable[bytes]) -> int:
    """Write a file atomically: a temporary file in the same directory, fsync, then rename.

    Args:
        path: The file to (re)place.
        data: Its new content, whole or in chunks (chunks are never all held in memory).

    Returns:
        The number of bytes written.

    Raises:
        OSError: When the directory cannot be written.
    """
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    size = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in [data] if isinstance(data, bytes) else data:
                handle.write(chunk)
                size += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return size


def _writer_config(writer: Mapping[str, JSON], exporting: bool) -> tuple[str, str]:
    config = writer.get("WriterConfig", {})
    if not isinstance(config, Mapping):
        raise _writer_fail("ResultWriter WriterConfig must be an object.")
    output_type = config.get("OutputType", "JSON")
    transformation = config.get("Transformation", "NONE" if exporting else "COMPACT")
    if output_type not in ("JSON", "JSONL"):
        raise _writer_fail(
            f"WriterConfig OutputType must be JSON or JSONL, not {json.dumps(output_type)}."
        )
    if transformation not in ("NONE", "COMPACT", "FLATTEN"):
        raise _writer_fail(
            f"WriterConfig Transformation must be NONE, COMPACT or FLATTEN, not "
            f"{json.dumps(transformation)}."
        )
    return output_type, transformation


def write_results(
    writer: Mapping[str, JSON],
    *,
    map_run_id: str,
    execution_arn: str,
    results: list[dict],
    base_dir: Path | None = None,
    map_run_arn: str | None = None,
) -> JSON:
    """Export a Map Run's child results as a ResultWriter says, and give the Map state's output.

    With ``Resource`` ``arn:aws:states:::s3:putObject`` and ``{Bucket, Prefix}`` (or
    ``stackflow:file`` with ``{Path, Prefix}``, Path being the directory), writes
    ``<Bucket>/<Prefix>/<map_run_id>/`` ``SUCCEEDED_0.json``, ``FAILED_0.json``,
    ``PENDING_0.json`` (each only when it has entries; ``.jsonl`` for OutputType JSONL) and then
    ``manifest.json``, each atomically. With only ``WriterConfig``, writes nothing and returns
    the transformed results (AWS's "preview" form).

    Args:
        writer: The ``ResultWriter`` block with ``Parameters``/``Arguments`` evaluated.
        map_run_id: The Map Run's id (a UUID): the folder name under the prefix.
        execution_arn: The parent execution's ARN.
        results: One dict per child: ``{"index", "name", "execution_arn", "input", "status",
            "output", "error", "cause", "start_time", "stop_time"}``; status one of SUCCEEDED,
            FAILED, TIMED_OUT, ABORTED, PENDING (never started).
        base_dir: Directory that a relative bucket path is relative to (default: cwd).
        map_run_arn: The Map Run's ARN; default :func:`make_map_run_arn` with label ``Map``.

    Returns:
        ``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key": <manifest key>}}`` when
        exporting, else the transformed list.

    Raises:
        WorkflowFailure: ``States.ResultWriterFailed`` with the file and the reason.
    """
    if not isinstance(writer, Mapping):
        raise _writer_fail("ResultWriter must be an object.")
    ordered = sorted(results, key=lambda r: r.get("index", 0))
    resource = writer.get("Resource")
    if resource is None:
        if "WriterConfig" not in writer:
            raise _writer_fail("ResultWriter needs WriterConfig, or Resource and Parameters.")
        return transform_results(ordered, _writer_config(writer, False)[1], execution_arn)
    output_type, transformation = _writer_config(writer, True)
    params = _params(writer, _writer_fail, "ResultWriter")
    if resource == STACKFLOW_FILE:
        bucket = _string(params, "Path", _writer_fail, "ResultWriter stackflow:file")
    elif _s3_action(resource) == "putObject":
        bucket = _string(params, "Bucket", _writer_fail, "ResultWriter")
    else:
        raise _writer_fail(
            f"ResultWriter Resource {json.dumps(resource)} is not supported; use "
            f"arn:aws:states:::s3:putObject or {STACKFLOW_FILE}."
        )
    prefix = params.get("Prefix", "")
    if not isinstance(prefix, str):
        raise _writer_fail(f"ResultWriter Prefix must be a string, not {json.dumps(prefix)}.")
    bucket_dir = _bucket_dir(bucket, base_dir, _writer_fail)
    folder = "/".join(part for part in (prefix.strip("/"), map_run_id) if part)
    arn = map_run_arn or make_map_run_arn(execution_arn, "Map", map_run_id)
    groups: dict[str, list[Mapping[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for result in ordered:
        status = result.get("status")
        if status == "SUCCEEDED":
            groups["SUCCEEDED"].append(result)
        elif status in FAILED_STATUSES:
            groups["FAILED"].append(result)
        elif status in PENDING_STATUSES:
            groups["PENDING"].append(result)
        else:
            raise _writer_fail(f"Child result {result.get('index')} has unknown status {status!r}.")
    manifest_key = f"{folder}/manifest.json"
    directory = _object_path(bucket_dir, bucket, folder, _writer_fail)
    files: dict[str, list[JSON]] = {}
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for status, members in groups.items():
            files[status] = []
            if not members:
                continue
            shape = transformation if status == "SUCCEEDED" else "NONE"
            chunks = encode_chunks(iter_results(members, shape, execution_arn), output_type)
            name = f"{status}_0.json" + ("l" if output_type == "JSONL" else "")
            size = atomic_write(directory / name, chunks)
            files[status].append({"Key": f"{folder}/{name}", "Size": size})
        manifest = {"DestinationBucket": bucket, "MapRunArn": arn, "ResultFiles": files}
        atomic_write(directory / "manifest.json", json.dumps(manifest, indent=2).encode("utf-8"))
    except OSError as exc:
        where = exc.filename or directory
        raise _writer_fail(f"Failed to write results to '{where}': {exc.strerror or exc}.")
    return {"MapRunArn": arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}}
