"""A local HTTP server with Range requests, for the remote-reading tests (127.0.0.1 only, started by the test).

:class:`RangeServer` serves one folder like a static file host (S3, DANDI's asset store): ``HEAD`` and ``GET``
with ``Content-Length``, a single ``Range: bytes=a-b`` (``a-``, ``-n``) answered ``206`` with ``Content-Range``,
``404`` for a missing file. It counts the body bytes it sends (``bytes_served``, also per file) so a test can show
that a reader fetched only part of a file. Two fault modes: ``drop_after`` closes the connection of any GET once
that many body bytes have been served in all (a server that drops the connection half-way through a read), and
``ranges=False`` ignores ``Range`` and sends the whole file with ``200`` (a server without random access).

    with RangeServer(folder) as server:
        url = server.url("session.nwb")
        ...
        server.bytes_served
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["RangeServer"]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class _Handler(BaseHTTPRequestHandler):
    server: RangeServer
    protocol_version = "HTTP/1.1"  # keep-alive, as real file hosts

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # quiet

    def _file(self) -> Path | None:
        name = self.path.split("?", 1)[0].lstrip("/")
        path = (self.server.root / name).resolve()
        if self.server.root not in path.parents or not path.is_file():
            return None
        return path

    def _not_found(self) -> None:
        body = b"not found"
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        path = self._file()
        if path is None:
            self._not_found()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(path.stat().st_size))
        if self.server.ranges:
            self.send_header("Accept-Ranges", "bytes")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self._file()
        if path is None:
            self._not_found()
            return
        self.server.begin(self, path)
        size = path.stat().st_size
        start, stop = 0, size  # [start, stop)
        header = self.headers.get("Range")
        partial = False
        if header and self.server.ranges:
            match = _RANGE.match(header.strip())
            if match is None:
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            a, b = match.groups()
            if a == "":
                start, stop = max(size - int(b), 0), size
            else:
                start, stop = int(a), size if b == "" else min(int(b) + 1, size)
            partial = True
        self.send_response(206 if partial else 200)
        self.send_header("Content-Length", str(stop - start))
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
        if self.server.ranges:
            self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        with open(path, "rb") as fh:
            fh.seek(start)
            remaining = stop - start
            while remaining > 0:
                block = fh.read(min(remaining, 2**16))
                if self.server.drop_after is not None:
                    allowed = self.server.drop_after - self.server.bytes_served
                    if allowed < len(block):
                        self._send(path, block[: max(allowed, 0)])
                        self.close_connection = True
                        self.connection.shutdown(2)  # drop the connection mid-body
                        return
                self._send(path, block)
                remaining -= len(block)

    def _send(self, path: Path, block: bytes) -> None:
        try:
            self.wfile.write(block)
        except (BrokenPipeError, ConnectionResetError):  # the client went away (e.g. after an error)
            self.close_connection = True
            return
        self.server.count(self, path, len(block))


class RangeServer(ThreadingHTTPServer):
    """Serve ``root`` on ``127.0.0.1`` (a free port) in a background thread; a context manager."""

    daemon_threads = True

    def __init__(self, root: str | os.PathLike, *, ranges: bool = True, drop_after: int | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = Path(root).resolve()
        self.ranges = ranges
        self.drop_after = drop_after
        self.requests: Counter[str] = Counter()
        self.per_file: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, name: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    @property
    def bytes_served(self) -> int:
        with self._lock:
            return sum(self.per_file.values())

    def reset(self) -> None:
        with self._lock:
            self.per_file.clear()
            self.requests.clear()

    def count(self, handler: _Handler, path: Path, n: int) -> None:
        with self._lock:
            self.per_file[path.name] += n

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-body is not the test's business

    def begin(self, handler: _Handler, path: Path) -> None:
        with self._lock:
            self.requests[path.name] += 1

    def __enter__(self) -> RangeServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
