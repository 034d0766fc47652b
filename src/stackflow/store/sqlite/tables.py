"""What the SQLite stores of stacks, services, schedules, triggers and tokens share.

A :class:`Table` maps a record dataclass to the rows of a table; a :class:`WriterStore` runs its
writes through the store's single writer (inside its next group commit, under a savepoint) and
its reads on the calling thread's reader connection. Errors that are not :class:`StoreError`
(``StackNotFoundError``, an error of a ``break_if`` callback) are carried out of the writer and
raised to the caller unchanged.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from stackflow.errors import StoreError
from stackflow.store.sqlite.rows import decode_json, encode_json
from stackflow.store.sqlite.writer import Writer

__all__ = ["Carried", "Query", "Table", "WriterStore", "execute"]

T = TypeVar("T")
R = TypeVar("R")

#: Runs a read query on the calling thread's reader connection and returns every row.
Query = Callable[[str, tuple[Any, ...]], list[Any]]


class Table(Generic[R]):
    """How records of one dataclass map to the rows of a table (columns named as the fields).

    Args:
        name: The table.
        cls: The record class.
        json_fields: Fields stored as JSON text.
    """

    def __init__(self, name: str, cls: type[R], json_fields: Iterable[str] = ()) -> None:
        self.name = name
        self._cls: Callable[..., R] = cls
        self.fields = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        self.columns = ", ".join(self.fields)
        self.marks = ",".join("?" * len(self.fields))
        self._json = frozenset(json_fields)

    def row(self, record: R) -> tuple[Any, ...]:
        """Return the column values of ``record``, in :attr:`fields` order."""
        values: list[Any] = []
        for name in self.fields:
            value = getattr(record, name)
            if isinstance(value, set | frozenset):
                value = encode_json(sorted(value))
            elif name in self._json:
                value = encode_json(value)
            values.append(value)
        return tuple(values)

    def record(self, row: Sequence[Any]) -> R:
        """Return the record of a row read with :attr:`columns`."""
        values = dict(zip(self.fields, row, strict=True))
        for name in self._json:
            values[name] = decode_json(values[name])
        return self._cls(**values)


class Carried(StoreError):
    """Carries an error that is not a :class:`StoreError` out of the writer (after rollback)."""

    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.original = original


def execute(sql: str, params: Sequence[Any]) -> Callable[[sqlite3.Connection], None]:
    """Return a writer function that runs one statement."""

    def run(conn: sqlite3.Connection) -> None:
        conn.execute(sql, params)

    return run


class WriterStore:
    """Base of the SQLite sub-stores: a writer for writes, a query function for reads.

    Args:
        writer: The store's single writer (every write runs in its group commit).
        query: Runs a read on the calling thread's reader connection (raises
            :class:`StoreError` when the store is closed or the query fails).
    """

    def __init__(self, writer: Writer, query: Query) -> None:
        self._writer = writer
        self._query = query

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in the writer; errors of any kind roll ``fn`` back and reach the caller."""

        def run(conn: sqlite3.Connection) -> T:
            try:
                return fn(conn)
            except (StoreError, sqlite3.Error):
                raise
            except Exception as exc:
                raise Carried(exc) from exc

        try:
            result: T = self._writer.call(run)
        except Carried as carried:
            raise carried.original from None
        return result
