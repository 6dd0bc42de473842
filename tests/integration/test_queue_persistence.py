"""A queued exporter loses nothing while its backend is down, even across a
collector restart: the sending queue is persisted with file_storage on the
queue volume."""

from __future__ import annotations

import gzip
import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from helpers import deploy, otlp, playbook, procs


class _Sink(BaseHTTPRequestHandler):
    records: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        body = json.loads(raw)
        for _res, record, attrs in otlp.log_records(body):
            type(self).records.append((attrs.get("event.sequence"), attrs.get("session.id"), record["body"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


class Backend:
    """An OTLP/HTTP logs backend that can be stopped and started on one port."""

    def __init__(self):
        self.port = procs.free_port()
        self.server = None

    def start(self):
        # Reachable from containers through Docker's host-gateway address.
        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("0.0.0.0", self.port), _Sink)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_events_survive_backend_outage_and_collector_restart(testbed, tmp_path):
    backend = Backend()
    extra = deploy.stack_vars(
        testbed,
        tmp_path,
        "queue",
        {
            "otel_collector_extra_hosts": ["host.docker.internal:host-gateway"],
            "otel_collector_exporters": {
                "otlphttp/events": {
                    "endpoint": f"http://host.docker.internal:{backend.port}",
                    "encoding": "json",
                    "retry_on_failure": {"initial_interval": "1s", "max_interval": "2s"},
                }
            },
            "otel_collector_logs_exporters": ["otlphttp/events"],
        },
    )
    name = extra["stack_project_name"]
    http = f"http://127.0.0.1:{extra['otel_collector_otlp_http_port']}"
    try:
        playbook.run("site.yml", extra)
        config = (tmp_path / name / "otel-collector" / "config.yaml").read_text()
        assert "storage: file_storage/queue" in config

        sent = []
        for session in ("tool-session", "error-session"):
            for signal, payload in otlp.session_payloads(session):
                if signal == "logs":
                    sent += [
                        (a.get("event.sequence"), a.get("session.id"), r["body"])
                        for _res, r, a in otlp.log_records(payload)
                    ]
                    assert otlp.post(http, signal, payload) == 200  # backend is down: accepted into the queue
        time.sleep(3)  # let the batch reach the queue
        subprocess.run(["docker", "compose", "-p", name, "restart", "otel-collector"], check=True, capture_output=True)
        procs.wait_http(f"http://127.0.0.1:{extra['otel_collector_health_port']}/", timeout=60)
        assert _Sink.records == []

        backend.start()
        got = procs.wait_for(
            lambda: len(_Sink.records) >= len(sent) and _Sink.records,
            timeout=120,
            what=f"{len(sent)} queued events at the backend",
        )
        assert sorted(set(map(json.dumps, got))) == sorted(set(map(json.dumps, sent)))
    finally:
        if backend.server:
            backend.stop()
        deploy.down(extra)
