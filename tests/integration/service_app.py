"""A small HTTP server run as a ``Local::Service`` replica by the service tests and benchmark.

Serves ``GET /`` with ``version=<V> port=<PORT> pid=<pid>`` and ``GET /health`` (200 when ready,
503 with ``--never-ready``). Listens on 127.0.0.1:$PORT. Flags:

* ``--version V``: the version it reports.
* ``--never-ready``: ``/health`` always answers 503 ("not ready: warming up forever").
* ``--crash``: print a message and exit with status 3 at once.
* ``--marker TOKEN``: ignored; lets tests find every process they started.

On SIGTERM it stops accepting connections, finishes the requests in flight and exits 0.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--version", default="1")
    parser.add_argument("--never-ready", action="store_true")
    parser.add_argument("--crash", action="store_true")
    parser.add_argument("--marker", default="")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGTERM/SIGINT."""
    args = _arguments(sys.argv[1:] if argv is None else argv)
    if args.crash:
        print(f"version {args.version}: crashing at start", flush=True)
        return 3
    port = int(os.environ["PORT"])
    version = args.version
    ready = not args.never_ready

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            if self.path == "/health":
                status = 200 if ready else 503
                body = b"ok\n" if ready else b"not ready: warming up forever\n"
            elif self.path == "/":
                status = 200
                body = f"version={version} port={port} pid={os.getpid()}\n".encode()
            else:
                status, body = 404, b"not found\n"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = False
    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"version {version} listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever(poll_interval=0.05)
    server.server_close()
    print(f"version {version} stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
