"""OpenSearch flavour end to end: the opensearch_bootstrap role against the real
OpenSearch, then the real collector with the exporter and transform the
opensearch role publishes, fed with the captured Claude Code telemetry and a
generated load. OpenSearch Dashboards is the contract double (tests/doubles)."""

from __future__ import annotations

import json
import math
import random
import re
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest
import yaml
from doubles.osd_double import OsdDouble
from helpers import otlp, playbook, procs

ROOT = Path(__file__).resolve().parents[2]
NDJSON = ROOT / "roles" / "opensearch_bootstrap" / "files" / "dashboards" / "claude-code.ndjson"
EVENTS = "claude-code"
TRACES = "ss4o_traces-claude_code-default"


def search(url: str, index: str, body: dict) -> dict:
    return procs.http_json(f"{url}/{index}/_search", "POST", body)


@pytest.fixture(scope="module")
def osd():
    double = OsdDouble()
    url = double.start()
    yield double, url
    double.stop()


@pytest.fixture(scope="module")
def bootstrapped(opensearch, osd):
    """The bootstrap role run twice; returns the first and second run's output."""
    double, osd_url = osd
    extra = {"opensearch_bootstrap_url": opensearch, "opensearch_bootstrap_dashboards_url": osd_url}
    first, recap1 = playbook.run("tests/integration/playbooks/opensearch_bootstrap.yml", extra)
    second, recap2 = playbook.run("tests/integration/playbooks/opensearch_bootstrap.yml", extra)
    return {"first": first.stdout, "recap1": recap1, "second": second.stdout, "recap2": recap2, "osd": double}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """What the opensearch role publishes for the collector (rendered by the role itself)."""
    out = tmp_path_factory.mktemp("opensearch-role")
    playbook.run(
        "tests/integration/playbooks/opensearch_role.yml",
        {"opensearch_project_dir": str(out), "opensearch_facts_out": str(out / "facts.json")},
    )
    return json.loads((out / "facts.json").read_text())


def test_bootstrap_is_idempotent_and_skips_missing_plugins(bootstrapped, opensearch):
    assert bootstrapped["recap1"]["localhost"]["changed"] > 0
    assert bootstrapped["recap2"]["localhost"]["changed"] == 0, bootstrapped["second"][-4000:]
    # The test bed's OpenSearch has no ISM or SQL plugin: both are skipped, and said so.
    for out in (bootstrapped["first"], bootstrapped["second"]):
        assert "index-management (ISM) plugin is not installed" in out
        assert "SQL plugin is not installed" in out
    for name in ("claude-code-common", "claude-code-events", "claude-code-traces"):
        assert procs.http_json(f"{opensearch}/_component_template/{name}")["component_templates"]
    streams = procs.http_json(f"{opensearch}/_data_stream/{EVENTS}")["data_streams"]
    assert [s["name"] for s in streams] == [EVENTS]
    # Dashboards content went into its workspace.
    double = bootstrapped["osd"]
    ws = double.workspace_by_name("Claude Code")
    assert ws is not None
    titles = {
        json.loads(line)["attributes"]["title"]
        for line in NDJSON.read_text().splitlines()
        if json.loads(line).get("type") == "dashboard"
    }
    assert titles == {"Claude Code: Cost & Usage", "Claude Code: Activity", "Claude Code: Performance"}
    for did in ("claude-code-cost-usage", "claude-code-activity", "claude-code-performance"):
        assert double.stored("dashboard", did) is not None, did


