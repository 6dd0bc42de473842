"""Spend alerts end to end: Claude Code's cost → Prometheus rule → Alertmanager → webhook."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from helpers import otlp, playbook, procs


class _Webhook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_daily_spend_alert_reaches_the_webhook(testbed, tmp_path):
    # Containers reach the host through Docker's host-gateway address.
    server = ThreadingHTTPServer(("0.0.0.0", 0), _Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    name = f"cco-alert-{uuid.uuid4().hex[:6]}"
    project_dir = tmp_path / name
    extra = {
        "stack_project_name": name,
        "stack_flavour": "none",  # metrics only: Loki and Grafana have no image here
        "stack_project_dir": str(project_dir),
        "stack_pull": "never",
        "stack_alertmanager": True,
        "otel_collector_image": testbed["OTELCOL_IMAGE"],
        "prometheus_image": testbed["PROMETHEUS_IMAGE"],
        "alertmanager_image": testbed["ALERTMANAGER_IMAGE"],
        "otel_collector_otlp_grpc_port": procs.free_port(),
        "otel_collector_otlp_http_port": procs.free_port(),
        "otel_collector_health_port": procs.free_port(),
        "prometheus_port": procs.free_port(),
        "alertmanager_port": procs.free_port(),
        "prometheus_scrape_interval": "1s",
        "prometheus_evaluation_interval": "1s",
        "prometheus_alert_daily_cost_per_user_usd": 0.001,
        "alertmanager_group_wait": "1s",
        "alertmanager_webhook_urls": [f"http://host.docker.internal:{server.server_address[1]}/hook"],
    }
    try:
        playbook.run("site.yml", extra)
        check = subprocess.run(
            [testbed["AMTOOL_BIN"], "check-config", f"{project_dir}/alertmanager/alertmanager.yml"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        check = subprocess.run(
            [testbed["PROMTOOL_BIN"], "check", "config", f"{project_dir}/prometheus/prometheus.yml"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr

        http = f"http://127.0.0.1:{extra['otel_collector_otlp_http_port']}"
        for signal, payload in otlp.session_payloads("tool-session"):
            otlp.post(http, signal, payload)
        user = otlp.events("tool-session", "api_request")[0]["user.id"]

        def fired():
            for msg in _Webhook.received:
                for alert in msg.get("alerts", []):
                    if alert["labels"].get("alertname") == "ClaudeCodeDailySpendPerUser":
                        return alert
            return None

        alert = procs.wait_for(fired, timeout=90, what="the spend alert at the webhook")
        assert alert["status"] == "firing"
        assert alert["labels"]["user_id"] == user
        assert "0.00 USD" in alert["annotations"]["summary"]  # 0.002512 printed with %.2f
        # The total threshold (100 USD) is not crossed by 0.0025 USD.
        names = {a["labels"]["alertname"] for m in _Webhook.received for a in m["alerts"]}
        assert "ClaudeCodeDailySpendTotal" not in names
    finally:
        server.shutdown()
        subprocess.run(["docker", "compose", "-p", name, "down", "-v"], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", "-f", f"{name}-otelcol-queue"], capture_output=True, check=False)
