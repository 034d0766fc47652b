"""Printing helpers of the CLI: JSON, errors, problems, tables and times.

Everything meant for scripts goes to stdout (one JSON document with ``--json``); messages for
people (progress, errors, summaries) go to stderr. Tables use rich when stdout is a terminal and
plain aligned columns otherwise, so piped output stays greppable. rich is imported lazily.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import IO, Any

import click

from stackflow.errors import Problem
from stackflow.views import problem_json as problem_json


def is_tty(stream: IO[str] | None) -> bool:
    """Tell whether ``stream`` is an interactive terminal.

    Args:
        stream: A text stream such as ``sys.stderr`` (None counts as not a terminal).

    Returns:
        True when the stream is attached to a terminal.
    """
    if stream is None:
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def dumps(value: Any) -> str:
    """Serialize a JSON value the way the CLI prints it (2-space indent, UTF-8 kept).

    Args:
        value: A JSON-compatible value.

    Returns:
        The JSON text.
    """
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def print_json(value: Any) -> None:
    """Print one JSON document to stdout.

    Args:
        value: A JSON-compatible value.
    """
    click.echo(dumps(value))


def print_error(message: str) -> None:
    """Print ``error: message`` to stderr.

    Args:
        message: What went wrong.
    """
    click.echo(f"error: {message}", err=True)


def problem_line(problem: Problem) -> str:
    """Format a definition problem as ``file:line:column: message (pointer)``.

    The line and column are left out when unknown; a definition without a file is named
    ``<definition>``.

    Args:
        problem: The problem.

    Returns:
        One line of text.
    """
    loc = problem.location
    where = loc.file or "<definition>"
    if loc.line is not None:
        where += f":{loc.line}"
        if loc.column is not None:
            where += f":{loc.column}"
    return f"{where}: {problem.message} ({loc.pointer or '/'})"


def format_time(epoch: float | None) -> str:
    """Format seconds since the epoch as local ``YYYY-MM-DD HH:MM:SS`` (``-`` for None).

    Args:
        epoch: Seconds since the epoch, or None.

    Returns:
        The formatted time.
    """
    if epoch is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def format_timestamp(epoch: float) -> str:
    """Format seconds since the epoch as local time with milliseconds.

    Args:
        epoch: Seconds since the epoch.

    Returns:
        ``YYYY-MM-DD HH:MM:SS.mmm``.
    """
    millis = round((epoch - int(epoch)) * 1000)
    whole = int(epoch)
    if millis == 1000:
        whole, millis = whole + 1, 0
    return f"{format_time(whole)}.{millis:03d}"


def format_duration(start: float | None, stop: float | None) -> str:
    """Format the time between two instants, e.g. ``850ms``, ``12.3s``, ``2m05s``, ``1h02m``.

    Args:
        start: Start, seconds since the epoch.
        stop: End, seconds since the epoch, or None when not finished (printed as ``-``).

    Returns:
        The duration text.
    """
    if start is None or stop is None:
        return "-"
    seconds = max(0.0, stop - start)
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        minutes, rest = divmod(int(seconds), 60)
        return f"{minutes}m{rest:02d}s"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m"


def summarize(value: Any, width: int = 80) -> str:
    """Render a JSON value on one line, shortened to ``width`` characters.

    Args:
        value: A JSON-compatible value.
        width: The longest result (an ellipsis marks a cut).

    Returns:
        Compact JSON text.
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text


_STATUS_STYLES = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "TIMED_OUT": "red",
    "ABORTED": "yellow",
    "RUNNING": "cyan",
}


def status_style(status: str) -> str:
    """Return the rich style used for an execution status.

    Args:
        status: RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.

    Returns:
        A rich style name (empty when the status is unknown).
    """
    return _STATUS_STYLES.get(status, "")


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    styles: Sequence[str] | None = None,
) -> None:
    """Print a table to stdout: rich on a terminal, aligned plain columns otherwise.

    Args:
        headers: Column titles.
        rows: Cell texts, one sequence per row.
        styles: Optional rich style per row (ignored in plain output).
    """
    if is_tty(sys.stdout):
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(*headers, header_style="bold")
        for index, row in enumerate(rows):
            style = styles[index] if styles else None
            table.add_row(*(Text(cell) for cell in row), style=style or None)
        Console().print(table)
        return
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    for row in [list(headers), *rows]:
        line = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row))
        click.echo(line.rstrip())
