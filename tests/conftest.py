"""Shared fixtures: a module of task functions importable as ``sf_test_tasks``."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

TASKS = textwrap.dedent(
    '''
    import time


    def double(x):
        return x * 2


    def echo(x):
        return x


    def boom(x):
        raise ValueError(f"bad input {x!r}")


    def flaky(x):
        """Fail until called x["succeed_on"] times; counts calls in the file x["counter"]."""
        with open(x["counter"], "a+") as f:
            f.write(".")
            f.seek(0)
            calls = len(f.read())
        if calls < x["succeed_on"]:
            raise ConnectionError(f"try again ({calls})")
        return {"attempts": calls}


    def slow(x):
        time.sleep(x["seconds"])
        return "slow done"


    async def async_add(x):
        return x["a"] + x["b"]
    '''
)


@pytest.fixture
def task_module(tmp_path: Path) -> Iterator[str]:
    """Write a module of task functions to a temp dir and put it on sys.path."""
    (tmp_path / "sf_test_tasks.py").write_text(TASKS)
    sys.path.insert(0, str(tmp_path))
    sys.modules.pop("sf_test_tasks", None)
    try:
        yield "sf_test_tasks"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("sf_test_tasks", None)
