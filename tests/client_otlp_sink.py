"""A tiny OTLP/HTTP JSON receiver: stores every payload the collector's otlphttp exporter
(encoding: json) sends, so tests can assert on what really went through the collector."""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SIGNALS = {"/v1/metrics": "metrics", "/v1/logs": "logs", "/v1/traces": "traces"}


def _value(value: dict):
    ((kind, raw),) = value.items() if value else (("stringValue", None),)
    if kind == "intValue":
        return int(raw)
    if kind == "arrayValue":
        return [_value(v) for v in raw.get("values", [])]
    if kind == "kvlistValue":
        return {kv["key"]: _value(kv["value"]) for kv in raw.get("values", [])}
    return raw


def attributes(items: list[dict]) -> dict:
    return {a["key"]: _value(a.get("value", {})) for a in items or []}


class Sink(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address):
        super().__init__(address, _Handler)
        self.payloads: dict[str, list[dict]] = {"metrics": [], "logs": [], "traces": []}
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def resources(self, signal: str) -> list[dict]:
        key = {"metrics": "resourceMetrics", "logs": "resourceLogs", "traces": "resourceSpans"}[signal]
        with self.lock:
            payloads = list(self.payloads[signal])
        return [r for p in payloads for r in p.get(key, [])]

    def metric_names(self) -> set[str]:
        return {
            m["name"]
            for r in self.resources("metrics")
            for sm in r.get("scopeMetrics", [])
            for m in sm.get("metrics", [])
        }

    def event_names(self) -> set[str]:
        names = set()
        for r in self.resources("logs"):
            for sl in r.get("scopeLogs", []):
                for rec in sl.get("logRecords", []):
                    name = attributes(rec.get("attributes", [])).get("event.name")
                    if name:
                        names.add(name)
        return names

    def wait(self, predicate, timeout: float = 60, what: str = "payloads"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return
            time.sleep(0.2)
        raise AssertionError(
            f"{what} not received within {timeout}s; got metrics {sorted(self.metric_names())}, "
            f"events {sorted(self.event_names())}"
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Sink

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):  # noqa: N802 - http.server naming
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        signal = SIGNALS.get(self.path.split("?", 1)[0])
        status = 200
        if signal is None:
            status = 404
        else:
            try:
                payload = json.loads(raw or b"{}")
            except ValueError:
                status = 400
            else:
                with self.server.lock:
                    self.server.payloads[signal].append(payload)
        body = b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def serve(host: str = "127.0.0.1", port: int = 0):
    server = Sink((host, port))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
