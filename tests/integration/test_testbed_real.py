"""Proof that the test bed is real: the built collector, the real Prometheus and
the real OpenSearch, fed with telemetry captured from the real Claude Code CLI."""

from __future__ import annotations

import math
import urllib.parse

from helpers import otlp, procs

COLLECTOR_CONFIG = """
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp_port}
processors:
  transform:
    metric_statements:
      - context: metric
        statements: [convert_sum_to_gauge() where metric.type == METRIC_DATA_TYPE_SUM]
exporters:
  otlphttp:
    metrics_endpoint: http://127.0.0.1:{prom_port}/api/v1/otlp/v1/metrics
extensions:
  health_check:
    endpoint: 127.0.0.1:{health_port}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [transform]
      exporters: [otlphttp]
"""

PROMETHEUS_CONFIG = """
global:
  scrape_interval: 1s
"""


def test_prometheus_and_alertmanager_are_the_pinned_releases(testbed):
    """The roles pin prom/prometheus and prom/alertmanager; the test bed runs those releases."""
    import re  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    import yaml  # noqa: PLC0415

    roles = Path(__file__).resolve().parents[2] / "roles"
    for role, key, binary in (
        ("prometheus", "prometheus_image", "PROMETHEUS_BIN"),
        ("alertmanager", "alertmanager_image", "ALERTMANAGER_BIN"),
    ):
        pinned = yaml.safe_load((roles / role / "defaults" / "main.yml").read_text())[key].rsplit(":v", 1)[1]
        out = subprocess.run([testbed[binary], "--version"], capture_output=True, text=True, check=True)
        version = re.search(r"version (\S+)", out.stdout + out.stderr)[1]
        assert version == pinned, (role, version, pinned)


def test_cost_reaches_prometheus_exactly(otelcol, prometheus):
    ports = {k: procs.free_port() for k in ("otlp_port", "health_port", "prom_port")}
    requests = otlp.events("tool-session", "api_request")
    expected = math.fsum(float(e["cost_usd"]) for e in requests)
    assert len(requests) == 2 and abs(expected - 0.002512) < 1e-12
    session_id = requests[0]["session.id"]

    with (
        prometheus(PROMETHEUS_CONFIG.format(**ports), ports["prom_port"], ["--web.enable-otlp-receiver"]),
        otelcol(COLLECTOR_CONFIG.format(**ports), ports["health_port"]),
    ):
        for signal, payload in otlp.session_payloads("tool-session"):
            if signal == "metrics":
                assert otlp.post(f"http://127.0.0.1:{ports['otlp_port']}", signal, payload) == 200
        base = f"http://127.0.0.1:{ports['prom_port']}"
        expr = f'sum(sum_over_time(claude_code_cost_usage_USD{{session_id="{session_id}"}}[1h]))'
        got = procs.wait_for(lambda: procs.prom_scalar(base, expr), timeout=30, what=f"{expr} in Prometheus")
        assert abs(got - expected) <= 1e-9, (got, expected)
        series = procs.prom_query(base, f'last_over_time(claude_code_cost_usage_USD{{session_id="{session_id}"}}[1h])')
        assert {s["metric"].get("model") for s in series} == {"claude-opus-5-5"}


def test_opensearch_round_trip_and_plugins(opensearch):
    doc = {"event.name": "api_request", "cost_usd": 0.001536, "session.id": "abc"}
    index = "testbed-proof"
    res = procs.http_json(f"{opensearch}/{index}/_doc/1?refresh=true", "PUT", doc)
    assert res["result"] in ("created", "updated")
    got = procs.http_json(f"{opensearch}/{index}/_doc/1")
    assert got["found"] is True and got["_source"] == doc
    hits = procs.http_json(f"{opensearch}/{index}/_search?" + urllib.parse.urlencode({"q": "session.id:abc"}))["hits"][
        "hits"
    ]
    assert [h["_id"] for h in hits] == ["1"]
    plugins = procs.http_json(f"{opensearch}/_cat/plugins?format=json")
    components = {p["component"] for p in plugins}
    # ISM and SQL plugin zips are not served by Maven Central here (see docs/testing.md, the test bed);
    # job-scheduler, which ISM builds on, is real and must be loaded.
    assert "opensearch-job-scheduler" in components, components