def _kv(key, value):
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def generated_events(seed: int, sessions: int, per_session: int):
    """OTLP/JSON log payloads shaped like Claude Code's: (payloads, api_request costs, tool_result durations)."""
    rng = random.Random(seed)
    payloads, costs, durations = [], [], []
    now = time.time_ns() - 600 * 10**9
    for s in range(sessions):
        machine, project = f"host-{s % 3}", "load"
        session_id = str(uuid.UUID(int=rng.getrandbits(128)))
        common = {
            "machine.name": machine,
            "project": project,
            "session.id": session_id,
            "user.id": f"user-{s % 4}",
            "terminal.type": "load",
        }
        records = []
        for i in range(per_session):
            prompt_id = str(uuid.UUID(int=rng.getrandbits(128)))
            ts = str(now + (s * per_session + i) * 10**6)
            if i % 3 == 0:
                cost = round(rng.uniform(0.0001, 0.05), 6)
                costs.append(cost)
                attrs = {
                    "event.name": "api_request",
                    "model": rng.choice(["claude-opus-5-5", "claude-sonnet-5-1"]),
                    "cost_usd": cost,
                    "duration_ms": rng.randint(5, 5000),
                    "input_tokens": rng.randint(1, 9000),
                    "output_tokens": rng.randint(1, 9000),
                    "prompt.id": prompt_id,
                }
            elif i % 3 == 1:
                duration = rng.randint(1, 900)
                durations.append(duration)
                # Claude Code sends these as strings.
                attrs = {
                    "event.name": "tool_result",
                    "tool_name": rng.choice(["Write", "Read", "Bash"]),
                    "duration_ms": str(duration),
                    "success": rng.choice(["true", "false"]),
                    "prompt.id": prompt_id,
                }
            else:
                attrs = {
                    "event.name": "user_prompt",
                    "prompt": "<REDACTED>",
                    "prompt_length": str(rng.randint(1, 400)),
                    "prompt.id": prompt_id,
                }
            records.append(
                {
                    "timeUnixNano": ts,
                    "observedTimeUnixNano": ts,
                    "body": {"stringValue": "claude_code." + attrs["event.name"]},
                    "attributes": [_kv(k, v) for k, v in {**common, **attrs}.items()],
                }
            )
        payloads.append(
            {
                "resourceLogs": [
                    {
                        "resource": {
                            "attributes": [
                                _kv("service.name", "claude-code"),
                                _kv("machine.name", machine),
                                _kv("project", project),
                            ]
                        },
                        "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": records}],
                    }
                ]
            }
        )
    return payloads, costs, durations


def collector_config(published: dict, opensearch: str, otlp_port: int, health_port: int) -> str:
    events = published["exporter"]
    traces = published["traces_exporter"]
    exporters = {}
    for exp in (events, traces):
        cfg = json.loads(json.dumps(exp["config"]))
        cfg["http"]["endpoint"] = opensearch
        exporters[exp["name"]] = cfg
    processors = {**published["logs_processors"], "batch": {"timeout": "200ms"}}
    config = {
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"127.0.0.1:{otlp_port}"}}}},
        "processors": processors,
        "exporters": exporters,
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health_port}"}},
        "service": {
            "extensions": ["health_check"],
            "telemetry": {"metrics": {"level": "none"}},
            "pipelines": {
                "logs": {
                    "receivers": ["otlp"],
                    "processors": [*published["logs_processors"], "batch"],
                    "exporters": [events["name"]],
                },
                "traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": [traces["name"]]},
            },
        },
    }
    return yaml.safe_dump(config, sort_keys=False)


def count(url: str, index: str, query: dict | None = None) -> int:
    procs.http_json(f"{url}/{index}/_refresh", "POST")
    return procs.http_json(f"{url}/{index}/_count", "POST", {"query": query or {"match_all": {}}})["count"]


@pytest.fixture(scope="module")
def delivered(bootstrapped, opensearch, published, testbed, tmp_path_factory):
    """Fixtures and generated load sent through the real collector; waits until all are indexed."""
    del bootstrapped
    tmp = tmp_path_factory.mktemp("otelcol")
    otlp_port, health_port = procs.free_port(), procs.free_port()
    cfg = tmp / "otelcol.yaml"
    cfg.write_text(collector_config(published, opensearch, otlp_port, health_port))
    log = tmp / "otelcol.log"
    sent = {"records": 0, "spans": 0, "costs": [], "tool_durations": []}
    with procs.process([testbed["OTELCOL_BIN"], "--config", str(cfg)], log, f"http://127.0.0.1:{health_port}/"):
        endpoint = f"http://127.0.0.1:{otlp_port}"
        for session in ("tool-session", "error-session"):
            for signal, payload in otlp.session_payloads(session):
                if signal == "logs":
                    for _res, _rec, attrs in otlp.log_records(payload):
                        sent["records"] += 1
                        if attrs.get("event.name") == "api_request":
                            sent["costs"].append(float(attrs["cost_usd"]))
                        if attrs.get("event.name") == "tool_result":
                            sent["tool_durations"].append(int(attrs["duration_ms"]))
                elif signal == "traces":
                    sent["spans"] += sum(len(ss["spans"]) for rs in payload["resourceSpans"] for ss in rs["scopeSpans"])
                else:
                    continue
                assert otlp.post(endpoint, signal, payload) == 200
        payloads, costs, durations = generated_events(seed=7, sessions=40, per_session=30)
        for payload in payloads:
            assert otlp.post(endpoint, "logs", payload) == 200
        sent["records"] += sum(len(p["resourceLogs"][0]["scopeLogs"][0]["logRecords"]) for p in payloads)
        sent["costs"] += costs
        sent["tool_durations"] += durations
        procs.wait_for(
            lambda: count(opensearch, EVENTS) >= sent["records"] and count(opensearch, TRACES) >= sent["spans"],
            timeout=90,
            interval=1,
            what="every event and span indexed",
        )
        time.sleep(1)  # a late duplicate or rejection would show up in the log by now
    sent["log"] = log.read_text()
    return sent


