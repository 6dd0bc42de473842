"""The privacy allow-list (roles/otel_collector/files/privacy.yml) against every capture of the real CLI, and the
transform processor plugins/filter/otel_collector_config.py builds from it for each switch combination."""

from __future__ import annotations

import copy
import itertools
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import otel_collector_config as occ  # noqa: E402

PROM = "http://prometheus:9090/api/v1/otlp/v1/metrics"
# Every capture of the real CLI: the shared ones beside the checkout and this collection's own.
CAPTURE_DIRS = (ROOT.parent / "shared" / "fixtures", ROOT / "tests" / "fixtures")
SWITCHES = occ.SWITCHES

pytestmark = pytest.mark.unit


def captures() -> list[Path]:
    files = sorted(p for d in CAPTURE_DIRS for p in d.glob("**/*.json"))
    assert files, "no captures under %s" % ", ".join(map(str, CAPTURE_DIRS))
    return files


def _keys(items) -> list[str]:
    return [a["key"] for a in items or []]


def _classified(entry: dict | None) -> set[str]:
    return {k for cls in occ.CLASSES for k in (entry or {}).get(cls) or []}


def unclassified(payload: dict, data: dict) -> list[str]:
    """'event|span <name>: <attribute>' for every attribute of a Claude Code record or span that the list does
    not classify (an event or span the list does not know counts with all its attributes)."""
    common = _classified(data["common"])
    out = []
    for rl in payload.get("resourceLogs", []):
        for sl in rl.get("scopeLogs", []):
            for rec in sl.get("logRecords", []):
                keys = _keys(rec.get("attributes"))
                name = next((a["value"].get("stringValue") for a in rec["attributes"] if a["key"] == "event.name"), "")
                known = common | _classified(data["events"].get(name))
                out += ["event %s: %s" % (name, k) for k in keys if k not in known]
    for rs in payload.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                known = common | _classified(data["spans"].get(span["name"]))
                out += ["span %s: %s" % (span["name"], k) for k in _keys(span.get("attributes")) if k not in known]
    return out


def test_every_attribute_of_every_capture_is_classified():
    data = occ.privacy_allowlist()
    missing = {}
    for path in captures():
        found = unclassified(json.loads(path.read_text()), data)
        if found:
            missing[str(path)] = sorted(set(found))
    assert not missing, "classify these in roles/otel_collector/files/privacy.yml: %s" % missing


