"""OpenSearch flavour end to end: the opensearch_bootstrap role against the real
OpenSearch, then the real collector with the exporter and transform the
opensearch role publishes, fed with the captured Claude Code telemetry and a
generated load. OpenSearch Dashboards is the contract double (tests/doubles).

Last, the Claude Code Desktop app's session (the real tool-session capture with only the resource
attribute service.name changed to claude-code-desktop, tests/helpers/desktop.py) goes through the
same collector, and the saved visualizations' own queries, run on the real OpenSearch, count both
apps, and only the Desktop app's events when the dashboards' App control selects it."""

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
from helpers import desktop, otlp, playbook, procs

pytestmark = pytest.mark.slow(seconds=70)  # the conftest starts the longest first

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
    assert titles == {
        "Claude Code: Cost & Usage",
        "Claude Code: Activity",
        "Claude Code: Performance",
        "Claude Code: Audit",
    }
    for did in ("claude-code-cost-usage", "claude-code-activity", "claude-code-performance", "claude-code-audit"):
        assert double.stored("dashboard", did) is not None, did
    assert double.stored("search", "claude-code-audit-events") is not None


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
        # Input controls list a field's values with a terms aggregation.
        for control in vis.get("params", {}).get("controls", []):
            used.append((obj["id"], control["fieldName"], True))
        source = json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        for field in re.findall(r"([\w.@]+)\s*:", source["query"]["query"]):
            used.append((obj["id"], field, False))
        for saved_filter in source.get("filter", []):
            used.append((obj["id"], saved_filter["meta"]["key"], False))
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


# -- the Desktop app --------------------------------------------------------------------------

APP_FIELD = "resource.service.name"
APPS = (desktop.CLI_SERVICE_NAME, desktop.SERVICE_NAME)


def saved_objects() -> list[dict]:
    return [json.loads(line) for line in NDJSON.read_text().splitlines() if "type" in json.loads(line)]


def kql_query(kql: str) -> dict:
    """The saved objects' KQL as an OpenSearch query. They use an empty query or one field:value,
    which Dashboards turns into a match on the field; anything else fails here."""
    if not kql.strip():
        return {"match_all": {}}
    m = re.fullmatch(r"\s*([\w.@]+)\s*:\s*([\w.-]+)\s*", kql)
    assert m, f"cannot evaluate KQL {kql!r}"
    return {"match": {m.group(1): m.group(2)}}


def app_filter(apps) -> dict:
    """The filter the dashboards' App control (an input control list) adds: a phrase filter for one
    value, any of them for several."""
    phrases = [{"match_phrase": {APP_FIELD: app}} for app in apps]
    return phrases[0] if len(phrases) == 1 else {"bool": {"should": phrases, "minimum_should_match": 1}}


def visualization_queries() -> list[tuple[str, dict, dict, dict]]:
    """(id, query, metric aggregations, visState) of every visualization that aggregates events."""
    out = []
    for obj in saved_objects():
        if obj["type"] != "visualization":
            continue
        vis = json.loads(obj["attributes"]["visState"])
        if vis["type"] == "input_control_vis":
            continue
        source = json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        clauses = [kql_query(source["query"]["query"])]
        for saved_filter in source.get("filter", []):
            clause = saved_filter.get("query") or {k: v for k, v in saved_filter.items() if k not in ("meta", "$state")}
            # A negated filter (verify.yml's session left out) excludes what it matches.
            clauses.append({"bool": {"must_not": [clause]}} if saved_filter["meta"].get("negate") else clause)
        metrics = {}
        for agg in vis["aggs"]:
            if agg["schema"] != "metric" or agg["type"] == "count":
                continue
            body = {"field": agg["params"]["field"]}
            if agg["type"] == "percentiles":
                body["percents"] = agg["params"]["percents"]
            metrics[agg["id"]] = {agg["type"]: body}
        out.append((obj["id"], {"bool": {"filter": clauses}}, metrics, vis))
    assert len(out) >= 18
    return out


def _metric_values(aggs: dict, metrics: dict) -> dict:
    out = {}
    for agg_id, spec in metrics.items():
        ((kind, _body),) = spec.items()
        out[agg_id] = aggs[agg_id]["values"] if kind == "percentiles" else aggs[agg_id]["value"]
    return out


def evaluate(url: str, query: dict, metrics: dict, extra: list[dict] = ()) -> dict:
    """Documents and metric values of a visualization's query (plus filters), over all time."""
    body = {"size": 0, "track_total_hits": True, "query": {"bool": {"filter": [query, *extra]}}, "aggs": metrics}
    res = search(url, EVENTS, body)
    return {"docs": res["hits"]["total"]["value"], **_metric_values(res.get("aggregations", {}), metrics)}


