"""The HTTP side of the client: requests to ``/api/v1`` and errors mapped back to stackflow's.

The API answers errors as ``{"error": NAME, "message": TEXT, "problems": [...]}`` (see
``docs/api.md``). :class:`ApiClient` turns them back into the :class:`StackflowError` subclass
the server raised (``NotFoundError``, ``ConflictError``, ``TemplateError`` with every problem and
its location...), so code written against :class:`~stackflow.engine.Engine` handles a remote
failure exactly like a local one. 401 and 403 become :class:`ServerAuthError`, which names the
token.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import httpx2

from stackflow import errors
from stackflow.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    Problem,
    SourceLocation,
    StackflowError,
    StackNotFoundError,
)

__all__ = [
    "API_PREFIX",
    "ApiClient",
    "NotAvailableRemotely",
    "ServerAuthError",
    "ServerError",
    "error_from_body",
    "is_loopback_url",
    "problem_from_json",
]

#: Where the API's routes live on a server.
API_PREFIX = "/api/v1"

#: Read timeout (seconds) of ordinary requests; applies, deletes, plans and drift wait longer.
DEFAULT_TIMEOUT = 30.0


class ServerError(StackflowError):
    """The server could not be reached, or answered something that is not the stackflow API."""


class ServerAuthError(StackflowError):
    """The server refused the request: no token, an invalid token, or a role too low.

    Attributes:
        status: 401 (no valid token) or 403 (the token's role is too low).
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class NotAvailableRemotely(StackflowError, AttributeError):
    """What was asked for needs the store itself and cannot be done through a server.

    It is also an :class:`AttributeError`, so ``hasattr(remote_engine, "store")`` is False.
    """


def is_loopback_url(url: str) -> bool:
    """Return True when ``url`` names this machine (``localhost``, 127.0.0.0/8, ``::1``).

    Args:
        url: A server URL.
    """
    host = (urlsplit(url).hostname or "").lower()
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def problem_from_json(data: Any, file: str | None = None) -> Problem:
    """Return a problem sent by the API (``{"file", "line", "column", "pointer", "message",
    "code"}``).

    Args:
        data: The problem's JSON.
        file: The local file the input came from: replaces a missing ``file`` (the server
            names none for input it got as text).
    """
    item: dict[str, Any] = data if isinstance(data, dict) else {"message": str(data)}
    line, column = item.get("line"), item.get("column")
    location = SourceLocation(
        item.get("file") or file,
        line if isinstance(line, int) else None,
        column if isinstance(column, int) else None,
        str(item.get("pointer") or ""),
    )
    return Problem(location, str(item.get("message", "")), str(item.get("code") or "INVALID"))


def _error_class(name: str) -> type[StackflowError] | None:
    found = getattr(errors, name, None)
    if isinstance(found, type) and issubclass(found, StackflowError):
        return found
    return None


def error_from_body(
    status: int, body: Any, *, url: str = "", file: str | None = None, stack: bool = False
) -> StackflowError:
    """Return the stackflow error an API error answer stands for.

    Args:
        status: The HTTP status.
        body: The decoded JSON body (or the text when it is not JSON).
        url: The server URL, for messages.
        file: The local file the request's definition or template came from (see
            :func:`problem_from_json`).
        stack: The request was about a stack (a bare 404 is then a StackNotFoundError).
    """
    data = body if isinstance(body, dict) else {}
    message = data.get("message")
    if message is None:
        message = _detail_text(data.get("detail", body))
    if status in (401, 403):
        return _auth_error(status, str(message), url)
    cls = _error_class(str(data.get("error", "")))
    if cls is not None and issubclass(cls, InputError):
        problems = [problem_from_json(p, file) for p in data.get("problems") or []]
        return cls(problems, str(message).split("\n", 1)[0])
    if cls is not None:
        try:
            return cls(str(message))
        except TypeError:  # an error class with another constructor
            pass
    if status == 404:
        return (StackNotFoundError if stack else NotFoundError)(str(message))
    if status == 409:
        return ConflictError(str(message))
    if status == 422:
        return StackflowError(f"the server refused the request: {message}")
    if status >= 500:
        return ServerError(f"the server failed ({status}): {message}")
    return StackflowError(str(message))


def _detail_text(detail: Any) -> str:
    """Return FastAPI's ``detail`` (a text, or a list of validation errors) as one line."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
                parts.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def _auth_error(status: int, detail: str, url: str) -> ServerAuthError:
    if status == 401:
        text = (
            f"the server {url} refused the request (401): {detail}. Give a valid token "
            "(--token or STACKFLOW_TOKEN; make one with `stackflow token create` on the "
            "server's machine)"
        )
    else:
        text = (
            f"the server {url} refused the request (403): {detail}. Use a token with a higher "
            "role (--token or STACKFLOW_TOKEN)"
        )
    return ServerAuthError(text, status)


class ApiClient:
    """A thin JSON client of one stackflow server.

    Args:
        url: The server's base URL (``http://HOST:PORT``; a trailing ``/api/v1`` is accepted).
        token: A bearer token (``stackflow token create``), or None.
        timeout: Read timeout of ordinary requests, in seconds.
        transport: An httpx2 transport (tests).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        base = url.strip().rstrip("/")
        if base.endswith(API_PREFIX):
            base = base[: -len(API_PREFIX)]
        if not urlsplit(base).scheme:
            base = "http://" + base
        if urlsplit(base).scheme not in ("http", "https"):
            raise ServerError(f"the server URL must start with http:// or https://, not {url!r}")
        self.url = base
        self.token = token or None
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self._http = httpx2.Client(
            base_url=base + API_PREFIX,
            headers=headers,
            timeout=httpx2.Timeout(timeout, connect=10.0),
            transport=transport,
        )

    @property
    def loopback(self) -> bool:
        """True when the server runs on this machine (its files are this machine's files)."""
        return is_loopback_url(self.url)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        long: bool = False,
        file: str | None = None,
        stack: bool = False,
    ) -> Any:
        """Send a request and return the decoded JSON answer.

        Args:
            method: HTTP method.
            path: Path under ``/api/v1`` (starting with ``/``).
            json: The JSON body, if any.
            params: Query parameters (None values are left out).
            long: The request may take long (an apply): no read timeout.
            file: The local file behind the request's input (see :func:`error_from_body`).
            stack: The path names a stack (a bare 404 is a StackNotFoundError).

        Raises:
            StackflowError: The error the server answered (see :func:`error_from_body`), or
                :class:`ServerError` when it cannot be reached.
        """
        query = {k: v for k, v in (params or {}).items() if v is not None}
        timeout = httpx2.Timeout(None, connect=10.0) if long else httpx2.USE_CLIENT_DEFAULT
        try:
            response = self._http.request(
                method, path, json=json, params=query or None, timeout=timeout
            )
        except httpx2.TimeoutException as exc:
            raise ServerError(f"the server {self.url} did not answer in time ({exc})") from None
        except httpx2.TransportError as exc:
            raise ServerError(f"cannot reach the server at {self.url}: {exc}") from None
        try:
            body: Any = response.json() if response.content else None
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise error_from_body(response.status_code, body, url=self.url, file=file, stack=stack)
        return body

    def close(self) -> None:
        """Close the connections."""
        self._http.close()
