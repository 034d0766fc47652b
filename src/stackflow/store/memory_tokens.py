"""In-memory token store: a dictionary behind a lock (the reference for the SQLite one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from stackflow.errors import ConflictError, NotFoundError
from stackflow.store.memory_tables import LockedStore
from stackflow.store.tokens import TokenRecord, TokenStore, check_token_record

__all__ = ["MemoryTokenStore"]


class MemoryTokenStore(LockedStore, TokenStore):
    """A thread-safe :class:`TokenStore` kept in memory (lost when the process ends).

    Args:
        check_open: Called (under the lock) before every operation; raises
            :class:`~stackflow.errors.StoreError` once the owning store is closed.
    """

    def __init__(self, check_open: Callable[[], None] | None = None) -> None:
        super().__init__(check_open)
        self._tokens: dict[str, TokenRecord] = {}

    def add_token(self, record: TokenRecord) -> TokenRecord:
        """Store a new token (see :meth:`TokenStore.add_token`)."""
        check_token_record(record)
        with self._locked():
            for other in self._tokens.values():
                if other.token_id == record.token_id or other.token_hash == record.token_hash:
                    raise ConflictError(f"token {record.token_id} exists")
                if record.name and other.name == record.name and other.revoked_at is None:
                    raise ConflictError(f"a token named {record.name!r} exists")
            self._tokens[record.token_id] = record
            return record

    def find_token(self, token_hash: str) -> TokenRecord | None:
        """Return the token with this hash, or None."""
        with self._locked():
            for record in self._tokens.values():
                if record.token_hash == token_hash:
                    return record
        return None

    def list_tokens(self, *, include_revoked: bool = False) -> list[TokenRecord]:
        """Return tokens by creation time, then id."""
        with self._locked():
            found = [t for t in self._tokens.values() if include_revoked or t.revoked_at is None]
        return sorted(found, key=lambda t: (t.created_at, t.token_id))

    def revoke_token(self, id_or_name: str, now: float) -> TokenRecord:
        """Revoke the valid token with this id or name (see :meth:`TokenStore.revoke_token`)."""
        with self._locked():
            for record in self._tokens.values():
                names = (record.token_id, record.name or None)
                if record.revoked_at is None and id_or_name in names:
                    revoked = replace(record, revoked_at=now)
                    self._tokens[record.token_id] = revoked
                    return revoked
        raise NotFoundError(f"no valid token has the id or name {id_or_name!r}")
