"""Tests of the local thread-pool executor."""

from __future__ import annotations

import functools
import threading

import pytest

from stackflow.executors import Executor, LocalExecutor, default_max_workers


def test_default_bound() -> None:
    executor = LocalExecutor()
    try:
        assert executor.max_workers == default_max_workers()
        assert 1 <= executor.max_workers <= 32
    finally:
        executor.shutdown()


def test_invalid_bound() -> None:
    with pytest.raises(ValueError):
        LocalExecutor(max_workers=0)


def test_futures_carry_results_and_exceptions() -> None:
    with LocalExecutor(max_workers=2) as executor:
        assert isinstance(executor, Executor)
        ok = executor.submit(lambda: {"x": 1})

        def boom() -> None:
            raise KeyError("nope")

        bad = executor.submit(boom)
        assert ok.result(timeout=10) == {"x": 1}
        with pytest.raises(KeyError):
            bad.result(timeout=10)


def test_many_tasks_run_concurrently_up_to_the_bound() -> None:
    bound = 4
    total = 500
    lock = threading.Lock()
    active = 0
    peak = 0
    full = threading.Event()  # set once `bound` tasks run at the same time
    gate = threading.Event()  # released after every submit has returned

    def task(index: int) -> int:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
            if active == bound:
                full.set()
        try:
            assert gate.wait(timeout=30)
            return index * index
        finally:
            with lock:
                active -= 1

    executor = LocalExecutor(max_workers=bound)
    try:
        # Every submit returns while all workers are blocked: submit never waits for capacity.
        futures = [executor.submit(functools.partial(task, i)) for i in range(total)]
        assert len(futures) == total
        assert full.wait(timeout=30)
        assert not any(f.done() for f in futures)
        gate.set()
        assert [f.result(timeout=30) for f in futures] == [i * i for i in range(total)]
        assert peak == bound
    finally:
        gate.set()
        executor.shutdown()


def test_shutdown_rejects_new_work() -> None:
    executor = LocalExecutor(max_workers=1)
    executor.shutdown()
    with pytest.raises(RuntimeError):
        executor.submit(lambda: 1)


def test_shutdown_without_wait_cancels_queued_work() -> None:
    gate = threading.Event()
    started = threading.Event()
    executor = LocalExecutor(max_workers=1)

    def blocker() -> str:
        started.set()
        gate.wait(timeout=30)
        return "done"

    running = executor.submit(blocker)
    queued = executor.submit(lambda: "never")
    assert started.wait(timeout=10)
    executor.shutdown(wait=False)
    gate.set()
    assert running.result(timeout=10) == "done"
    assert queued.cancelled()