def test_every_event_and_span_lands_without_rejection(delivered, opensearch):
    assert count(opensearch, EVENTS) == delivered["records"]
    assert count(opensearch, TRACES) == delivered["spans"]
    bad = [
        line
        for line in delivered["log"].splitlines()
        if re.search(r"\t(error|warn)\t", line) or "mapper_parsing_exception" in line or "illegal_argument" in line
    ]
    assert not bad, "\n".join(bad[:20])


def test_mapping_types_and_string_numbers(delivered, opensearch):
    mapping = procs.http_json(f"{opensearch}/{EVENTS}/_mapping")
    ((_index, body),) = mapping.items()
    attrs = body["mappings"]["properties"]["attributes"]["properties"]
    assert attrs["duration_ms"]["type"] == "long"
    assert attrs["prompt_length"]["type"] == "long"
    assert attrs["cost_usd"]["type"] == "double"
    assert attrs["success"]["type"] == "boolean"
    assert attrs["prompt"]["type"] == "text" and attrs["prompt_id"]["type"] == "keyword"
    assert attrs["session_id"]["type"] == "keyword" and attrs["model"]["type"] == "keyword"
    resource = body["mappings"]["properties"]["resource"]["properties"]
    assert resource["machine"]["properties"]["name"]["type"] == "keyword"

    # The captured tool_result sent duration_ms as the string "13": it is the number 13.
    tool = {"term": {"attributes.event_name": "tool_result"}}
    hit = search(opensearch, EVENTS, {"query": {"bool": {"filter": [tool, {"term": {"resource.project": "demo"}}]}}})
    sources = [h["_source"]["attributes"] for h in hit["hits"]["hits"]]
    assert [s["duration_ms"] for s in sources] == ["13"] and [s["success"] for s in sources] == ["true"]
    ranged = {"bool": {"filter": [tool, {"range": {"attributes.duration_ms": {"gte": 13, "lte": 13}}}]}}
    expected = sum(1 for d in delivered["tool_durations"] if d == 13)
    assert count(opensearch, EVENTS, ranged) == expected >= 1
    aggs = search(
        opensearch,
        EVENTS,
        {
            "size": 0,
            "query": tool,
            "aggs": {
                "s": {"sum": {"field": "attributes.duration_ms"}},
                "t": {"terms": {"field": "attributes.success"}},
            },
        },
    )["aggregations"]
    assert aggs["s"]["value"] == sum(delivered["tool_durations"])
    assert {b["key_as_string"] for b in aggs["t"]["buckets"]} == {"true", "false"}


def test_cost_sum_is_exact(delivered, opensearch):
    res = search(
        opensearch,
        EVENTS,
        {
            "size": 0,
            "query": {"term": {"attributes.event_name": "api_request"}},
            "aggs": {
                "cost": {"sum": {"field": "attributes.cost_usd"}},
                "n": {"value_count": {"field": "attributes.cost_usd"}},
            },
        },
    )["aggregations"]
    assert res["n"]["value"] == len(delivered["costs"])
    assert abs(res["cost"]["value"] - math.fsum(delivered["costs"])) <= 1e-9, (res, math.fsum(delivered["costs"]))


def _fields_of_saved_objects():
    """(object id, field, needs aggregation) for every field the visualizations use."""
    used = []
    for line in NDJSON.read_text().splitlines():
        obj = json.loads(line)
        if obj.get("type") != "visualization":
            continue
        vis = json.loads(obj["attributes"]["visState"])
        for agg in vis["aggs"]:
            if "field" in agg.get("params", {}):
                used.append((obj["id"], agg["params"]["field"], True))
        source = json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        for field in re.findall(r"([\w.@]+)\s*:", source["query"]["query"]):
            used.append((obj["id"], field, False))
    return used


def test_saved_objects_use_fields_that_exist(delivered, opensearch):
    del delivered
    caps = procs.http_json(f"{opensearch}/{EVENTS}/_field_caps?" + urllib.parse.urlencode({"fields": "*"}))["fields"]
    used = _fields_of_saved_objects()
    assert len(used) > 20
    missing = [(oid, f) for oid, f, _agg in used if f not in caps]
    assert not missing, missing
    not_aggregatable = [
        (oid, f) for oid, f, agg in used if agg and not any(c.get("aggregatable") for c in caps[f].values())
    ]
    assert not not_aggregatable, not_aggregatable
    # The index pattern's time field exists and is a date.
    assert "date" in caps["@timestamp"]
