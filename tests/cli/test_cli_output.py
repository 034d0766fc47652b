"""Tests of the CLI's printing helpers."""

from __future__ import annotations

import io

import pytest

from stackflow.cli.output import (
    format_duration,
    format_timestamp,
    is_tty,
    print_table,
    problem_json,
    problem_line,
    summarize,
)
from stackflow.errors import Problem, SourceLocation


def test_problem_line_with_and_without_position() -> None:
    full = Problem(SourceLocation("wf.json", 3, 7, "/States/A/Next"), "bad next", "X")
    assert problem_line(full) == "wf.json:3:7: bad next (/States/A/Next)"
    no_pos = Problem(SourceLocation(None, None, None, ""), "empty")
    assert problem_line(no_pos) == "<definition>: empty (/)"
    assert problem_json(full) == {
        "file": "wf.json",
        "line": 3,
        "column": 7,
        "pointer": "/States/A/Next",
        "message": "bad next",
        "code": "X",
    }


@pytest.mark.parametrize(
    ("start", "stop", "text"),
    [
        (10.0, None, "-"),
        (10.0, 10.25, "250ms"),
        (10.0, 22.34, "12.3s"),
        (0.0, 125.0, "2m05s"),
        (0.0, 3720.0, "1h02m"),
    ],
)
def test_format_duration(start: float, stop: float | None, text: str) -> None:
    assert format_duration(start, stop) == text


def test_format_timestamp_has_milliseconds() -> None:
    assert format_timestamp(0.9996).endswith(".000")
    assert format_timestamp(5.123)[-4:] == ".123"


def test_summarize_cuts_long_values() -> None:
    assert summarize({"a": [1, 2]}) == '{"a":[1,2]}'
    short = summarize({"text": "x" * 200}, width=20)
    assert len(short) == 20
    assert short.endswith("…")


def test_plain_table(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(("ID", "NAME"), [("1", "alpha"), ("22", "b")])
    assert capsys.readouterr().out == "ID  NAME\n1   alpha\n22  b\n"


def test_is_tty() -> None:
    assert is_tty(None) is False
    assert is_tty(io.StringIO()) is False