def _close(a, b, tol: float = 1e-9) -> bool:
    """Equal, numbers within tol (nested dicts of metric values)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(_close(a[k], b[k], tol) for k in a)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= tol * max(1.0, abs(a), abs(b))
    return a == b


def _records_matching(records: list[dict], query: dict) -> list[dict]:
    """The sent records a visualization query selects, evaluated on what was sent: record
    attributes under their indexed names (dots turned into underscores by the collector's
    transform), resource attributes as resource.<name>."""

    def value_of(record, field):
        return record.get(field.removeprefix("attributes.") if field.startswith("attributes.") else field)

    def selected(record, clause):
        if "match_all" in clause:
            return True
        if "bool" in clause:  # a negated saved filter
            return not any(selected(record, c) for c in clause["bool"]["must_not"])
        ((kind, spec),) = clause.items()
        assert kind in ("match", "match_phrase", "term"), f"cannot evaluate {clause}"
        ((field, value),) = spec.items()
        return str(value_of(record, field)) == str(value)

    return [r for r in records if all(selected(r, c) for c in query["bool"]["filter"])]


@pytest.fixture(scope="module")
def desktop_delivered(delivered, opensearch, published, testbed, tmp_path_factory):
    """The Desktop app's session sent through the real collector after the CLI's; yields its
    records (attribute keys as indexed). Its events are deleted again afterwards."""
    del delivered
    tmp = tmp_path_factory.mktemp("otelcol-desktop")
    otlp_port, health_port = procs.free_port(), procs.free_port()
    cfg = tmp / "otelcol.yaml"
    cfg.write_text(collector_config(published, opensearch, otlp_port, health_port))
    log = tmp / "otelcol.log"
    records = []
    only_desktop = {"term": {APP_FIELD: desktop.SERVICE_NAME}}
    with procs.process([testbed["OTELCOL_BIN"], "--config", str(cfg)], log, f"http://127.0.0.1:{health_port}/"):
        for signal, payload in desktop.session_payloads():
            if signal != "logs":
                continue
            for resource, _rec, attrs in otlp.log_records(payload):
                assert resource["service.name"] == desktop.SERVICE_NAME
                records.append(
                    {
                        **{f"resource.{k}": v for k, v in resource.items()},
                        **{k.replace(".", "_"): v for k, v in attrs.items()},
                    }
                )
            assert otlp.post(f"http://127.0.0.1:{otlp_port}", signal, payload) == 200
        procs.wait_for(
            lambda: count(opensearch, EVENTS, only_desktop) >= len(records),
            timeout=90,
            interval=1,
            what="the Desktop app's events indexed",
        )
        time.sleep(1)
    assert count(opensearch, EVENTS, only_desktop) == len(records)
    yield {"records": records, "log": log.read_text()}
    procs.http_json(
        f"{opensearch}/{EVENTS}/_delete_by_query?refresh=true&conflicts=proceed", "POST", {"query": only_desktop}
    )


def test_dashboards_tell_the_apps_apart():
    objects = {(o["type"], o["id"]): o for o in saved_objects()}
    control = json.loads(objects[("visualization", "claude-code-app-control")]["attributes"]["visState"])
    assert control["type"] == "input_control_vis"
    (ctl,) = control["params"]["controls"]
    assert ctl["fieldName"] == APP_FIELD and ctl["type"] == "list" and ctl["options"]["multiselect"] is True
    refs = objects[("visualization", "claude-code-app-control")]["references"]
    assert {"name": ctl["indexPatternRefName"], "type": "index-pattern", "id": "claude-code"} in refs
    split_by_app = {
        oid
        for oid, _q, _m, vis in visualization_queries()
        if any(a["type"] == "terms" and a["params"]["field"] == APP_FIELD for a in vis["aggs"])
    }
    assert split_by_app == {"claude-code-cost-by-app", "claude-code-activity-by-app", "claude-code-latency-by-app"}
    for did in ("claude-code-cost-usage", "claude-code-activity", "claude-code-performance"):
        used = {r["id"] for r in objects[("dashboard", did)]["references"]}
        assert "claude-code-app-control" in used, did
        assert used & split_by_app, did
    # No saved query or filter names one app: every view counts both unless the control narrows it.
    # The one app filter leaves verify.yml's session out.
    verify_out = {"bool": {"must_not": [{"match_phrase": {APP_FIELD: "claude-code-verify"}}]}}
    for _oid, query, _m, _vis in visualization_queries():
        assert verify_out in query["bool"]["filter"]
        assert "service" not in json.dumps([c for c in query["bool"]["filter"] if c != verify_out])


def test_saved_queries_count_both_apps(desktop_delivered, opensearch):
    records = desktop_delivered["records"]
    assert not [line for line in desktop_delivered["log"].splitlines() if re.search(r"\t(error|warn)\t", line)]
    (session_id,) = {r["session_id"] for r in records}
    # The CLI's own copy of the same session (tool-session, sent by `delivered`): the Desktop's twin.
    cli_twin = [{"term": {APP_FIELD: desktop.CLI_SERVICE_NAME}}, {"term": {"attributes.session_id": session_id}}]
    apps_seen = set()
    for oid, query, metrics, _vis in visualization_queries():
        want = _records_matching(records, query)
        only_desktop = evaluate(opensearch, query, metrics, [app_filter([desktop.SERVICE_NAME])])
        only_cli = evaluate(opensearch, query, metrics, [app_filter([desktop.CLI_SERVICE_NAME])])
        both = evaluate(opensearch, query, metrics, [app_filter(APPS)])
        unfiltered = evaluate(opensearch, query, metrics)
        # The Desktop app's events are counted, exactly as sent...
        assert only_desktop["docs"] == len(want), oid
        for agg_id, spec in metrics.items():
            ((kind, body),) = spec.items()
            if kind == "sum":
                key = body["field"].removeprefix("attributes.")
                sent = math.fsum(float(r[key]) for r in want if key in r)
                assert abs(only_desktop[agg_id] - sent) <= 1e-9, (oid, agg_id, only_desktop[agg_id], sent)
        # ...and the same as the CLI's identical session (sum, average, distinct count, percentiles).
        twin = evaluate(opensearch, query, metrics, cli_twin)
        assert _close(only_desktop, twin), (oid, only_desktop, twin)
        # No app chosen is both apps; choosing both is the same.
        assert unfiltered["docs"] == both["docs"] == only_cli["docs"] + only_desktop["docs"], oid
        for agg_id, spec in metrics.items():
            if "sum" in spec:
                assert abs(unfiltered[agg_id] - (only_cli[agg_id] + only_desktop[agg_id])) <= 1e-9, (oid, agg_id)
        if only_desktop["docs"]:
            apps_seen.add(oid)
    # Every event kind the Desktop session holds shows up in the views that show it.
    assert {"claude-code-total-cost", "claude-code-sessions", "claude-code-tool-decisions"} <= apps_seen
    assert {"claude-code-cost-by-app", "claude-code-activity-by-app", "claude-code-latency-by-app"} <= apps_seen


def test_app_views_and_control_list_both_apps(desktop_delivered, opensearch):
    records = desktop_delivered["records"]
    # The control lists the field's values over all time (useTimeFilter false).
    listed = search(opensearch, EVENTS, {"size": 0, "aggs": {"apps": {"terms": {"field": APP_FIELD, "size": 5}}}})
    assert {b["key"] for b in listed["aggregations"]["apps"]["buckets"]} == set(APPS)
    # The "by app" tables, as their terms split computes them.
    for oid, query, metrics, _vis in visualization_queries():
        if not oid.endswith("-by-app"):
            continue
        body = {
            "size": 0,
            "query": query,
            "aggs": {"app": {"terms": {"field": APP_FIELD, "size": 5}, "aggs": metrics}},
        }
        buckets = {b["key"]: b for b in search(opensearch, EVENTS, body)["aggregations"]["app"]["buckets"]}
        assert set(buckets) == set(APPS), oid
        assert buckets[desktop.SERVICE_NAME]["doc_count"] == len(_records_matching(records, query)), oid
        if oid == "claude-code-cost-by-app":
            sent = math.fsum(float(r["cost_usd"]) for r in records if r["event_name"] == "api_request")
            assert abs(buckets[desktop.SERVICE_NAME]["1"]["value"] - sent) <= 1e-9
        if oid == "claude-code-activity-by-app":
            assert buckets[desktop.SERVICE_NAME]["1"]["value"] == 1


# -- the git repository -----------------------------------------------------------------------

REPOSITORY_SESSION = "repository-session"
REPOSITORY = "https://github.com/acme/widgets"
VCS_FIELDS = ("vcs_repository_url_full", "vcs_owner_name", "vcs_repository_name", "vcs_provider_name")


@pytest.fixture(scope="module")
def repository_delivered(delivered, opensearch, published, testbed, tmp_path_factory):
    """The captured session with OTEL_METRICS_INCLUDE_REPOSITORY=true (its events carry the vcs.*
    attributes) sent through the real collector; yields its records (attribute keys as indexed).
    Its events are deleted again afterwards, so the other tests' counts hold."""
    del delivered
    tmp = tmp_path_factory.mktemp("otelcol-repository")
    otlp_port, health_port = procs.free_port(), procs.free_port()
    cfg = tmp / "otelcol.yaml"
    cfg.write_text(collector_config(published, opensearch, otlp_port, health_port))
    log = tmp / "otelcol.log"
    records = []
    with procs.process([testbed["OTELCOL_BIN"], "--config", str(cfg)], log, f"http://127.0.0.1:{health_port}/"):
        for signal, payload in otlp.session_payloads(REPOSITORY_SESSION):
            if signal != "logs":
                continue
            for _res, _rec, attrs in otlp.log_records(payload):
                records.append({k.replace(".", "_"): v for k, v in attrs.items()})
            assert otlp.post(f"http://127.0.0.1:{otlp_port}", signal, payload) == 200
        (session_id,) = {r["session_id"] for r in records}
        this_session = {"term": {"attributes.session_id": session_id}}
        procs.wait_for(
            lambda: count(opensearch, EVENTS, this_session) >= len(records),
            timeout=90,
            interval=1,
            what="the repository session's events indexed",
        )
        time.sleep(1)
    assert count(opensearch, EVENTS, this_session) == len(records)
    yield {"records": records, "log": log.read_text()}
    procs.http_json(
        f"{opensearch}/{EVENTS}/_delete_by_query?refresh=true&conflicts=proceed", "POST", {"query": this_session}
    )


