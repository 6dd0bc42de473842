"""CONTRACT DOUBLE of Grafana Loki's HTTP API -- not Loki.

Loki cannot be obtained on the machines this project is tested on (no container
registry; no Loki binary in PyPI, npm, Maven Central, the Go module proxy,
crates.io or Debian). This small HTTP server, written from Loki's documentation,
lets the real OpenTelemetry Collector send to it and the operations playbooks
query it, so what the collection sends and asks is checked against the
documented contract. It says nothing about how a real Loki behaves beyond that.

From "Ingesting logs to Loki using OpenTelemetry Collector" (send-data/otel) and
"Loki HTTP API" (reference/loki-http-api):

* ``POST /otlp/v1/logs``: OTLP/HTTP, protobuf (``application/x-protobuf``) or JSON
  (``application/json``), optionally gzip-encoded; answers 204. Mapping: resource
  attributes in the default index-label list (``service.name``,
  ``service.namespace``, ``service.instance.id``, ``deployment.environment``, ...)
  plus the configured ones become stream labels; every other resource, scope and
  log attribute becomes structured metadata; in both, characters outside
  ``[a-zA-Z0-9_]`` become ``_``. The body is the log line. The entry's time is the
  record's time, else its observed time.
* ``GET /ready``: 200 ``ready``.
* ``GET /loki/api/v1/query_range``: ``query`` (LogQL), ``start``/``end``
  (nanoseconds) or ``since`` (duration, default 1h), ``limit`` (default 100),
  ``direction`` (``backward`` by default). Answers
  ``{"status": "success", "data": {"resultType": "streams", "result": [{"stream":
  {...}, "values": [["<ns>", "<line>"]]}], "stats": {}}}``. Only the LogQL subset
  the collection uses is understood: a stream selector of ``=``/``!=``/``=~``/``!~``
  matchers, then ``| name="value"`` label filters (labels and structured
  metadata); anything else is refused with 400, as Loki refuses what it cannot
  parse.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from google.protobuf.json_format import MessageToDict, Parse
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

DEFAULT_INDEX_LABELS = (
    "service.name",
    "service.namespace",
    "service.instance.id",
    "deployment.environment",
    "deployment.environment.name",
    "cloud.region",
    "cloud.availability_zone",
    "k8s.cluster.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.container.name",
    "container.name",
    "k8s.replicaset.name",
    "k8s.deployment.name",
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.cronjob.name",
    "k8s.job.name",
)

_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_FILTER = re.compile(r'\|\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_DURATION = re.compile(r"^(\d+)(ns|us|ms|s|m|h|d)$")
_UNIT_NS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9}


class LogQLError(ValueError):
    pass


def sanitize(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def _value(any_value: dict):
    for key in ("stringValue", "boolValue", "intValue", "doubleValue"):
        if key in any_value:
            value = any_value[key]
            return str(value).lower() if key == "boolValue" else str(value)
    return json.dumps(any_value, sort_keys=True)


def _attrs(items) -> dict:
    return {sanitize(a["key"]): _value(a.get("value", {})) for a in items or []}


def parse_query(query: str):
    """A stream selector and label filters, as [(name, op, value)] twice."""
    query = query.strip()
    if not query.startswith("{") or "}" not in query:
        raise LogQLError(f"parse error: expected a stream selector, got {query!r}")
    selector, rest = query[1:].split("}", 1)
    matchers = []
    for part in filter(None, (p.strip() for p in selector.split(","))):
        m = _MATCHER.fullmatch(part)
        if not m:
            raise LogQLError(f"parse error: bad matcher {part!r}")
        matchers.append((m[1], m[2], m[3]))
    if not matchers:
        raise LogQLError("parse error: queries require at least one matcher")
    filters = []
    rest = rest.strip()
    while rest:
        m = _FILTER.match(rest)
        if not m:
            raise LogQLError(f"parse error: unsupported expression {rest!r} (this double knows label filters only)")
        filters.append((m[1], m[2], m[3]))
        rest = rest[m.end() :].strip()
    return matchers, filters


def _matches(labels: dict, name: str, op: str, value: str) -> bool:
    got = labels.get(name, "")
    if op == "=":
        return got == value
    if op == "!=":
        return got != value
    hit = re.fullmatch(value, got) is not None
    return hit if op == "=~" else not hit


class LokiDouble:
    def __init__(self, index_labels=("machine.name",), host: str = "127.0.0.1", port: int = 0):
        self.index_labels = set(DEFAULT_INDEX_LABELS) | set(index_labels)
        self.entries: list[tuple[dict, dict, int, str]] = []  # (stream labels, metadata, ns, line)
        self.pushes: list[dict] = []  # content type and encoding of each push
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> str:
        self.thread.start()
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- ingestion ---------------------------------------------------------
    def ingest(self, request: dict) -> int:
        count = 0
        for rl in request.get("resourceLogs", []):
            resource = {a["key"]: a.get("value", {}) for a in rl.get("resource", {}).get("attributes", [])}
            stream = {sanitize(k): _value(v) for k, v in resource.items() if k in self.index_labels}
            res_meta = {sanitize(k): _value(v) for k, v in resource.items() if k not in self.index_labels}
            for sl in rl.get("scopeLogs", []):
                scope_meta = _attrs(sl.get("scope", {}).get("attributes"))
                for rec in sl.get("logRecords", []):
                    ns = int(rec.get("timeUnixNano") or 0) or int(rec.get("observedTimeUnixNano") or 0)
                    meta = {**res_meta, **scope_meta, **_attrs(rec.get("attributes"))}
                    if rec.get("severityText"):
                        meta["severity_text"] = rec["severityText"]
                    line = _value(rec.get("body", {})) if rec.get("body") else ""
                    with self.lock:
                        self.entries.append((stream, meta, ns, line))
                    count += 1
        return count

    # -- queries -----------------------------------------------------------
    def query_range(self, params: dict) -> dict:
        matchers, filters = parse_query(params.get("query", [""])[0])
        now = time.time_ns()
        if "start" in params:
            start = int(params["start"][0])
        else:
            since = params.get("since", ["1h"])[0]
            m = _DURATION.match(since)
            if not m:
                raise LogQLError(f"invalid since {since!r}")
            start = now - int(m[1]) * _UNIT_NS[m[2]]
        end = int(params.get("end", [now])[0])
        limit = int(params.get("limit", ["100"])[0])
        backward = params.get("direction", ["backward"])[0].lower() == "backward"
        with self.lock:
            hits = [
                e
                for e in self.entries
                if start <= e[2] <= end
                and all(_matches(e[0], *m) for m in matchers)
                and all(_matches({**e[0], **e[1]}, *f) for f in filters)
            ]
        hits.sort(key=lambda e: e[2], reverse=backward)
        streams: dict[str, dict] = {}
        for stream, meta, ns, line in hits[:limit]:
            labels = {**stream, **meta}
            key = json.dumps(labels, sort_keys=True)
            streams.setdefault(key, {"stream": labels, "values": []})["values"].append([str(ns), line])
        return {"status": "success", "data": {"resultType": "streams", "result": list(streams.values()), "stats": {}}}

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body=b"", content_type="application/json"):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urlparse(self.path)
                if url.path == "/ready":
                    return self._send(200, b"ready\n", "text/plain")
                if url.path == "/loki/api/v1/query_range":
                    try:
                        return self._send(200, double.query_range(parse_qs(url.query)))
                    except (LogQLError, ValueError) as exc:
                        return self._send(400, str(exc).encode(), "text/plain")
                return self._send(404, b"404 page not found\n", "text/plain")

            def do_POST(self):
                if urlparse(self.path).path != "/otlp/v1/logs":
                    return self._send(404, b"404 page not found\n", "text/plain")
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    raw = gzip.decompress(raw)
                ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
                try:
                    if ctype == "application/x-protobuf":
                        msg = ExportLogsServiceRequest.FromString(raw)
                    elif ctype == "application/json":
                        msg = Parse(raw.decode(), ExportLogsServiceRequest())
                    else:
                        return self._send(415, f"unsupported content type {ctype!r}".encode(), "text/plain")
                except Exception as exc:  # noqa: BLE001 - any decoding failure is the client's
                    return self._send(400, f"malformed OTLP request: {exc}".encode(), "text/plain")
                double.pushes.append({"content_type": ctype, "encoding": self.headers.get("Content-Encoding", "")})
                double.ingest(MessageToDict(msg))
                return self._send(204)

        return Handler
