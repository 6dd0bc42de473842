"""A test-only reverse proxy in front of the REAL OpenSearch.

The OpenSearch of the test bed runs without the security plugin, so this proxy
adds HTTP basic auth in front of it (401 ``Unauthorized`` with a
``WWW-Authenticate`` header, as the security plugin answers) and records every
request, so tests can prove that a run made no write at all. Everything else is
passed through unchanged to the real server.
"""

from __future__ import annotations

import base64
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "authorization", "host"}


class CountingProxy:
    def __init__(self, upstream: str, user: str | None = None, password: str | None = None):
        self.upstream = upstream.rstrip("/")
        self.user = user
        self.password = password
        self.requests: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def writes(self) -> list[tuple[str, str, int]]:
        return [r for r in self.requests if r[0] not in ("GET", "HEAD")]

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()

    def _authorised(self, header: str | None) -> bool:
        if self.user is None:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _sep, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.user and password == self.password

    def start(self) -> str:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _reply(self, status: int, data: bytes, headers: dict):
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in HOP_HEADERS:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data and self.command != "HEAD":
                    self.wfile.write(data)

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else None
                if not proxy._authorised(self.headers.get("Authorization")):
                    with proxy.lock:
                        proxy.requests.append((self.command, self.path, 401))
                    self._reply(401, b"Unauthorized", {"WWW-Authenticate": 'Basic realm="OpenSearch Security"'})
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                req = urllib.request.Request(proxy.upstream + self.path, data=raw, method=self.command, headers=headers)
                try:
                    with urllib.request.urlopen(req, timeout=60) as resp:
                        status, data, out_headers = resp.status, resp.read(), dict(resp.headers)
                except urllib.error.HTTPError as exc:
                    status, data, out_headers = exc.code, exc.read(), dict(exc.headers)
                with proxy.lock:
                    proxy.requests.append((self.command, self.path, status))
                self._reply(status, data, out_headers)

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
