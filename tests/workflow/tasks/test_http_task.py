"""Tests of the arn:aws:states:::http:invoke Task resource against a local http.server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from stackflow.errors import WorkflowFailure
from stackflow.workflow.tasks import HTTP_INVOKE_RESOURCE, TaskRequest, resolve_task
from stackflow.workflow.tasks.http_task import url_encode


class Recorder(BaseHTTPRequestHandler):
    """Answers by path and records what it received."""

    received: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        parts = urlsplit(self.path)
        self.received.append(
            {
                "method": self.command,
                "path": parts.path,
                "query": parse_qs(parts.query),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
        )
        if parts.path == "/missing":
            self._send(404, "text/plain", b"no such thing")
        elif parts.path == "/text":
            self._send(200, "text/plain; charset=utf-8", b"plain words")
        elif parts.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/json")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            payload = {"method": self.command, "query": parse_qs(parts.query), "body": body}
            self._send(200, "application/json", json.dumps(payload).encode())

    def _send(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Multi", "one")
        self.send_header("X-Multi", "two")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


@pytest.fixture()
def server() -> Iterator[str]:
    """Serve Recorder on 127.0.0.1 on a free port; yield the base URL."""
    Recorder.received = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def invoke(payload: object, timeout: float | None = 10.0) -> dict[str, object]:
    handler = resolve_task(HTTP_INVOKE_RESOURCE)
    return handler(TaskRequest(HTTP_INVOKE_RESOURCE, payload, {}, timeout))  # type: ignore[no-any-return]


def test_get_with_query_parameters(server: str) -> None:
    result = invoke(
        {
            "ApiEndpoint": f"{server}/items?fixed=1",
            "Method": "GET",
            "QueryParameters": {"q": "a b", "tag": ["x", "y"], "n": 3},
            "Headers": {"X-Token": "secret"},
            "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:1:connection/c/x"},
        }
    )
    assert result["StatusCode"] == 200
    assert result["StatusText"] == "OK"
    body = result["ResponseBody"]
    assert body == {
        "method": "GET",
        "query": {"fixed": ["1"], "q": ["a b"], "tag": ["x", "y"], "n": ["3"]},
        "body": "",
    }
    headers = result["Headers"]
    assert isinstance(headers, dict)
    assert headers["content-type"] == ["application/json"]
    assert headers["x-multi"] == ["one", "two"]
    assert Recorder.received[0]["headers"]["x-token"] == "secret"  # type: ignore[index]


def test_post_json_body(server: str) -> None:
    result = invoke(
        {"ApiEndpoint": f"{server}/create", "Method": "POST", "RequestBody": {"a": [1, 2]}}
    )
    assert result["StatusCode"] == 200
    seen = Recorder.received[0]
    assert json.loads(seen["body"]) == {"a": [1, 2]}  # type: ignore[arg-type]
    assert seen["headers"]["content-type"].startswith("application/json")  # type: ignore[index]


def test_string_body_is_sent_as_is(server: str) -> None:
    invoke(
        {
            "ApiEndpoint": f"{server}/raw",
            "Method": "PUT",
            "RequestBody": "<xml/>",
            "Headers": {"Content-Type": "application/xml"},
        }
    )
    seen = Recorder.received[0]
    assert seen["body"] == "<xml/>"
    assert seen["headers"]["content-type"] == "application/xml"  # type: ignore[index]


def test_url_encoded_body(server: str) -> None:
    invoke(
        {
            "ApiEndpoint": f"{server}/form",
            "Method": "POST",
            "RequestBody": {"name": "a&b", "ids": [1, 2]},
            "Transform": {
                "RequestBodyEncoding": "URL_ENCODED",
                "RequestEncodingOptions": {"ArrayFormat": "BRACKETS"},
            },
        }
    )
    seen = Recorder.received[0]
    assert seen["headers"]["content-type"] == "application/x-www-form-urlencoded"  # type: ignore[index]
    assert parse_qs(seen["body"]) == {"name": ["a&b"], "ids[]": ["1", "2"]}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("array_format", "expected"),
    [
        ("INDICES", "a%5B0%5D=x&a%5B1%5D=y"),
        ("REPEAT", "a=x&a=y"),
        ("COMMAS", "a=x%2Cy"),
        ("BRACKETS", "a%5B%5D=x&a%5B%5D=y"),
    ],
)
def test_url_encode_array_formats(array_format: str, expected: str) -> None:
    assert url_encode({"a": ["x", "y"]}, array_format) == expected


def test_url_encode_nested_object() -> None:
    assert url_encode({"o": {"k": True}}) == "o%5Bk%5D=true"


def test_text_response_body(server: str) -> None:
    result = invoke({"ApiEndpoint": f"{server}/text", "Method": "GET"})
    assert result["ResponseBody"] == "plain words"


def test_redirect_is_followed(server: str) -> None:
    result = invoke({"ApiEndpoint": f"{server}/redirect", "Method": "GET"})
    assert result["StatusCode"] == 200
    assert [r["path"] for r in Recorder.received] == ["/redirect", "/json"]


def test_404_fails_with_status_error(server: str) -> None:
    with pytest.raises(WorkflowFailure) as info:
        invoke({"ApiEndpoint": f"{server}/missing", "Method": "GET"})
    assert info.value.error == "States.Http.StatusCode.404"
    cause = json.loads(info.value.cause or "")
    assert cause["StatusCode"] == 404
    assert cause["ResponseBody"] == "no such thing"


def test_connection_refused_is_a_socket_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port any more.
    with pytest.raises(WorkflowFailure) as info:
        invoke({"ApiEndpoint": f"http://127.0.0.1:{port}/", "Method": "GET"}, timeout=5)
    assert info.value.error == "States.Http.Socket"


def test_read_timeout_is_a_socket_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)  # accepts the connection but never answers
        port = sock.getsockname()[1]
        with pytest.raises(WorkflowFailure) as info:
            invoke({"ApiEndpoint": f"http://127.0.0.1:{port}/", "Method": "GET"}, timeout=0.3)
    assert info.value.error == "States.Http.Socket"
    assert "timed out" in (info.value.cause or "")


@pytest.mark.parametrize(
    "payload",
    [
        {"Method": "GET"},
        {"ApiEndpoint": "ftp://example.invalid/", "Method": "GET"},
        {"ApiEndpoint": "http://127.0.0.1:9/", "Method": "FETCH"},
        {"ApiEndpoint": "http://127.0.0.1:9/", "Method": "GET", "Headers": []},
        {
            "ApiEndpoint": "http://127.0.0.1:9/",
            "Method": "POST",
            "RequestBody": {},
            "Transform": {"RequestBodyEncoding": "BASE64"},
        },
        "not an object",
    ],
)
def test_bad_input_is_a_runtime_error(payload: object) -> None:
    with pytest.raises(WorkflowFailure) as info:
        invoke(payload)
    assert info.value.error == "States.Runtime"
