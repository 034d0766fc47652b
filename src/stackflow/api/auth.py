"""Who may call the API: bearer tokens with a role, and the loopback exception.

A server bound to a loopback address (127.0.0.1, ::1, localhost) serves anyone who can reach
it (only local users can) with the ``admin`` role. Any other bind requires a valid token on every
request: without one (or with an unknown or revoked one) the answer is 401, with a role too low
for the route it is 403. Roles: ``read`` < ``operate`` < ``admin``. A token given on a loopback
server is checked all the same, and its role applies.

Tokens travel in ``Authorization: Bearer TOKEN``, or (for browsers' EventSource, which cannot
set headers) in the ``access_token`` query parameter.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from stackflow.store.tokens import ROLES, TokenStore, hash_token, role_allows

__all__ = ["AuthConfig", "Principal", "authenticate", "is_loopback", "require"]


def is_loopback(host: str) -> bool:
    """Return True when ``host`` is a loopback address or ``localhost``.

    Args:
        host: The bind address (an IP address or a host name).
    """
    if host.strip().lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class AuthConfig:
    """How the API authenticates requests.

    Attributes:
        require_token: Every request needs a valid token (binds other than loopback).
        tokens: Where tokens are looked up (``store.tokens``); None accepts no token at all.
    """

    require_token: bool
    tokens: TokenStore | None = None

    @classmethod
    def for_bind(cls, host: str, tokens: TokenStore | None) -> AuthConfig:
        """Return the configuration a server bound to ``host`` must use.

        Args:
            host: The bind address.
            tokens: The token store.
        """
        return cls(require_token=not is_loopback(host), tokens=tokens)


@dataclass(frozen=True)
class Principal:
    """Who is calling.

    Attributes:
        role: The caller's role (``admin`` for unauthenticated loopback callers).
        token_id: The token's id, or None without a token.
    """

    role: str
    token_id: str | None = None


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, detail=message, headers={"WWW-Authenticate": "Bearer"})


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized("the Authorization header must be 'Bearer TOKEN'")
        return value.strip()
    return request.query_params.get("access_token") or None


def authenticate(request: Request) -> Principal:
    """Return the caller of a request (see the module documentation).

    Args:
        request: The request (its app's ``state.auth`` is the :class:`AuthConfig`).

    Raises:
        HTTPException: 401 when a token is needed and missing, or is unknown or revoked.
    """
    config: AuthConfig = request.app.state.auth
    token = _bearer(request)
    if token is None:
        if config.require_token:
            raise _unauthorized("this server requires a token (Authorization: Bearer TOKEN)")
        return Principal("admin")
    record = config.tokens.find_token(hash_token(token)) if config.tokens is not None else None
    if record is None or record.revoked_at is not None or record.role not in ROLES:
        raise _unauthorized("the token is not valid (unknown or revoked)")
    return Principal(record.role, record.token_id)


def require(role: str) -> Callable[[Request], Principal]:
    """Return a FastAPI dependency that admits callers with at least ``role``.

    Args:
        role: ``read``, ``operate`` or ``admin``.

    Raises:
        ValueError: ``role`` is not a role.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def dependency(request: Request) -> Principal:
        principal = authenticate(request)
        if not role_allows(principal.role, role):
            raise HTTPException(
                403, detail=f"this needs the {role} role; the token has {principal.role}"
            )
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency
