"""Persistence of API tokens: only a SHA-256 hash of each token is stored, never the token.

``stackflow token create`` makes a token, prints it once and stores a :class:`TokenRecord` with
its hash; the HTTP API hashes the bearer token of a request and looks the hash up. Each
:class:`~stackflow.store.base.Store` gives one :class:`TokenStore` through ``store.tokens``; the
memory and SQLite backends implement it. Times are passed in by the caller (the store reads no
clock).
"""

from __future__ import annotations

import hashlib
import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass

__all__ = [
    "ROLES",
    "TOKEN_PREFIX",
    "TokenRecord",
    "TokenStore",
    "hash_token",
    "new_token",
    "role_allows",
]

#: Roles from least to most powerful: each one can do what the ones before it can.
ROLES = ("read", "operate", "admin")

#: What every token starts with (so it can be recognized in a config file or a leak scan).
TOKEN_PREFIX = "sft_"


def hash_token(token: str) -> str:
    """Return the hex SHA-256 of a token (what the store keeps).

    Args:
        token: The token as given to the user.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """Return a fresh random token and its id.

    Returns:
        ``(token, token_id)``: the token (``sft_`` plus 43 URL-safe characters, 256 bits) and a
        short random id to name it in ``token list`` and ``token revoke`` (not secret).
    """
    return TOKEN_PREFIX + secrets.token_urlsafe(32), "tok-" + secrets.token_hex(6)


def role_allows(role: str, needed: str) -> bool:
    """Return True when ``role`` is at least ``needed`` (read < operate < admin).

    Args:
        role: The role a token has.
        needed: The least role an action requires.

    Raises:
        ValueError: Either is not one of :data:`ROLES`.
    """
    return ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True)
class TokenRecord:
    """One API token, as stored.

    Attributes:
        token_id: Unique, non-secret id (``tok-...``).
        name: A name given by its creator (unique among tokens that are not revoked), or "".
        role: One of :data:`ROLES`.
        token_hash: Hex SHA-256 of the token (:func:`hash_token`).
        created_at: Creation time (epoch seconds).
        revoked_at: When it was revoked, or None while it is valid.
    """

    token_id: str
    name: str
    role: str
    token_hash: str
    created_at: float
    revoked_at: float | None = None


class TokenStore(ABC):
    """Where API tokens are kept (``store.tokens``)."""

    @abstractmethod
    def add_token(self, record: TokenRecord) -> TokenRecord:
        """Store a new token.

        Raises:
            ConflictError: The id or hash exists, or a valid token has the same non-empty name.
        """

    @abstractmethod
    def find_token(self, token_hash: str) -> TokenRecord | None:
        """Return the token with this hash (revoked or not), or None."""

    @abstractmethod
    def list_tokens(self, *, include_revoked: bool = False) -> list[TokenRecord]:
        """Return tokens by creation time (then id), without the revoked ones unless asked."""

    @abstractmethod
    def revoke_token(self, id_or_name: str, now: float) -> TokenRecord:
        """Revoke the valid token with this id or name and return it as stored.

        Raises:
            NotFoundError: No valid token has this id or name.
        """


def check_token_record(record: TokenRecord) -> None:
    """Raise ValueError when a record's role is unknown (before it is stored).

    Args:
        record: The record to check.
    """
    if record.role not in ROLES:
        raise ValueError(f"unknown role {record.role!r}: expected one of {', '.join(ROLES)}")
