"""Parsing the item files of a Distributed Map's ItemReader (pure: text in, items out).

Formats as Step Functions reads them: a JSON array (optionally under an ``ItemsPointer``), JSON
Lines (one value a line, blank lines ignored) and delimited text with AWS's CSV rules. Errors are
``States.ItemReaderFailed`` failures naming the file and, where it helps, the line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from stackflow.errors import STATES_ITEM_READER_FAILED, WorkflowFailure
from stackflow.types import JSON

#: AWS reads CSV header rows of up to 10 KiB.
MAX_CSV_HEADER_BYTES = 10_240
#: ``CSVDelimiter`` values and their characters.
CSV_DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}

_NEWLINE = re.compile(r"\r\n|\r|\n")


def reader_failure(cause: str) -> WorkflowFailure:
    """Make a ``States.ItemReaderFailed`` failure.

    Args:
        cause: What went wrong, naming the file.

    Returns:
        The failure, to raise.
    """
    return WorkflowFailure(STATES_ITEM_READER_FAILED, cause)


def json_error(path: Path, exc: json.JSONDecodeError) -> WorkflowFailure:
    """Describe a JSON syntax error in an item file.

    Args:
        path: The file.
        exc: The parser's error.

    Returns:
        A ``States.ItemReaderFailed`` failure naming the file, line and column.
    """
    return reader_failure(
        f"File '{path}' is not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}."
    )


def _no_constants(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not valid JSON", name, 0)


def loads_strict(text: str) -> JSON:
    """Parse JSON text, refusing ``NaN`` and ``Infinity`` (which are not JSON).

    Args:
        text: The JSON text.

    Returns:
        The value.

    Raises:
        json.JSONDecodeError: For text that is not JSON.
    """
    return json.loads(text, parse_constant=_no_constants)


def json_items(text: str, path: Path, pointer: JSON) -> list[JSON]:
    """Read the items of a JSON file: its top-level array, or the array at ``ItemsPointer``.

    Args:
        text: The file's text.
        path: The file, for error messages.
        pointer: ``ReaderConfig.ItemsPointer`` (an RFC 6901 JSON Pointer), or None.

    Returns:
        The array's elements.

    Raises:
        WorkflowFailure: ``States.ItemReaderFailed`` for bad JSON or a value that is not an array.
    """
    try:
        value = loads_strict(text)
    except json.JSONDecodeError as exc:
        raise json_error(path, exc)
    if pointer is not None:
        value = _resolve_pointer(value, pointer, path)
    if isinstance(value, list):
        return value
    hint = "; use ReaderConfig ItemsPointer to select an array in it" if pointer is None else ""
    where = f" at ItemsPointer '{pointer}'" if pointer is not None else ""
    raise reader_failure(
        f"File '{path}' must contain a JSON array{where}, but it holds {_kind(value)}{hint}."
    )


def _resolve_pointer(value: JSON, pointer: JSON, path: Path) -> JSON:
    if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
        raise reader_failure(
            f"ItemsPointer must be a JSON Pointer such as '/a/b', not {pointer!r}."
        )
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            raise reader_failure(f"ItemsPointer '{pointer}' selects nothing in file '{path}'.")
    return value


def _kind(value: JSON) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _lines(text: str) -> Iterator[tuple[int, str]]:
    yield from enumerate(_NEWLINE.split(text), start=1)


def jsonl_items(text: str, path: Path, limit: int | None) -> list[JSON]:
    """Read the items of a JSON Lines file: one JSON value a line, blank lines ignored.

    Args:
        text: The file's text.
        path: The file, for error messages.
        limit: Stop after this many items (None: all).

    Returns:
        The values, in line order.

    Raises:
        WorkflowFailure: ``States.ItemReaderFailed`` naming the first line that is not JSON.
    """
    items: list[JSON] = []
    for number, line in _lines(text):
        if limit is not None and len(items) >= limit:
            break
        if not line.strip():
            continue
        try:
            items.append(loads_strict(line))
        except json.JSONDecodeError as exc:
            raise reader_failure(
                f"File '{path}' line {number} is not valid JSON: {exc.msg} (column {exc.colno})."
            )
    return items


# ----------------------------------------------------------------------------------------------
# CSV (AWS's rules: quotes may wrap delimiters and newlines, "" and backslash escapes, short rows
# padded with empty strings, extra fields dropped, every value a string)
# ----------------------------------------------------------------------------------------------


def csv_records(
    text: str, delimiter: str, path: Path | str = "<text>"
) -> Iterator[tuple[int, list[str]]]:
    """Split delimited text into records, following Step Functions' CSV parsing rules.

    Args:
        text: The file's text.
        delimiter: The one-character field separator.
        path: The file, for error messages.

    Yields:
        ``(line number where the record starts, fields)``; empty lines are skipped.

    Raises:
        WorkflowFailure: ``States.ItemReaderFailed`` for a quoted field left open at the end.
    """
    pos, end, line = 0, len(text), 1
    while pos < end:
        match = _NEWLINE.search(text, pos)
        stop = match.start() if match else end
        raw = text[pos:stop]
        if '"' not in raw and "\\" not in raw:
            if raw:
                yield line, raw.split(delimiter)
            pos, line = (match.end() if match else end), line + 1
            continue
        start_line = line
        fields, pos, line = _record(text, pos, delimiter, line, path)
        yield start_line, fields


def _record(
    text: str, pos: int, delim: str, line: int, path: Path | str
) -> tuple[list[str], int, int]:
    fields: list[str] = []
    buf: list[str] = []
    quoted_since: int | None = None
    end = len(text)
    while pos < end:
        char = text[pos]
        nxt = text[pos + 1] if pos + 1 < end else ""
        if char == "\\" and nxt:
            if nxt in ("\\", '"', delim):
                buf.append(nxt)
                pos += 2
            else:
                pos += 1  # a backslash before any other character is dropped
            continue
        if quoted_since is not None:
            if char == '"':
                if nxt == '"':
                    buf.append('"')
                    pos += 2
                else:
                    quoted_since = None
                    pos += 1
                continue
            if char == "\r" and nxt == "\n":
                buf.append(nxt)
                pos += 2
                line += 1
                continue
            if char in "\r\n":
                line += 1
            buf.append(char)
            pos += 1
            continue
        if char == '"':
            if buf and nxt == '"':
                buf.append('"')
                pos += 2
            else:
                quoted_since = line
                pos += 1
            continue
        if char == delim:
            fields.append("".join(buf))
            buf = []
            pos += 1
            continue
        if char in "\r\n":
            pos += 2 if char == "\r" and nxt == "\n" else 1
            line += 1
            break
        buf.append(char)
        pos += 1
    if quoted_since is not None:
        raise reader_failure(
            f"File '{path}' line {quoted_since}: a quoted field is never closed (missing '\"')."
        )
    fields.append("".join(buf))
    return fields, pos, line


def csv_items(text: str, path: Path, config: Mapping[str, JSON], limit: int | None) -> list[JSON]:
    """Read the items of a delimited text file: one object per record, keyed by the header.

    Args:
        text: The file's text.
        path: The file, for error messages.
        config: The ReaderConfig (``CSVDelimiter``, ``CSVHeaderLocation``, ``CSVHeaders``).
        limit: Stop after this many items (None: all).

    Returns:
        Objects whose values are all strings.

    Raises:
        WorkflowFailure: ``States.ItemReaderFailed`` for bad options or unparseable text.
    """
    delimiter_name = config.get("CSVDelimiter", "COMMA")
    if delimiter_name not in CSV_DELIMITERS:
        raise reader_failure(
            f"ReaderConfig CSVDelimiter must be one of {', '.join(CSV_DELIMITERS)}, not "
            f"{json.dumps(delimiter_name)}."
        )
    location = config.get("CSVHeaderLocation", "FIRST_ROW")
    delimiter = CSV_DELIMITERS[delimiter_name]
    records = csv_records(text, delimiter, path)
    if location == "GIVEN":
        headers = config.get("CSVHeaders")
        if (
            not isinstance(headers, list)
            or not headers
            or not all(isinstance(h, str) for h in headers)
        ):
            raise reader_failure(
                "ReaderConfig CSVHeaders must be a non-empty array of strings when "
                "CSVHeaderLocation is GIVEN."
            )
    elif location == "FIRST_ROW":
        first = next(records, None)
        if first is None:
            return []
        headers = first[1]
        if len(delimiter.join(headers).encode()) > MAX_CSV_HEADER_BYTES:
            raise reader_failure(
                f"File '{path}' line {first[0]}: the CSV header row is over "
                f"{MAX_CSV_HEADER_BYTES} bytes."
            )
    else:
        raise reader_failure(
            f"ReaderConfig CSVHeaderLocation must be FIRST_ROW or GIVEN, not "
            f"{json.dumps(location)}."
        )
    return csv_rows(records, headers, limit)


def csv_rows(
    records: Iterator[tuple[int, list[str]]], headers: list[str], limit: int | None
) -> list[JSON]:
    """Turn CSV records into objects keyed by the headers, as AWS does.

    A short record gets empty strings for its missing fields; a long one loses its extra fields.

    Args:
        records: From :func:`csv_records`.
        headers: The column names.
        limit: Stop after this many items (None: all).

    Returns:
        The objects.
    """
    items: list[JSON] = []
    width = len(headers)
    for _line, fields in records:
        if limit is not None and len(items) >= limit:
            break
        padded = fields[:width] + [""] * (width - len(fields))
        items.append(dict(zip(headers, padded, strict=True)))
    return items
