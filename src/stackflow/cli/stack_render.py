"""How the ``stack`` commands show change sets, events and progress to people.

Change sets are printed like ``terraform plan`` but in CloudFormation's terms: one block per
resource with a sign (``+`` add, ``~`` modify, ``-/+`` replace, ``-`` remove) and every changed
property's before and after value. Progress of an apply or delete is a live table of resources
(rich) on a terminal, and one plain line per event otherwise.
"""

from __future__ import annotations

import difflib
import json
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

import click

from stackflow.cli.output import format_timestamp, is_tty

if TYPE_CHECKING:
    from rich.console import RenderableType

    from stackflow.stacks.changes import ChangeSet, ResourceChange
    from stackflow.store.stacks import StackEvent

_SIGNS = {"Add": "+", "Modify": "~", "Replace": "-/+", "Remove": "-", "NoChange": " "}
_DIFF_COLOURS = {"+": "green", "-": "red"}
_COLOURS = {"Add": "green", "Modify": "yellow", "Replace": "magenta", "Remove": "red"}


def value_text(value: Any) -> str:
    """Render a before/after value on one line (compact JSON; ``(none)`` when absent).

    Args:
        value: A JSON-like value (unknown values are already strings).

    Returns:
        The text.
    """
    if value is None:
        return "(none)"
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False, default=str)


def text_diff(before: Any, after: Any, indent: str) -> list[str] | None:
    """Return a line diff when both values are text spanning several lines, else None.

    Args:
        before: The old value.
        after: The new value.
        indent: Put before every line.

    Returns:
        Unified-diff lines (without the file headers), or None.
    """
    if not (isinstance(before, str) and isinstance(after, str)):
        return None
    if "\n" not in before.rstrip("\n") and "\n" not in after.rstrip("\n"):
        return None
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=2)
    return [f"{indent}{line}" for line in list(lines)[2:]]


def change_lines(change: ResourceChange) -> list[tuple[str, str]]:
    """Return the lines (text, rich style) describing one resource change.

    Args:
        change: The change.

    Returns:
        A heading line and one line per changed property.
    """
    action = change.action
    style = _COLOURS.get(action, "")
    head = f"{_SIGNS.get(action, '?'):>3} {change.logical_id} ({change.resource_type})"
    notes = []
    if action == "Replace":
        notes.append("replace")
    if change.reason:
        notes.append(change.reason)
    if change.policy_action == "Retain":
        notes.append("kept: DeletionPolicy Retain")
    if notes:
        head += "  " + "; ".join(dict.fromkeys(notes))
    lines = [(head, f"bold {style}".strip())]
    for detail in change.details:
        after = value_text(detail.after)
        text = f"      {detail.name}: {value_text(detail.before)} -> {after}"
        diff = None if action == "Add" else text_diff(detail.before, detail.after, "        ")
        if diff is not None:
            text = f"      {detail.name}: (text changed)"
        if action == "Add":
            text = f"      {detail.name}: {after}"
        if detail.requires_recreation == "Always":
            text += f"  (forces replacement: {detail.reason or 'create-only property'})"
        elif detail.requires_recreation == "Conditional":
            text += "  (may force replacement)"
        lines.append((text, ""))
        for line in diff or ():
            lines.append((line, _DIFF_COLOURS.get(line.strip()[:1], "")))
    return lines


def summary_text(change_set: ChangeSet) -> str:
    """Return ``N to add, N to modify, N to replace, N to remove, N unchanged``."""
    counts = change_set.counts()
    return (
        f"{counts['Add']} to add, {counts['Modify']} to modify, {counts['Replace']} to replace, "
        f"{counts['Remove']} to remove, {counts['NoChange']} unchanged"
    )


def print_change_set(change_set: ChangeSet, *, show_unchanged: bool = False) -> None:
    """Print a change set for people (to stdout; coloured on a terminal).

    Args:
        change_set: The plan.
        show_unchanged: Also list resources without changes.
    """
    title = f"Stack {change_set.stack_name}"
    if change_set.stack_id is None:
        title += " (new)"
    if change_set.change_set_id:
        title += f", change set {change_set.change_set_id}"
    click.echo(f"{title}: {summary_text(change_set)}")
    color = is_tty(sys.stdout)
    for change in change_set.changes:
        if change.action == "NoChange" and not show_unchanged:
            continue
        for text, style in change_lines(change):
            if color and style:
                click.secho(text, fg=style.split()[-1], bold="bold" in style)
            else:
                click.echo(text)
    if not change_set.has_changes:
        click.echo("No changes.")


def event_line(event: StackEvent) -> str:
    """Format one stack event as a plain line.

    Args:
        event: The event.

    Returns:
        ``time  STATUS  Type  LogicalId  reason``.
    """
    parts = [
        format_timestamp(event.timestamp),
        event.status,
        event.resource_type,
        event.logical_id,
    ]
    if event.reason:
        parts.append(event.reason)
    return "  ".join(parts)


class PlainProgress:
    """Writes one line per stack event (when the output is not a terminal).

    Args:
        stream: Where to write (default: stderr).
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def __call__(self, event: StackEvent) -> None:
        """Print the event."""
        click.echo(event_line(event), file=self.stream or sys.stderr)

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class LiveProgress:
    """A live table of resources and their latest status (rich, on a terminal).

    Args:
        title: Shown above the table.
        stack_name: The stack (its own events set the title's status).
    """

    def __init__(self, title: str, stack_name: str) -> None:
        self.title = title
        self.stack_name = stack_name
        self.rows: dict[str, tuple[str, str, str]] = {}
        self.stack_status = ""
        self.lock = threading.Lock()
        self.live: Any = None

    def _render(self) -> RenderableType:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=f"{self.title}  {self.stack_status}", header_style="bold")
        for header in ("RESOURCE", "TYPE", "STATUS", "REASON"):
            table.add_column(header)
        for logical_id, (rtype, status, reason) in self.rows.items():
            table.add_row(logical_id, rtype, Text(status, style=status_colour(status)), reason)
        return table

    def __enter__(self) -> LiveProgress:
        from rich.console import Console
        from rich.live import Live

        self.live = Live(self._render(), console=Console(stderr=True), refresh_per_second=8)
        self.live.__enter__()
        return self

    def __call__(self, event: StackEvent) -> None:
        """Record the event and refresh the table."""
        with self.lock:
            if event.logical_id == self.stack_name:
                self.stack_status = event.status
            else:
                self.rows[event.logical_id] = (
                    event.resource_type,
                    event.status,
                    event.reason or "",
                )
            if self.live is not None:
                self.live.update(self._render())

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)


def status_colour(status: str) -> str:
    """Return the rich style of a CloudFormation status."""
    if status.endswith("FAILED") or status.startswith("ROLLBACK") or "ROLLBACK" in status:
        return "red"
    if status.endswith("COMPLETE") or status == "DELETE_SKIPPED":
        return "green"
    if status.endswith("IN_PROGRESS"):
        return "cyan"
    return ""


def progress_for(title: str, stack_name: str) -> PlainProgress | LiveProgress:
    """Return the progress display to use: live on a terminal, plain lines otherwise."""
    if is_tty(sys.stderr):
        return LiveProgress(title, stack_name)
    return PlainProgress()
