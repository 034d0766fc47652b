"""Log rotation, tail and follow."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from stackflow.supervise.logs import LogRotator, follow, rotated_paths, tail
from stackflow.supervise.process import ProcessSpec, exit_code_of, spawn, stop


def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until true or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def test_rotation_keeps_an_append_writer_appending(tmp_path: Path) -> None:
    log = tmp_path / "replica.log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        rotator = LogRotator()
        os.write(fd, b"first batch\n" * 10)
        assert rotator.rotate(log, max_bytes=50, keep=2)
        assert log.stat().st_size == 0
        assert log.with_name("replica.log.1").read_bytes() == b"first batch\n" * 10
        os.write(fd, b"second\n")
        # The writer continues at the new end: no hole of NUL bytes where the old content was.
        assert log.read_bytes() == b"second\n"
        assert not rotator.rotate(log, max_bytes=50, keep=2)  # below the size
        assert rotator.rotate(log, max_bytes=0, keep=2)
        os.write(fd, b"third\n")
        assert rotator.rotate(log, max_bytes=0, keep=2)
        os.write(fd, b"fourth\n")
    finally:
        os.close(fd)
    assert log.read_text() == "fourth\n"
    assert [p.read_text() for p in rotated_paths(log, 2)] == ["third\n", "second\n"]
    assert not log.with_name("replica.log.3").exists()  # the oldest was dropped


def test_rotation_of_a_real_process_log(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    spec = ProcessSpec(
        command=["sh", "-c", "echo one; while [ ! -e go ]; do sleep 0.01; done; echo two"],
        env={"PATH": os.environ["PATH"]},
        cwd=tmp_path,
        stdout_path=log,
        stderr_path=log,
    )
    handle = spawn(spec)
    try:
        wait_for(lambda: log.read_text() == "one\n")
        assert LogRotator().rotate(log, max_bytes=1, keep=1)
        (tmp_path / "go").touch()
        wait_for(lambda: exit_code_of(handle) == 0)
    finally:
        stop(handle, grace_seconds=2)
    assert log.read_text() == "two\n"
    assert log.with_name("out.log.1").read_text() == "one\n"


def test_rotate_missing_or_empty_file_and_keep_zero(tmp_path: Path) -> None:
    rotator = LogRotator()
    log = tmp_path / "a.log"
    assert not rotator.rotate(log, max_bytes=0, keep=3)
    log.write_text("")
    assert not rotator.rotate(log, max_bytes=0, keep=3)
    log.write_text("data\n")
    assert rotator.rotate(log, max_bytes=1, keep=0)
    assert log.read_text() == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.log"]


def test_tail(tmp_path: Path) -> None:
    log = tmp_path / "t.log"
    assert tail(log, 5) == []
    log.write_text("".join(f"line {i}\n" for i in range(10)))
    assert tail(log, 3) == ["line 7", "line 8", "line 9"]
    assert tail(log, 100) == [f"line {i}" for i in range(10)]
    assert tail(log, 0) == []
    with log.open("a") as f:
        f.write("partial")
    assert tail(log, 2) == ["line 9", "partial"]


def test_tail_of_a_file_larger_than_a_block(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_text("".join(f"{i:08d}\n" for i in range(50_000)))  # 450 kB
    assert tail(log, 2) == ["00049998", "00049999"]
    assert len(tail(log, 20_000)) == 20_000
    assert tail(log, 20_000)[0] == f"{30_000:08d}"


def test_follow_yields_new_lines_only_and_survives_truncation(tmp_path: Path) -> None:
    log = tmp_path / "f.log"
    log.write_text("old line\n")
    stop_event = threading.Event()
    lines = follow(log, stop=stop_event, poll_seconds=0.01)
    with log.open("a") as f:
        f.write("new 1\nnew 2\npar")
    assert next(lines) == "new 1"
    assert next(lines) == "new 2"
    with log.open("a") as f:
        f.write("tial\n")
    assert next(lines) == "partial"
    os.truncate(log, 0)  # copy-truncate rotation
    with log.open("a") as f:
        f.write("after\n")
    assert next(lines) == "after"
    stop_event.set()
    assert list(lines) == []


def test_follow_from_start_waits_for_the_file_and_handles_replacement(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    stop_event = threading.Event()
    lines = follow(log, from_start=True, stop=stop_event, poll_seconds=0.01)
    log.write_text("a\nb\n")
    assert [next(lines), next(lines)] == ["a", "b"]
    replacement = tmp_path / "new.log"
    replacement.write_text("c\n")
    os.replace(replacement, log)
    assert next(lines) == "c"
    stop_event.set()
    assert list(lines) == []


def test_follow_blocks_until_a_line_arrives(tmp_path: Path) -> None:
    log = tmp_path / "slow.log"
    log.write_text("")
    lines = follow(log, poll_seconds=0.01)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(next(lines)), daemon=True)
    reader.start()
    with log.open("a") as f:
        f.write("hello\n")
    reader.join(10)
    assert got == ["hello"]
