"""Spawning, identifying, stopping and watching real processes (Linux)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from stackflow.supervise.process import (
    ExitWatcher,
    ProcessHandle,
    ProcessSpec,
    exit_code_of,
    handle_for_pid,
    is_own_child,
    is_same_process,
    parse_signal,
    spawn,
    stop,
)


def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until true or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie nobody reaps counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class Cleanup:
    """Stops every process a test started."""

    def __init__(self) -> None:
        self.handles: list[ProcessHandle] = []
        self.pids: list[int] = []

    def spawn(self, tmp_path: Path, script: str, **kwargs: object) -> ProcessHandle:
        spec = ProcessSpec(
            command=["sh", "-c", script],
            env={"PATH": os.environ["PATH"]},
            cwd=tmp_path,
            stdout_path=tmp_path / "out.log",
            stderr_path=tmp_path / "out.log",
            **kwargs,  # type: ignore[arg-type]
        )
        handle = spawn(spec)
        self.handles.append(handle)
        return handle


@pytest.fixture
def procs() -> Iterator[Cleanup]:
    cleanup = Cleanup()
    try:
        yield cleanup
    finally:
        for handle in cleanup.handles:
            stop(handle, signal_name="KILL", grace_seconds=2)
        for pid in cleanup.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_spawn_appends_output_to_log_files(tmp_path: Path, procs: Cleanup) -> None:
    (tmp_path / "out.log").write_text("old\n")
    handle = procs.spawn(tmp_path, "echo out; echo err >&2; exit 3")
    codes: list[int | None] = []

    def exited() -> bool:
        codes.append(exit_code_of(handle))
        return codes[-1] is not None

    wait_for(exited)
    assert codes[-1] == 3
    assert read_lines(tmp_path / "out.log")[:3] == ["old", "out", "err"]
    assert handle.pgid == handle.pid
    assert not is_own_child(handle.pid)


def test_separate_stdout_and_stderr_and_env(tmp_path: Path, procs: Cleanup) -> None:
    spec = ProcessSpec(
        command=["sh", "-c", "echo $GREETING; pwd; cat; echo oops >&2"],
        env={"PATH": os.environ["PATH"], "GREETING": "hello"},
        cwd=tmp_path,
        stdout_path=tmp_path / "logs" / "stdout.log",
        stderr_path=tmp_path / "logs" / "stderr.log",
    )
    handle = spawn(spec)
    procs.handles.append(handle)
    wait_for(lambda: exit_code_of(handle) is not None)
    assert read_lines(tmp_path / "logs" / "stdout.log") == ["hello", str(tmp_path)]
    assert read_lines(tmp_path / "logs" / "stderr.log") == ["oops"]


def test_rlimits_are_applied(tmp_path: Path, procs: Cleanup) -> None:
    handle = procs.spawn(tmp_path, "ulimit -n; ulimit -Hn", rlimits={"NOFILE": 123})
    wait_for(lambda: exit_code_of(handle) == 0)
    assert read_lines(tmp_path / "out.log") == ["123", "123"]


@pytest.mark.parametrize(
    ("rlimits", "message"),
    [
        ({"FILES": 10}, "unknown resource limit"),
        ({"NOFILE": -1}, "non-negative integer"),
        ({"NOFILE": 10**12}, "above the hard limit"),
    ],
)
def test_bad_rlimits_are_rejected(tmp_path: Path, rlimits: dict[str, int], message: str) -> None:
    spec = ProcessSpec(
        command=["true"],
        env={},
        cwd=tmp_path,
        stdout_path=tmp_path / "o",
        stderr_path=tmp_path / "o",
        rlimits=rlimits,
    )
    with pytest.raises(ValueError, match=message):
        spawn(spec)


def test_missing_command_raises_oserror(tmp_path: Path) -> None:
    spec = ProcessSpec(
        command=["/nonexistent/replica"],
        env={},
        cwd=tmp_path,
        stdout_path=tmp_path / "o",
        stderr_path=tmp_path / "o",
    )
    with pytest.raises(OSError):
        spawn(spec)


def test_stop_kills_the_whole_group(tmp_path: Path, procs: Cleanup) -> None:
    handle = procs.spawn(tmp_path, "sleep 300 & echo $!; wait")
    wait_for(lambda: read_lines(tmp_path / "out.log"))
    child = int(read_lines(tmp_path / "out.log")[0])
    procs.pids.append(child)
    assert os.getpgid(child) == handle.pgid
    assert is_same_process(handle)
    code = stop(handle, grace_seconds=5)
    assert code == -signal.SIGTERM
    assert gone(child)
    assert not is_same_process(handle)
    # Stopping again is harmless and still knows the exit code.
    assert stop(handle, grace_seconds=1) == -signal.SIGTERM


def test_stop_kills_a_term_ignoring_group_after_grace(tmp_path: Path, procs: Cleanup) -> None:
    handle = procs.spawn(tmp_path, "trap '' TERM; sleep 300 & echo $!; echo ready; wait")
    wait_for(lambda: "ready" in read_lines(tmp_path / "out.log"))
    child = int(read_lines(tmp_path / "out.log")[0])
    procs.pids.append(child)
    started = time.monotonic()
    code = stop(handle, grace_seconds=0.5)
    elapsed = time.monotonic() - started
    assert code == -signal.SIGKILL
    assert 0.5 <= elapsed < 10
    assert gone(child)


def test_stop_kills_orphans_of_a_dead_leader(tmp_path: Path, procs: Cleanup) -> None:
    handle = procs.spawn(tmp_path, "sleep 300 & echo $!")
    wait_for(lambda: exit_code_of(handle) == 0)
    child = int(read_lines(tmp_path / "out.log")[0])
    procs.pids.append(child)
    assert not gone(child)
    assert stop(handle, grace_seconds=5) == 0
    assert gone(child)


def test_is_same_process_rejects_dead_and_reused_pids(tmp_path: Path, procs: Cleanup) -> None:
    handle = procs.spawn(tmp_path, "sleep 300")
    assert is_same_process(handle)
    assert handle_for_pid(handle.pid) == handle
    impostor = ProcessHandle(pid=handle.pid, start_time=handle.start_time - 100, pgid=handle.pgid)
    assert not is_same_process(impostor)
    stop(handle, grace_seconds=5)
    assert not is_same_process(handle)
    with pytest.raises(ProcessLookupError):
        handle_for_pid(handle.pid)


def test_stop_of_an_impostor_leaves_the_live_process_alone(tmp_path: Path, procs: Cleanup) -> None:
    handle = procs.spawn(tmp_path, "sleep 300")
    impostor = ProcessHandle(pid=handle.pid, start_time=handle.start_time - 100, pgid=handle.pgid)
    assert stop(impostor, grace_seconds=0.1) is None
    assert is_same_process(handle)


def test_parse_signal() -> None:
    assert parse_signal("TERM") is signal.SIGTERM
    assert parse_signal("sigint") is signal.SIGINT
    assert parse_signal("9") is signal.SIGKILL
    assert parse_signal(1) is signal.SIGHUP
    with pytest.raises(ValueError, match="unknown signal"):
        parse_signal("NOPE")


class Recorder:
    """Collects exit callbacks."""

    def __init__(self) -> None:
        self.calls: list[tuple[ProcessHandle, int | None, float]] = []
        self.threads: set[str] = set()
        self.event = threading.Event()

    def __call__(self, handle: ProcessHandle, code: int | None) -> None:
        self.calls.append((handle, code, time.monotonic()))
        self.threads.add(threading.current_thread().name)
        self.event.set()


def test_watcher_reports_own_child_exit_promptly(tmp_path: Path, procs: Cleanup) -> None:
    handle = procs.spawn(tmp_path, "exec sleep 300")
    recorder = Recorder()
    with ExitWatcher() as watcher:
        watcher.watch(handle, recorder)
        assert watcher.watched() == [handle.pid]
        killed = time.monotonic()
        os.kill(handle.pid, signal.SIGKILL)
        assert recorder.event.wait(5)
        assert watcher.watched() == []
    [(seen, code, when)] = recorder.calls
    assert seen == handle
    assert code == -signal.SIGKILL
    assert when - killed < 1.0
    assert recorder.threads == {"stackflow-exit-watcher"}
    assert not is_own_child(handle.pid)  # reaped by the watcher


def test_watcher_reports_exit_code_and_already_dead(tmp_path: Path, procs: Cleanup) -> None:
    handle = procs.spawn(tmp_path, "exit 7")
    recorder = Recorder()
    with ExitWatcher() as watcher:
        watcher.watch(handle, recorder)
        assert recorder.event.wait(5)
        # Watching a process that is already gone reports at once with the remembered code.
        late = Recorder()
        watcher.watch(handle, late)
        assert late.event.wait(5)
    assert [code for _, code, _ in recorder.calls] == [7]
    assert [code for _, code, _ in late.calls] == [7]


def test_watcher_reports_adopted_process_that_is_not_our_child() -> None:
    out = subprocess.run(
        ["sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pid = int(out.strip())
    try:
        handle = handle_for_pid(pid)
        assert psutil.Process(pid).ppid() != os.getpid()
        recorder = Recorder()
        with ExitWatcher() as watcher:
            watcher.watch(handle, recorder)
            killed = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            assert recorder.event.wait(5)
        [(seen, code, when)] = recorder.calls
        assert seen == handle
        assert code is None
        assert when - killed < 1.0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_stop_of_adopted_non_leader_signals_only_it() -> None:
    out = subprocess.run(
        ["sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pid = int(out.strip())
    try:
        handle = handle_for_pid(pid)
        assert handle.pgid != handle.pid  # in our (pytest's) process group
        assert stop(handle, grace_seconds=5) is None
        assert gone(pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_unwatch_suppresses_the_callback(tmp_path: Path, procs: Cleanup) -> None:
    first = procs.spawn(tmp_path, "exec sleep 300")
    second = procs.spawn(tmp_path, "exec sleep 300")
    dropped, kept = Recorder(), Recorder()
    with ExitWatcher() as watcher:
        watcher.watch(first, dropped)
        watcher.watch(second, kept)
        watcher.unwatch(first.pid)
        assert watcher.watched() == [second.pid]
        os.kill(first.pid, signal.SIGKILL)
        os.kill(second.pid, signal.SIGKILL)
        assert kept.event.wait(5)
    assert dropped.calls == []
    assert stop(first, grace_seconds=1) == -signal.SIGKILL


def _thread_cpu_ticks(native_id: int) -> int:
    with open(f"/proc/self/task/{native_id}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_watcher_thread_sleeps_while_waiting(tmp_path: Path, procs: Cleanup) -> None:
    idle = procs.spawn(tmp_path, "exec sleep 300")
    short = procs.spawn(tmp_path, "exec sleep 0.5")
    recorder = Recorder()
    with ExitWatcher() as watcher:
        watcher.watch(idle, Recorder())
        native_id = watcher._thread.native_id
        assert native_id is not None
        before = _thread_cpu_ticks(native_id)
        started = time.monotonic()
        watcher.watch(short, recorder)
        assert recorder.event.wait(10)
        waited = time.monotonic() - started
        used = _thread_cpu_ticks(native_id) - before
    assert waited >= 0.3
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    assert used / ticks_per_second < 0.05


def test_closed_watcher_refuses_new_watches(tmp_path: Path, procs: Cleanup) -> None:
    handle = procs.spawn(tmp_path, "exec sleep 300")
    watcher = ExitWatcher()
    watcher.close()
    watcher.close()
    with pytest.raises(RuntimeError):
        watcher.watch(handle, Recorder())
