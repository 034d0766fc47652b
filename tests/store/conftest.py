"""The store fixture shared by the tests that run against every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stackflow.store import MemoryStore, SQLiteStore, Store


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each backend in turn: in memory, and SQLite in a temporary directory."""
    backend: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "s.db")
    yield backend
    backend.close()
