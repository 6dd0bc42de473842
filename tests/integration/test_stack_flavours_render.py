"""Every flavour renders one valid compose project with the collector wired to
its storage. Rendering only (stack_deploy=false): Loki and Grafana images are
not obtainable on this machine, so this says nothing about them running."""

from __future__ import annotations

import subprocess
import uuid

import pytest
import yaml
from helpers import playbook

pytestmark = pytest.mark.slow(seconds=70)  # the conftest starts the longest first


@pytest.mark.parametrize(
    ("flavour", "services", "logs_exporters"),
    [
        ("grafana", {"otel-collector", "prometheus", "loki", "jaeger", "grafana"}, {"otlphttp/loki"}),
        ("opensearch", {"otel-collector", "prometheus", "opensearch", "opensearch-dashboards"}, {"opensearch/events"}),
        (
            "both",
            {"otel-collector", "prometheus", "loki", "jaeger", "grafana", "opensearch", "opensearch-dashboards"},
            {"otlphttp/loki", "opensearch/events"},
        ),
        ("none", {"otel-collector", "prometheus"}, {"debug"}),
    ],
)
def test_flavour_renders_a_valid_project(tmp_path, flavour, services, logs_exporters):
    name = f"cco-render-{uuid.uuid4().hex[:6]}"
    project = tmp_path / name
    extra = {
        "stack_project_name": name,
        "stack_project_dir": str(project),
        "stack_flavour": flavour,
        "stack_deploy": False,
    }
    try:
        proc, recap = playbook.run("site.yml", extra)
        assert recap["localhost"]["failed"] == 0
        config = subprocess.run(
            ["docker", "compose", "-f", str(project / "compose.yaml"), "config", "--format", "json"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert config.returncode == 0, config.stderr
        rendered = yaml.safe_load(config.stdout)
        assert set(rendered["services"]) == services
        for svc in rendered["services"].values():  # nothing published beyond loopback by default
            for port in svc.get("ports", []):
                assert port["host_ip"] == "127.0.0.1", (svc, port)
        collector = yaml.safe_load((project / "otel-collector" / "config.yaml").read_text())
        assert set(collector["service"]["pipelines"]["logs"]["exporters"]) == logs_exporters
        for exporter in logs_exporters - {"debug"}:
            assert collector["exporters"][exporter]["sending_queue"]["storage"] == "file_storage/queue"
        if "jaeger" in services:  # spans go to Jaeger, which Grafana reads with a link to the session's events
            assert "otlp/jaeger" in collector["service"]["pipelines"]["traces"]["exporters"]
            assert collector["exporters"]["otlp/jaeger"]["endpoint"] == "jaeger:4317"
            assert collector["exporters"]["otlp/jaeger"]["sending_queue"]["storage"] == "file_storage/queue"
            sources = yaml.safe_load((project / "grafana" / "provisioning" / "datasources" / "claude.yml").read_text())
            jaeger = next(d for d in sources["datasources"] if d["type"] == "jaeger")
            assert jaeger["url"] == "http://jaeger:16686"
            assert jaeger["jsonData"]["tracesToLogsV2"]["datasourceUid"] == "claude-code-loki"
        nothing_started = subprocess.run(
            ["docker", "compose", "-p", name, "ps", "-q"], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert nothing_started == ""
        if flavour == "both":  # renders every piece the others do; a second run changes nothing
            _proc, recap = playbook.run("site.yml", extra)
            assert recap["localhost"]["changed"] == 0
    finally:
        subprocess.run(["docker", "volume", "rm", "-f", f"{name}-otelcol-queue"], capture_output=True, check=False)
