"""Fixtures of the stack engine tests: a StackService over a real SQLite store or MemoryStore."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stackflow.stacks import StackService
from stackflow.store import open_store
from stackflow.store.base import Store
from stackflow.store.memory import MemoryStore


@pytest.fixture(params=["sqlite", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store: SQLite in tmp_path, or in memory."""
    store: Store
    if request.param == "sqlite":
        (tmp_path / "home").mkdir(exist_ok=True)
        store = open_store(str(tmp_path / "home" / "stackflow.db"), durability="normal")
    else:
        store = MemoryStore()
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def service(backend: Store, tmp_path: Path) -> StackService:
    """A stack service with the default providers."""
    return StackService(backend.stacks, home=tmp_path / "home", lease_seconds=5.0)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a template file in tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write
