"""The SQLite token store: writes go through the store's single writer, reads use its readers."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from stackflow.errors import ConflictError, NotFoundError
from stackflow.store.sqlite.tables import WriterStore
from stackflow.store.tokens import TokenRecord, TokenStore, check_token_record

__all__ = ["SQLiteTokenStore"]

_COLUMNS = "token_id, name, role, token_hash, created_at, revoked_at"


def _record(row: Sequence[Any]) -> TokenRecord:
    return TokenRecord(*row)


class SQLiteTokenStore(WriterStore, TokenStore):
    """A :class:`TokenStore` in the SQLite store's file (table ``api_tokens``).

    Args:
        writer: The store's single writer (every write runs in its group commit).
        query: Runs a read on the calling thread's reader connection.
    """

    def add_token(self, record: TokenRecord) -> TokenRecord:
        """Store a new token (see :meth:`TokenStore.add_token`)."""
        check_token_record(record)

        def insert(conn: sqlite3.Connection) -> bool:
            try:
                conn.execute(
                    f"INSERT INTO api_tokens ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        record.token_id,
                        record.name,
                        record.role,
                        record.token_hash,
                        record.created_at,
                        record.revoked_at,
                    ),
                )
            except sqlite3.IntegrityError:
                return False
            return True

        if not self._writer.call(insert):
            what = f"a token named {record.name!r}" if record.name else f"token {record.token_id}"
            raise ConflictError(f"{what} exists")
        return record

    def find_token(self, token_hash: str) -> TokenRecord | None:
        """Return the token with this hash, or None."""
        rows = self._query(f"SELECT {_COLUMNS} FROM api_tokens WHERE token_hash = ?", (token_hash,))
        return _record(rows[0]) if rows else None

    def list_tokens(self, *, include_revoked: bool = False) -> list[TokenRecord]:
        """Return tokens by creation time, then id."""
        where = "" if include_revoked else " WHERE revoked_at IS NULL"
        rows = self._query(
            f"SELECT {_COLUMNS} FROM api_tokens{where} ORDER BY created_at, token_id", ()
        )
        return [_record(row) for row in rows]

    def revoke_token(self, id_or_name: str, now: float) -> TokenRecord:
        """Revoke the valid token with this id or name (see :meth:`TokenStore.revoke_token`)."""

        def revoke(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT token_id FROM api_tokens WHERE revoked_at IS NULL"
                " AND (token_id = ? OR (name = ? AND name <> '')) ORDER BY created_at LIMIT 1",
                (id_or_name, id_or_name),
            ).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE token_id = ?", (now, row[0]))
            return str(row[0])

        token_id = self._writer.call(revoke)
        if token_id is None:
            raise NotFoundError(f"no valid token has the id or name {id_or_name!r}")
        rows = self._query(f"SELECT {_COLUMNS} FROM api_tokens WHERE token_id = ?", (token_id,))
        return _record(rows[0])