def test_repository_fields_are_keywords(repository_delivered, opensearch):
    records = repository_delivered["records"]
    assert not [line for line in repository_delivered["log"].splitlines() if re.search(r"\t(error|warn)\t", line)]
    # The capture carries the repository on user_prompt, api_request and assistant_response.
    tagged = [r for r in records if r.get("vcs_repository_url_full") == REPOSITORY]
    assert {"user_prompt", "api_request", "assistant_response"} <= {r["event_name"] for r in tagged}
    fields = ",".join(f"attributes.{f}" for f in VCS_FIELDS)
    caps = procs.http_json(f"{opensearch}/{EVENTS}/_field_caps?" + urllib.parse.urlencode({"fields": fields}))
    for field in VCS_FIELDS:
        assert set(caps["fields"][f"attributes.{field}"]) == {"keyword"}, field
        assert caps["fields"][f"attributes.{field}"]["keyword"]["aggregatable"] is True, field
    # The explicit mapping, not the dynamic template's (which would add ignore_above: 1024).
    ((_index, body),) = procs.http_json(f"{opensearch}/{EVENTS}/_mapping").items()
    attrs = body["mappings"]["properties"]["attributes"]["properties"]
    for field in VCS_FIELDS:
        assert attrs[field] == {"type": "keyword"}, (field, attrs[field])
    hits = search(opensearch, EVENTS, {"size": 0, "query": {"term": {"attributes.vcs_owner_name": "acme"}}})
    assert hits["hits"]["total"]["value"] == len(tagged)