def test_an_attribute_the_list_does_not_know_fails_the_check():
    data = occ.privacy_allowlist()
    logs = next(p for p in captures() if p.name.endswith("logs.json"))
    payload = copy.deepcopy(json.loads(logs.read_text()))
    rec = payload["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    rec["attributes"].append({"key": "brand_new_attribute", "value": {"stringValue": "x"}})
    assert [u for u in unclassified(payload, data) if u.endswith(": brand_new_attribute")]
    traces = next(p for p in captures() if p.name.endswith("traces.json"))
    payload = copy.deepcopy(json.loads(traces.read_text()))
    payload["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"] = "claude_code.brand_new_span"
    assert unclassified(payload, data)


def test_the_list_knows_what_the_2_1_337_docs_name():
    data = occ.privacy_allowlist()
    for key in (
        "query_source",
        "effort",
        "speed",
        "agent.name",
        "skill.name",
        "plugin.name",
        "marketplace.name",
        "mcp_server.name",
        "mcp_tool.name",
    ):
        assert key in data["common"]["safe"], key
    for event in ("api_request_body", "api_response_body"):
        assert data["events"][event]["store_raw_api_bodies"] == ["body"]
        assert "body" not in _classified({"safe": data["events"][event]["safe"]})


def test_nothing_is_both_safe_and_content():
    data = occ.privacy_allowlist()
    content = occ.content_attributes(data)
    for entry in [data["common"], *data["events"].values(), *data["spans"].values()]:
        assert not set(entry.get("safe") or []) & content


def _statements(cfg: dict, signal: str) -> list[str]:
    processor = cfg["processors"]["transform/privacy"]
    key = {"logs": "log_statements", "traces": "trace_statements"}[signal]
    return processor[key][0]["statements"]


def _kept(statements: list[str], condition: str) -> set[str]:
    """The keys a keep_keys statement with `condition` keeps."""
    (stmt,) = [s for s in statements if s.startswith("keep_keys(") and s.endswith(" where " + condition)]
    return set(re.findall(r'"([^"]+)"', stmt.split("[", 2)[2].split("]")[0]))


@pytest.mark.parametrize("switches", list(itertools.product((False, True), repeat=3)), ids=str)
def test_the_processor_for_each_switch_combination(switches):
    on = dict(zip(SWITCHES, switches, strict=True))
    cfg = occ.otel_collector_config({"metrics_endpoint": PROM, **on})
    data = occ.privacy_allowlist()
    for name, pipeline in cfg["service"]["pipelines"].items():
        procs = pipeline["processors"]
        if name == "metrics":
            assert "transform/privacy" not in procs
        else:
            # Right after the memory limiter and the identity actions, before anything that stores or exports.
            assert procs[0] == "memory_limiter" and procs.index("transform/privacy") <= 2, procs
    logs = _statements(cfg, "logs")
    spans = _statements(cfg, "traces")
    # Copy aside, keep the allowed ones there, every string becomes the placeholder, merge back.
    assert logs[0] == 'set(log.cache["privacy_kept"], log.attributes)'
    assert logs[-4:] == [
        'replace_all_patterns(log.attributes, "value", "(?s)^.*$", "<REDACTED>")',
        'merge_maps(log.attributes, log.cache["privacy_kept"], "upsert")',
        'delete_key(log.cache, "privacy_kept")',
        # A body other than the event's name is replaced too.
        'set(log.body, "<REDACTED>") where not IsMatch(log.body.string, "^claude_code\\\\.[A-Za-z0-9_.]+$")',
    ]
    # Span events: no string of theirs is known safe.
    (events,) = cfg["processors"]["transform/privacy"]["trace_statements"][1:]
    assert events["context"] == "spanevent"
    assert events["statements"] == ['replace_all_patterns(spanevent.attributes, "value", "(?s)^.*$", "<REDACTED>")']
    assert spans[-3].startswith("replace_all_patterns(span.attributes,")
    prompt = _kept(logs, 'log.attributes["event.name"] == "user_prompt"')
    response = _kept(logs, 'log.attributes["event.name"] == "assistant_response"')
    tool = _kept(logs, 'log.attributes["event.name"] == "tool_result"')
    body = _kept(logs, 'log.attributes["event.name"] == "api_request_body"')
    interaction = _kept(spans, 'span.name == "claude_code.interaction"')
    tool_span = _kept(spans, 'span.name == "claude_code.tool"')
    assert {"prompt_length", "session.id", "prompt.id", "event.name"} <= prompt
    assert {"tool_name", "tool_input_size_bytes", "duration_ms"} <= tool
    assert ("prompt" in prompt) == ("prompt_text" in prompt) == ("response" in response) == on["store_prompts"]
    assert ("user_prompt" in interaction) == on["store_prompts"]
    assert ("tool_input" in tool) == ("file_path" in tool_span) == on["store_tool_details"]
    assert ("body" in body) == on["store_raw_api_bodies"]
    assert "model" in body
    # An event the list does not know: only what every record carries, never an unknown attribute.
    unknown_condition = [s for s in logs if s.startswith("keep_keys(") and '!= "user_prompt"' in s]
    (unknown,) = unknown_condition
    kept = set(re.findall(r'"([^"]+)"', unknown.split("[", 2)[2].split("]")[0]))
    assert kept == {k for cls in occ.CLASSES if cls == "safe" or on[cls] for k in data["common"].get(cls) or []}
    assert "body" not in kept
    # Every known event and span has its own rule.
    for event in data["events"]:
        assert _kept(logs, 'log.attributes["event.name"] == "%s"' % event)
    for span in data["spans"]:
        assert _kept(spans, 'span.name == "%s"' % span)


def test_only_claude_code_records_are_narrowed():
    cfg = occ.otel_collector_config({"metrics_endpoint": PROM})
    processor = cfg["processors"]["transform/privacy"]
    assert processor["log_statements"][0]["conditions"] == [occ.CLAUDE_CODE_LOGS]
    assert 'instrumentation_scope.name == "com.anthropic.claude_code.events"' in occ.CLAUDE_CODE_LOGS
    assert processor["trace_statements"][0]["conditions"] == [occ.CLAUDE_CODE_SPANS]
    # Other senders' records still get the former fixed list.
    actions = {a["key"]: a for a in cfg["processors"]["attributes/privacy"]["actions"]}
    assert actions["prompt"] == {"key": "prompt", "action": "update", "value": "<REDACTED>"}


@pytest.mark.parametrize("key", ["body", "prompt", "tool_input"])
def test_content_cannot_be_kept_through_the_identity_actions(key):
    with pytest.raises(AnsibleFilterError, match="otel_collector_store_raw_api_bodies"):
        occ.otel_collector_config({"metrics_endpoint": PROM, "attributes": {key: "keep"}})


def test_the_role_defaults_and_spec_name_the_new_switch():
    import yaml  # noqa: PLC0415

    role = ROOT / "roles" / "otel_collector"
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]
    for switch in SWITCHES:
        name = "otel_collector_%s" % switch
        assert defaults[name] is False and occ.DEFAULTS[switch] is False
        assert options[name]["type"] == "bool" and options[name]["default"] is False


