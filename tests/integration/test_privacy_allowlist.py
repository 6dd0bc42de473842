"""The privacy allow-list on the real collector (OTELCOL_BIN): the config plugins/filter/otel_collector_config.py
renders, fed every captured session of the real CLI plus what a newer release may send - a raw API body
(OTEL_LOG_RAW_API_BODIES=1), a new attribute on a known event, a new event, a new span attribute - and read back
from what its otlphttp exporter really sends (tests/client_otlp_sink.py)."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import client_otlp_sink
import pytest
from helpers import otlp, privacy, procs

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.claude_code.observability.plugins.filter import otel_collector_config as occ  # noqa: E402

pytestmark = [pytest.mark.testbed, pytest.mark.slow(seconds=30)]

BODY_SECRET = "sk-body-7c1e secret request text 9931"
NEW_SECRET = "new-attribute-secret-4402"
EVENT_SECRET = "new-event-secret-5517"
SPAN_SECRET = "new-span-attribute-secret-6623"
LOG_BODY_SECRET = "log-body-secret-7731"
# On a Claude Code record without event.name.
NAMELESS_SECRET = "nameless-record-secret-9953"
SPAN_EVENT_SECRET = "span-event-secret-8842"
# Claude Code's captured sessions, each with the same content: prompts and tool input.
SESSIONS = ("tool-session", "error-session")
SWITCHES = ("store_prompts", "store_tool_details", "store_raw_api_bodies")


def _kv(key: str, value: str) -> dict:
    return {"key": key, "value": {"stringValue": value}}


def _payloads() -> list[tuple[str, dict]]:
    """The captured sessions (logs and traces), the prompt-bearing session of tests/helpers/privacy.py, and
    what the list does not know yet, derived from a captured record."""
    out = []
    for session in SESSIONS:
        out += [(s, p) for s, p in otlp.session_payloads(session) if s in ("logs", "traces")]
    out += privacy.session_payloads("allowlist-session")
    # The captured interaction spans carry the prompt as the client redacted it; send it as text.
    for span in _spans([r for s, p in out if s == "traces" for r in p["resourceSpans"]]):
        for attr in span.get("attributes", []):
            if attr["key"] == "user_prompt":
                attr["value"] = {"stringValue": privacy.PROMPT}
    logs = copy.deepcopy(next(p for s, p in out if s == "logs"))
    scope = logs["resourceLogs"][0]["scopeLogs"][0]
    template = next(r for r in scope["logRecords"] if _attr(r, "event.name") == "api_request")
    added = []
    for name, extra in (
        ("api_request_body", [_kv("body", BODY_SECRET)]),
        ("api_response_body", [_kv("body", BODY_SECRET)]),
        ("user_prompt", [_kv("prompt_length", "4"), _kv("future_content", NEW_SECRET)]),
        ("brand_new_event", [_kv("details", EVENT_SECRET)]),
        (None, [_kv("unnamed_content", NAMELESS_SECRET)]),
        ("body_event", []),
    ):
        rec = copy.deepcopy(template)
        rec["attributes"] = [a for a in rec["attributes"] if a["key"] in ("session.id", "model")]
        rec["attributes"] += ([_kv("event.name", name)] if name else []) + extra
        rec["body"] = {"stringValue": "claude_code.%s" % (name or "unnamed")}
        added.append(rec)
    # Content in the record's body rather than in an attribute.
    added[-1]["body"] = {"stringValue": "claude_code.body_event %s" % LOG_BODY_SECRET}
    scope["logRecords"] = added
    out.append(("logs", logs))
    traces = copy.deepcopy(next(p for s, p in out if s == "traces"))
    spans = traces["resourceSpans"][0]["scopeSpans"][0]
    spans["spans"] = spans["spans"][:1]
    spans["spans"][0]["attributes"].append(_kv("future_span_content", SPAN_SECRET))
    spans["spans"][0].setdefault("events", []).append(
        {
            "name": "future.event",
            "timeUnixNano": spans["spans"][0]["startTimeUnixNano"],
            "attributes": [_kv("detail", SPAN_EVENT_SECRET), {"key": "attempt", "value": {"intValue": "3"}}],
        }
    )
    out.append(("traces", traces))
    return out


def _attr(rec: dict, key: str):
    for a in rec.get("attributes", []):
        if a["key"] == key:
            return a["value"].get("stringValue")
    return None


def _strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def _config(ports: dict, sink: str, switches: dict) -> str:
    cfg = occ.otel_collector_config(
        {
            "metrics_endpoint": sink + "/v1/metrics",
            "grpc_port": ports["grpc"],
            "http_port": ports["http"],
            "health_port": ports["health"],
            "telemetry_port": ports["telemetry"],
            "queue_directory": "",
            "batch_timeout": "200ms",
            "spanmetrics": False,
            "exporters": {"otlphttp/sink": {"endpoint": sink, "encoding": "json"}},
            "logs_exporters": ["otlphttp/sink"],
            "traces_exporters": ["otlphttp/sink"],
            **switches,
        }
    )
    for protocol in cfg["receivers"]["otlp"]["protocols"].values():
        protocol["endpoint"] = protocol["endpoint"].replace("0.0.0.0", "127.0.0.1")
    return json.dumps(cfg)


def _logs(resources: list[dict]) -> list[dict]:
    return [rec for rl in resources for sl in rl.get("scopeLogs", []) for rec in sl.get("logRecords", [])]


def _spans(resources: list[dict]) -> list[dict]:
    return [span for rs in resources for ss in rs.get("scopeSpans", []) for span in ss.get("spans", [])]


def exported(otelcol, switches: dict) -> tuple[list[dict], list[dict], list[str]]:
    """Send everything through a real collector with `switches`; the records and spans its exporter sent, and
    every string value of what it sent."""
    ports = {k: procs.free_port() for k in ("grpc", "http", "health", "telemetry")}
    payloads = _payloads()
    want_logs = len(_logs([r for s, p in payloads if s == "logs" for r in p["resourceLogs"]]))
    want_spans = len(_spans([r for s, p in payloads if s == "traces" for r in p["resourceSpans"]]))
    with client_otlp_sink.serve() as sink, otelcol(_config(ports, sink.url, switches), ports["health"]):
        for signal, payload in payloads:
            assert otlp.post(f"http://127.0.0.1:{ports['http']}", signal, payload) == 200
        sink.wait(
            lambda s: len(_logs(s.resources("logs"))) >= want_logs and len(_spans(s.resources("traces"))) >= want_spans,
            timeout=30,
            what="every record and span",
        )
        logs = _logs(sink.resources("logs"))
        spans = _spans(sink.resources("traces"))
        values = _strings(sink.resources("logs")) + _strings(sink.resources("traces"))
    return logs, spans, values


def _by_event(logs: list[dict], name: str) -> list[dict]:
    return [
        client_otlp_sink.attributes(r["attributes"])
        for r in logs
        if client_otlp_sink.attributes(r["attributes"]).get("event.name") == name
    ]


def _span_attributes(spans: list[dict], name: str) -> list[dict]:
    return [client_otlp_sink.attributes(s["attributes"]) for s in spans if s["name"] == name]


def _contains(values: list[str], secret: str) -> bool:
    return any(secret in v for v in values)


def test_switches_off_store_nothing_the_list_does_not_know(otelcol):
    logs, spans, values = exported(otelcol, dict.fromkeys(SWITCHES, False))
    for secret in (
        BODY_SECRET,
        NEW_SECRET,
        EVENT_SECRET,
        SPAN_SECRET,
        LOG_BODY_SECRET,
        SPAN_EVENT_SECRET,
        *privacy.SECRETS,
    ):
        assert not _contains(values, secret), secret
    assert "/home/dev/demo/hello.py" not in " ".join(values)
    for name in ("api_request_body", "api_response_body"):
        (event,) = _by_event(logs, name)
        assert event["body"] == occ.REDACTED and event["model"] == "claude-opus-5-5"
    # A Claude Code event's body is its name; any other body is replaced.
    for rec in logs:
        name = client_otlp_sink.attributes(rec["attributes"]).get("event.name")
        expected = occ.REDACTED if name == "body_event" else "claude_code.%s" % (name or "unnamed")
        assert rec["body"]["stringValue"] == expected, rec
    # What is safe stays as it was sent.
    requests = _by_event(logs, "api_request")
    assert {r["model"] for r in requests} == {"claude-opus-5-5"}
    assert all(r["session.id"] and r["session.id"] != occ.REDACTED for r in requests)
    (tool,) = _by_event(logs, "tool_result")[:1]
    assert tool["tool_name"] == "Write" and tool["tool_input"] == occ.REDACTED
    assert tool["tool_input_size_bytes"] == "85"
    prompts = [p for p in _by_event(logs, "user_prompt") if "prompt" in p]
    assert prompts and all(p["prompt"] == occ.REDACTED for p in prompts)
    assert {p["prompt_length"] for p in prompts} >= {"15"}
    (new,) = _by_event(logs, "brand_new_event")
    assert new["details"] == occ.REDACTED and new["event.name"] == "brand_new_event"
    interactions = _span_attributes(spans, "claude_code.interaction")
    assert interactions and all(i["user_prompt"] == occ.REDACTED for i in interactions)
    assert all(isinstance(i["user_prompt_length"], int) for i in interactions)
    tools = _span_attributes(spans, "claude_code.tool")
    assert tools and all(t["file_path"] == occ.REDACTED and t["tool_name"] == "Write" for t in tools)
    # The email is hashed, not redacted: still one value per person.
    assert privacy.sha256(privacy.EMAIL) in values


def test_switches_on_store_content_but_not_what_the_list_does_not_know(otelcol):
    logs, spans, values = exported(otelcol, dict.fromkeys(SWITCHES, True))
    for secret in (BODY_SECRET, privacy.PROMPT, privacy.ANSWER, "/home/dev/demo/hello.py"):
        assert _contains(values, secret), secret
    for name in ("api_request_body", "api_response_body"):
        (event,) = _by_event(logs, name)
        assert event["body"] == BODY_SECRET
    # An attribute or event the list does not know is never stored, whatever the switches.
    for secret in (NEW_SECRET, EVENT_SECRET, SPAN_SECRET, LOG_BODY_SECRET, SPAN_EVENT_SECRET, NAMELESS_SECRET):
        assert not _contains(values, secret), secret
    interactions = _span_attributes(spans, "claude_code.interaction")
    assert interactions and all(i["user_prompt"] == privacy.PROMPT for i in interactions)


@pytest.mark.parametrize("switch", SWITCHES)
def test_each_switch_lets_only_its_own_content_through(otelcol, switch):
    _logs, _spans, values = exported(otelcol, {s: s == switch for s in SWITCHES})
    content = {
        "store_prompts": privacy.ANSWER,
        "store_tool_details": "/home/dev/demo/hello.py",
        "store_raw_api_bodies": BODY_SECRET,
    }
    for name, secret in content.items():
        assert _contains(values, secret) == (name == switch), (name, secret)
