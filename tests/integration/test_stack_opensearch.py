"""The OpenSearch flavour through site.yml: the real collector, Prometheus and
OpenSearch under one compose project, bootstrapped, fed real Claude Code
telemetry."""

from __future__ import annotations

import json
import math
import uuid

import pytest
from helpers import deploy, load, otlp, playbook, privacy, procs

pytestmark = pytest.mark.slow(seconds=100)  # the conftest starts the longest first


@pytest.fixture(scope="module")
def stack(testbed, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("osstack")
    extra = deploy.stack_vars(
        testbed,
        tmp,
        "os",
        {
            "stack_flavour": "opensearch",
            "opensearch_heap_size": "512m",
            "opensearch_port": procs.free_port(),
        },
    )
    proc, recap = playbook.run("site.yml", extra)
    extra["_stdout"] = proc.stdout
    yield extra
    deploy.down(extra)


def _os(stack):
    return f"http://127.0.0.1:{stack['opensearch_port']}"


def test_converges_idempotently_on_loopback(stack):
    assert f"OpenSearch: http://127.0.0.1:{stack['opensearch_port']}" in stack["_stdout"]
    _proc, recap = playbook.run("site.yml", {k: v for k, v in stack.items() if not k.startswith("_")})
    assert recap["localhost"]["changed"] == 0


def test_events_and_spans_land_typed_with_exact_cost(stack):
    http = f"http://127.0.0.1:{stack['otel_collector_otlp_http_port']}"
    sent_events = 0
    for session in ("tool-session", "error-session"):
        for signal, payload in otlp.session_payloads(session):
            assert otlp.post(http, signal, payload) == 200
            if signal == "logs":
                sent_events += len(list(otlp.log_records(payload)))
    base = _os(stack)
    count = procs.wait_for(
        lambda: (c := procs.http_json(f"{base}/claude-code/_count")["count"]) >= sent_events and c,
        timeout=60,
        what=f"{sent_events} events in claude-code",
    )
    assert count == sent_events
    cost = procs.http_json(
        f"{base}/claude-code/_search?size=0",
        "POST",
        {
            "query": {"term": {"attributes.event_name": "api_request"}},
            "aggs": {"cost": {"sum": {"field": "attributes.cost_usd"}}},
        },
    )["aggregations"]["cost"]["value"]
    expected = math.fsum(float(e["cost_usd"]) for e in otlp.events("tool-session", "api_request"))
    assert abs(cost - expected) < 1e-9
    # tool_result sends duration_ms as the string "13": stored and queried as a number.
    hits = procs.http_json(
        f"{base}/claude-code/_search",
        "POST",
        {
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"attributes.event_name": "tool_result"}},
                        {"range": {"attributes.duration_ms": {"gte": 13, "lte": 13}}},
                    ]
                }
            }
        },
    )
    assert hits["hits"]["total"]["value"] == 1
    spans = procs.wait_for(
        lambda: procs.http_json(f"{base}/ss4o_traces-claude_code-default/_count")["count"],
        timeout=60,
        what="spans in the SS4O trace index",
    )
    assert spans >= 6


def test_metrics_still_exact_in_prometheus(stack):
    prom = f"http://127.0.0.1:{stack['prometheus_port']}"
    payloads, totals = load.generate(seed=3, users=2, machines=2, sessions=6, exports=2)
    load.send_grpc(f"127.0.0.1:{stack['otel_collector_otlp_grpc_port']}", payloads)
    expr = "sum(sum_over_time(claude_code_cost_usage_USD{project='load'}[1h]))"
    got = procs.wait_for(
        lambda: (v := procs.prom_scalar(prom, expr)) is not None and abs(v - totals.cost) < 1e-9 and v,
        timeout=60,
        what="load cost in Prometheus",
    )
    assert abs(got - totals.cost) < 1e-9


def test_privacy_controls_apply_before_opensearch_stores_anything(stack):
    """Whatever a client sends: prompt, answer and tool input are stored as <REDACTED>, the email and
    account id as their SHA-256, the organization as it is (the role's defaults)."""
    session = f"privacy-{uuid.uuid4()}"
    payloads = privacy.session_payloads(session)
    sent = privacy.records(payloads)
    assert any(r.get("prompt") == privacy.PROMPT for r in sent) and any("tool_input" in r for r in sent)
    http = f"http://127.0.0.1:{stack['otel_collector_otlp_http_port']}"
    for signal, payload in payloads:
        assert otlp.post(http, signal, payload) == 200
    base = _os(stack)
    query = {"query": {"term": {"attributes.session_id": session}}, "size": 100}
    hits = procs.wait_for(
        lambda: (
            (h := procs.http_json(f"{base}/claude-code/_search", "POST", query)["hits"]["hits"])
            and len(h) >= len(sent)
            and h
        ),
        timeout=60,
        what="the privacy session's events in OpenSearch",
    )
    stored = [h["_source"]["attributes"] for h in hits]
    assert len(stored) == len(sent)
    raw = json.dumps([h["_source"] for h in hits])
    for secret in privacy.SECRETS:
        assert secret not in raw, secret
    assert all(a["user_email"] == privacy.sha256(privacy.EMAIL) for a in stored)
    assert all(a["user_account_uuid"] == privacy.sha256(privacy.ACCOUNT) for a in stored)
    assert all(a["organization_id"] == privacy.ORGANIZATION for a in stored)
    prompts = [a for a in stored if a["event_name"] == "user_prompt"]
    assert prompts and all(a["prompt"] == "<REDACTED>" for a in prompts)
    assert all(a["prompt_length"] for a in prompts)  # the event and its length stay
    tools = [a for a in stored if "tool_input" in a]
    assert tools and all(a["tool_input"] == "<REDACTED>" for a in tools)
