"""The token stores (memory and SQLite): add, find by hash, list, revoke."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stackflow.errors import ConflictError, NotFoundError, StoreError
from stackflow.store import MemoryStore, SQLiteStore, Store
from stackflow.store.tokens import (
    TOKEN_PREFIX,
    TokenRecord,
    hash_token,
    new_token,
    role_allows,
)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "t.db")
    try:
        yield opened
    finally:
        opened.close()


def record(token_id: str, name: str = "", role: str = "read", at: float = 1.0) -> TokenRecord:
    return TokenRecord(token_id, name, role, hash_token(f"secret-{token_id}"), at)


def test_new_tokens_are_random_and_hashed() -> None:
    first, first_id = new_token()
    second, second_id = new_token()
    assert first.startswith(TOKEN_PREFIX) and len(first) > 40
    assert first != second and first_id != second_id
    assert hash_token(first) == hash_token(first)
    assert len(hash_token(first)) == 64
    assert first not in hash_token(first)


def test_roles_are_ordered() -> None:
    assert role_allows("admin", "operate") and role_allows("operate", "read")
    assert role_allows("read", "read")
    assert not role_allows("read", "operate") and not role_allows("operate", "admin")
    with pytest.raises(ValueError):
        role_allows("root", "read")


def test_add_find_list_revoke(store: Store) -> None:
    tokens = store.tokens
    assert tokens is store.tokens
    tokens.add_token(record("tok-1", "ci", "operate", 1.0))
    tokens.add_token(record("tok-2", "", "admin", 2.0))
    found = tokens.find_token(hash_token("secret-tok-1"))
    assert found is not None and (found.token_id, found.role, found.name) == (
        "tok-1",
        "operate",
        "ci",
    )
    assert tokens.find_token(hash_token("nope")) is None
    assert [t.token_id for t in tokens.list_tokens()] == ["tok-1", "tok-2"]

    revoked = tokens.revoke_token("ci", 5.0)
    assert (revoked.token_id, revoked.revoked_at) == ("tok-1", 5.0)
    again = tokens.find_token(hash_token("secret-tok-1"))
    assert again is not None and again.revoked_at == 5.0
    assert [t.token_id for t in tokens.list_tokens()] == ["tok-2"]
    assert [t.token_id for t in tokens.list_tokens(include_revoked=True)] == ["tok-1", "tok-2"]
    with pytest.raises(NotFoundError):
        tokens.revoke_token("ci", 6.0)  # already revoked
    with pytest.raises(NotFoundError):
        tokens.revoke_token("", 6.0)  # the unnamed token is not matched by ""
    assert tokens.revoke_token("tok-2", 7.0).revoked_at == 7.0


def test_conflicts_and_bad_roles(store: Store) -> None:
    tokens = store.tokens
    tokens.add_token(record("tok-1", "ci"))
    with pytest.raises(ConflictError):
        tokens.add_token(record("tok-2", "ci"))  # a valid token has that name
    with pytest.raises(ConflictError):
        tokens.add_token(record("tok-1", "other"))  # same id (and hash)
    tokens.add_token(record("tok-3", ""))
    tokens.add_token(record("tok-4", ""))  # unnamed tokens never clash
    tokens.revoke_token("ci", 2.0)
    tokens.add_token(record("tok-5", "ci"))  # the name is free again
    with pytest.raises(ValueError):
        tokens.add_token(record("tok-6", "", "root"))
    assert {t.token_id for t in tokens.list_tokens()} == {"tok-3", "tok-4", "tok-5"}


def test_sqlite_tokens_survive_a_reopen(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "t.db") as store:
        store.tokens.add_token(record("tok-1", "ci", "admin"))
    with SQLiteStore(tmp_path / "t.db") as store:
        found = store.tokens.find_token(hash_token("secret-tok-1"))
        assert found is not None and found.role == "admin"


def test_closed_memory_store_refuses(store: Store) -> None:
    tokens = store.tokens
    store.close()
    with pytest.raises(StoreError):
        tokens.list_tokens()