def test_the_kubernetes_target_runs_the_same_processor():
    from ansible_collections.claude_code.observability.plugins.filter import kubernetes_manifests as km  # noqa: PLC0415

    cfg = occ.otel_collector_config({"metrics_endpoint": PROM, "store_prompts": True})
    rules = [{"name": "g", "rules": [{"record": "a:b", "expr": "1"}]}]
    objects = km.kubernetes_manifests({"image": "otelcol:1"}, cfg, rules, {"d.json": '{"title": "x"}\n'})
    (cm,) = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-config")]
    deployed = json.loads(cm["data"]["config.yaml"])
    assert deployed["processors"]["transform/privacy"] == cfg["processors"]["transform/privacy"]
    assert "transform/privacy" in deployed["service"]["pipelines"]["logs"]["processors"]
    assert "transform/privacy" in deployed["service"]["pipelines"]["traces"]["processors"]


def test_every_documented_event_attribute_is_classified():
    """What the monitoring docs list (tests/helpers/documented_events.py) and the dashboards read is classified
    too, so a dashboard never reads <REDACTED> where the docs promise a value."""
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers import documented_events  # noqa: PLC0415

    data = occ.privacy_allowlist()
    common = _classified(data["common"])
    missing = sorted(k for k in documented_events.STANDARD_ATTRIBUTES if k not in common)
    for event, attributes in documented_events.EVENTS.items():
        known = common | _classified(data["events"].get(event))
        missing += ["%s: %s" % (event, k) for k in attributes if k not in known]
    # Left out on purpose: the whole managed settings document.
    assert missing == ["managed_settings_resolved: managed_settings.settings"]


def test_what_the_owner_keeps_or_hashes_by_name_is_kept_on_every_record():
    """A resource attribute the clients add (team=...) reaches each record; the server's owner names it in
    otel_collector_attributes to keep (or hash) it, and the allow-list then keeps it too; dropped ones are not."""
    cfg = occ.otel_collector_config(
        {"metrics_endpoint": PROM, "attributes": {"team": "keep", "cost_center": "hash", "desk": "drop"}}
    )
    logs, spans = _statements(cfg, "logs"), _statements(cfg, "traces")
    for kept in (
        _kept(logs, 'log.attributes["event.name"] == "api_request"'),
        _kept(spans, 'span.name == "claude_code.interaction"'),
    ):
        assert {"team", "cost_center"} <= kept and "desk" not in kept
    plain = occ.otel_collector_config({"metrics_endpoint": PROM})
    assert "team" not in _kept(_statements(plain, "logs"), 'log.attributes["event.name"] == "api_request"')
