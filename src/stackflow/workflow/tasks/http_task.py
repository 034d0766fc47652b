"""The ``arn:aws:states:::http:invoke`` Task resource: the Step Functions HTTP Task.

Input fields, as in AWS:

* ``ApiEndpoint`` (required): an ``http://`` or ``https://`` URL.
* ``Method`` (required): GET, POST, PUT, DELETE, PATCH, OPTIONS or HEAD.
* ``Headers`` (optional object): request headers; array values are joined with commas.
* ``QueryParameters`` (optional object): added to the URL's query; array values repeat the key.
* ``RequestBody`` (optional): a string is sent as is; any other JSON value is sent as JSON
  (``Content-Type: application/json`` unless set in ``Headers``).
* ``Transform.RequestBodyEncoding``: ``NONE`` (default) or ``URL_ENCODED``, which sends an object
  body as ``application/x-www-form-urlencoded``; arrays follow
  ``Transform.RequestEncodingOptions.ArrayFormat``: ``INDICES`` (default, ``a[0]=x&a[1]=y``),
  ``REPEAT`` (``a=x&a=y``), ``COMMAS`` (``a=x,y``) or ``BRACKETS`` (``a[]=x&a[]=y``); nested
  objects become ``key[sub]=value``.
* ``Authentication.ConnectionArn`` (and ``InvocationConfig``) are accepted and ignored: stackflow
  has no EventBridge connections. Put credentials in ``Headers`` instead (no header is forbidden,
  unlike AWS, which reserves ``Authorization`` for connections).

Result, as in AWS: ``{"StatusCode": int, "StatusText": str, "Headers": {name: [values]},
"ResponseBody": ...}`` with lower-case header names, each mapped to the list of its values; the
body is parsed JSON when the response says it is JSON (``application/json`` or ``+json``) and
parses, otherwise text. Redirects are followed.

Errors:

* ``States.Http.StatusCode.<code>`` for a final status outside 200-299; the cause is the result
  object above as a JSON string.
* ``States.Http.Socket`` when the request could not be completed: connection refused, DNS failure,
  timeout (``TaskRequest.timeout``, else :data:`DEFAULT_TIMEOUT_SECONDS` as in AWS) or a broken
  connection.
* ``States.Runtime`` for bad input (missing ``ApiEndpoint``, unknown ``Method``...), as AWS fails a
  malformed HTTP Task.

A request in flight is bounded by the timeout; ``TaskRequest.cancel`` is checked before sending.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import urlencode

import httpx2

from stackflow.errors import STATES_RUNTIME, WorkflowFailure
from stackflow.types import JSON
from stackflow.workflow.tasks.base import TaskRequest

HTTP_SOCKET_ERROR = "States.Http.Socket"
HTTP_STATUS_ERROR_PREFIX = "States.Http.StatusCode."
#: AWS stops an HTTP Task after 60 seconds.
DEFAULT_TIMEOUT_SECONDS = 60.0
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"})
ARRAY_FORMATS = frozenset({"INDICES", "REPEAT", "COMMAS", "BRACKETS"})

_transport: httpx2.HTTPTransport | None = None
_transport_lock = threading.Lock()


def _shared_transport() -> httpx2.HTTPTransport:
    """One connection pool for every HTTP Task (a fresh client per call keeps cookies apart)."""
    global _transport
    if _transport is None:
        with _transport_lock:
            if _transport is None:
                _transport = httpx2.HTTPTransport()
    return _transport


def _runtime(message: str) -> WorkflowFailure:
    return WorkflowFailure(STATES_RUNTIME, message)


def _scalar_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _runtime(f"HTTP Task Headers must be an object, got {type(value).__name__}")
    headers: dict[str, str] = {}
    for name, item in value.items():
        if isinstance(item, list):
            headers[name] = ",".join(_scalar_text(part) for part in item)
        else:
            headers[name] = _scalar_text(item)
    return headers


def _query(value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise _runtime(f"HTTP Task QueryParameters must be an object, got {type(value).__name__}")
    pairs: list[tuple[str, str]] = []
    for name, item in value.items():
        if isinstance(item, list):
            pairs.extend((name, _scalar_text(part)) for part in item)
        else:
            pairs.append((name, _scalar_text(item)))
    return pairs


def url_encode(body: dict[str, Any], array_format: str = "INDICES") -> str:
    """Encode an object as ``application/x-www-form-urlencoded`` the way the HTTP Task does.

    Args:
        body: The request body object.
        array_format: ``INDICES``, ``REPEAT``, ``COMMAS`` or ``BRACKETS``.

    Returns:
        The encoded body, e.g. ``a%5B0%5D=x&a%5B1%5D=y`` for ``{"a": ["x", "y"]}`` and INDICES.
    """
    pairs: list[tuple[str, str]] = []

    def add(key: str, value: Any) -> None:
        if isinstance(value, dict):
            for sub, item in value.items():
                add(f"{key}[{sub}]", item)
        elif isinstance(value, list):
            if array_format == "COMMAS":
                pairs.append((key, ",".join(_scalar_text(item) for item in value)))
                return
            for index, item in enumerate(value):
                if array_format == "REPEAT":
                    add(key, item)
                elif array_format == "BRACKETS":
                    add(f"{key}[]", item)
                else:
                    add(f"{key}[{index}]", item)
        else:
            pairs.append((key, _scalar_text(value)))

    for name, item in body.items():
        add(name, item)
    return urlencode(pairs)


def _has_header(headers: dict[str, str], name: str) -> bool:
    lowered = name.lower()
    return any(key.lower() == lowered for key in headers)


def _body(params: dict[str, Any], headers: dict[str, str]) -> bytes | None:
    """Serialize RequestBody as the Transform asks; sets a default Content-Type in headers."""
    if "RequestBody" not in params:
        return None
    body = params["RequestBody"]
    transform = params.get("Transform") or {}
    if not isinstance(transform, dict):
        raise _runtime("HTTP Task Transform must be an object")
    encoding = transform.get("RequestBodyEncoding", "NONE")
    if encoding not in ("NONE", "URL_ENCODED"):
        raise _runtime(
            f"HTTP Task Transform.RequestBodyEncoding must be NONE or URL_ENCODED, got {encoding!r}"
        )
    if isinstance(body, str):
        return body.encode("utf-8")
    if encoding == "URL_ENCODED":
        if not isinstance(body, dict):
            raise _runtime("HTTP Task URL_ENCODED RequestBody must be an object or a string")
        options = transform.get("RequestEncodingOptions") or {}
        array_format = options.get("ArrayFormat", "INDICES") if isinstance(options, dict) else None
        if array_format not in ARRAY_FORMATS:
            raise _runtime(
                "HTTP Task Transform.RequestEncodingOptions.ArrayFormat must be one of "
                f"{', '.join(sorted(ARRAY_FORMATS))}, got {array_format!r}"
            )
        if not _has_header(headers, "Content-Type"):
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return url_encode(body, array_format).encode("ascii")
    if not _has_header(headers, "Content-Type"):
        headers["Content-Type"] = "application/json; charset=UTF-8"
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def _response_body(response: httpx2.Response) -> JSON:
    content_type = response.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    text = response.text
    if text and (media == "application/json" or media.endswith("+json")):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _result(response: httpx2.Response) -> dict[str, JSON]:
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.multi_items():
        headers.setdefault(name.lower(), []).append(value)
    return {
        "StatusCode": response.status_code,
        "StatusText": response.reason_phrase,
        "Headers": headers,
        "ResponseBody": _response_body(response),
    }


def http_invoke(request: TaskRequest) -> JSON:
    """Send the HTTP request described by the input (the ``http:invoke`` handler).

    Args:
        request: The task request; ``request.input`` holds the HTTP Task fields.

    Returns:
        ``{"StatusCode", "StatusText", "Headers", "ResponseBody"}`` for a 2xx response.

    Raises:
        WorkflowFailure: ``States.Http.StatusCode.<code>``, ``States.Http.Socket`` or
            ``States.Runtime`` (see the module docstring).
    """
    params = request.input
    if not isinstance(params, dict):
        raise _runtime(f"HTTP Task input must be an object, got {type(params).__name__}")
    endpoint = params.get("ApiEndpoint")
    if not isinstance(endpoint, str) or not endpoint.lower().startswith(("http://", "https://")):
        raise _runtime(f"HTTP Task ApiEndpoint must be an http(s) URL, got {endpoint!r}")
    method = params.get("Method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise _runtime(
            f"HTTP Task Method must be one of {', '.join(sorted(METHODS))}, got {method!r}"
        )
    headers = _headers(params.get("Headers"))
    query = _query(params.get("QueryParameters"))
    content = _body(params, headers)
    timeout = request.timeout if request.timeout is not None else DEFAULT_TIMEOUT_SECONDS
    if request.cancel.is_set():
        raise WorkflowFailure(HTTP_SOCKET_ERROR, "The task was cancelled before the request")

    client = httpx2.Client(transport=_shared_transport(), follow_redirects=True)
    try:
        url = httpx2.URL(endpoint)
        if query:
            url = url.copy_merge_params(tuple(query))
        response = client.request(
            method.upper(), url, headers=headers, content=content, timeout=timeout
        )
    except httpx2.TimeoutException as exc:
        raise WorkflowFailure(
            HTTP_SOCKET_ERROR, f"{method.upper()} {endpoint} timed out after {timeout} seconds"
        ) from exc
    except httpx2.HTTPError as exc:
        raise WorkflowFailure(
            HTTP_SOCKET_ERROR, f"{method.upper()} {endpoint} failed: {type(exc).__name__}: {exc}"
        ) from exc
    except (httpx2.InvalidURL, ValueError) as exc:
        raise _runtime(f"HTTP Task ApiEndpoint {endpoint!r} is not a valid URL: {exc}") from exc

    result = _result(response)
    if not 200 <= response.status_code < 300:
        raise WorkflowFailure(
            f"{HTTP_STATUS_ERROR_PREFIX}{response.status_code}", json.dumps(result)
        )
    return result