def test_cost_by_repository_visualization(repository_delivered, opensearch):
    records = repository_delivered["records"]
    objects = {(o["type"], o["id"]): o for o in saved_objects()}
    # On the Cost & Usage dashboard, next to "Cost by user", through a panel reference.
    dashboard = objects[("dashboard", "claude-code-cost-usage")]
    refs = {r["name"]: r["id"] for r in dashboard["references"]}
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    on_dashboard = {refs[p["panelRefName"]] for p in panels}
    assert {"claude-code-cost-by-user", "claude-code-cost-by-repository"} <= on_dashboard
    assert len({p["panelIndex"] for p in panels}) == len(panels) == len(refs)

    ((query, metrics, vis),) = [
        (q, m, v) for oid, q, m, v in visualization_queries() if oid == "claude-code-cost-by-repository"
    ]
    assert vis["type"] == "table" and metrics == {"1": {"sum": {"field": "attributes.cost_usd"}}}
    (split,) = [a for a in vis["aggs"] if a["schema"] == "bucket"]
    assert split["type"] == "terms" and split["params"]["field"] == "attributes.vcs_repository_url_full"
    # The table as its terms split computes it, on the real OpenSearch.
    terms = {"field": split["params"]["field"], "size": split["params"]["size"]}
    terms["order"] = {split["params"]["orderBy"]: split["params"]["order"]}
    body = {"size": 0, "query": query, "aggs": {"repo": {"terms": terms, "aggs": metrics}}}
    buckets = {b["key"]: b for b in search(opensearch, EVENTS, body)["aggregations"]["repo"]["buckets"]}
    assert set(buckets) == {REPOSITORY}
    requests = [r for r in records if r["event_name"] == "api_request"]
    assert requests and all(r["vcs_repository_url_full"] == REPOSITORY for r in requests)
    sent = math.fsum(float(r["cost_usd"]) for r in requests)
    assert buckets[REPOSITORY]["doc_count"] == len(requests)
    assert abs(buckets[REPOSITORY]["1"]["value"] - sent) <= 1e-9, (buckets[REPOSITORY], sent)
