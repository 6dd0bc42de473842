"""The audit view, in both flavours: the Grafana dashboard claude-code-audit (Loki) and the OpenSearch
Dashboards saved objects of the dashboard claude-code-audit.

Both show the events Claude Code's monitoring documentation names for auditing ("Audit security
events": tool_decision, permission_mode_changed, hook_execution_complete, auth,
mcp_server_connection, plugin_installed, managed_settings_resolved) plus plugin_loaded,
skill_activated, api_error and api_refusal. The captured sessions hold tool_decision,
managed_settings_resolved, plugin_loaded and api_error; the others are checked against the
documentation (tests/helpers/documented_events.py). The queries are evaluated on the captured records
as Loki and OpenSearch would select them (no Loki or OpenSearch Dashboards can be obtained here);
tests/unit/test_grafana_dashboards_logql.py parses every LogQL query and
tests/integration/test_opensearch_flavour.py checks the saved objects against the real OpenSearch.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import documented_events, otlp
from helpers import grafana_selectors as gs

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "roles" / "grafana" / "files" / "dashboards"
BOOTSTRAP = ROOT / "roles" / "opensearch_bootstrap" / "files"
NDJSON = BOOTSTRAP / "dashboards" / "claude-code.ndjson"
LOKI_UID = "claude-code-loki"
AUDIT_EVENTS = {
    "tool_decision",
    "permission_mode_changed",
    "managed_settings_resolved",
    "hook_execution_complete",
    "mcp_server_connection",
    "plugin_installed",
    "plugin_loaded",
    "skill_activated",
    "auth",
    "api_error",
    "api_refusal",
}
SESSIONS = ("tool-session", "error-session", "repository-session")
_STAGE = re.compile(r'\|\s*(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def loki_name(attribute: str) -> str:
    return attribute.replace(".", "_")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    """Every captured event as Loki holds it (tests/helpers/otlp.py)."""
    out = otlp.loki_records(SESSIONS)
    assert out
    return out


# -- Grafana ----------------------------------------------------------------------------------


def dashboard(name: str) -> dict:
    return json.loads((DASHBOARDS / name).read_text())


AUDIT = dashboard("claude-code-audit.json")
EVENTS = dashboard("claude-code-events.json")


def panel(title: str) -> dict:
    (found,) = [p for p in AUDIT["panels"] if p["title"] == title]
    return found


def audit_targets() -> list[tuple[dict, dict]]:
    return [(p, t) for p in AUDIT["panels"] for t in p.get("targets", [])]


def pipeline_filters(expr: str) -> list[str]:
    """The label filters of each log pipeline of a query, as selector text for grafana_selectors
    (a pipeline is what follows one stream selector; unwrap's __error__ filter left out)."""
    out = []
    for part in re.split(r'\{(?=\s*service_name=~"\$service")', expr)[1:]:
        stages = [m for m in _STAGE.findall(part.split("[")[0]) if m[0] != "__error__"]
        out.append(", ".join(f'{name}{op}"{raw}"' for name, op, raw in stages))
    return out


def selected(expr: str, records: list[dict], values: dict) -> list[list[dict]]:
    """The captured records each pipeline of a query selects. A label filter compares a field the
    record lacks as the empty value, as Loki's label filters do."""
    return [[r for r in records if gs.selects(sel, r, values)] for sel in pipeline_filters(expr)]


def test_audit_dashboard_is_like_the_events_dashboard():
    assert AUDIT["uid"] == "claude-code-audit"
    assert AUDIT["tags"] == EVENTS["tags"] and AUDIT["links"] == EVENTS["links"]
    variables = gs.template_variables(AUDIT)
    assert list(variables) == ["service", "user", "machine"]
    events_variables = gs.template_variables(EVENTS)
    for name in variables:
        assert variables[name] == events_variables[name], name
    for p, t in audit_targets():
        assert (t.get("datasource") or p["datasource"])["uid"] == LOKI_UID, p["title"]
    ids = [p["id"] for p in AUDIT["panels"]]
    assert len(set(ids)) == len(ids)
    titles = [p["title"] for p in AUDIT["panels"]]
    assert len(set(titles)) == len(titles)


def test_audit_dashboard_shows_the_audit_events_and_only_documented_or_captured_ones(records):
    queried = set()
    for _p, t in audit_targets():
        queried |= set(re.findall(r'event_name="(\w+)"', t["expr"]))
        for alternatives in re.findall(r'event_name=~"([\w|]+)"', t["expr"]):
            assert set(alternatives.split("|")) == AUDIT_EVENTS, t["expr"]
    assert queried == AUDIT_EVENTS
    captured = {r["event_name"] for r in records}
    assert {"tool_decision", "managed_settings_resolved", "plugin_loaded", "api_error"} <= captured
    for event in AUDIT_EVENTS - captured:
        assert event in documented_events.EVENTS, event


def test_rejections_come_first_in_grafana(records):
    stats = [p for p in AUDIT["panels"] if p["type"] == "stat"]
    first = min(stats, key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"]))
    assert first["title"] == "Rejected tool calls"
    tables = [p for p in AUDIT["panels"] if p["type"] == "table"]
    first_table = min(tables, key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"]))
    assert first_table["title"] == "Rejected tool calls by tool, source and user"
    for p in (first, first_table):
        (target,) = p["targets"]
        assert '| event_name="tool_decision"' in target["expr"] and '| decision="reject"' in target["expr"]
    by_source = first_table["targets"][0]["expr"]
    assert re.match(r"sum by \(tool_name, source, user_id, machine_name\)", by_source)

    decisions = panel("Tool decisions by decision and source")
    (target,) = decisions["targets"]
    assert target["expr"].startswith("sum by (decision, source) (")
    assert decisions["options"]["sortBy"][0] == {"displayName": "decision", "desc": True}
    # Sorted by decision, descending: reject before accept, with the documented values and the captured one.
    values = set(documented_events.DECISIONS) | {r["decision"] for r in records if r["event_name"] == "tool_decision"}
    assert sorted(values, reverse=True)[0] == "reject"
    assert panel("MCP server connections")["options"]["sortBy"][0] == {"displayName": "status", "desc": True}
    assert sorted(documented_events.MCP_STATUSES, reverse=True)[0] == "failed"


def test_audit_queries_select_the_captured_events(records):
    values = gs.all_values(AUDIT)

    def only(title: str) -> list[dict]:
        (target,) = panel(title)["targets"]
        (chosen,) = selected(target["expr"], records, values)
        return chosen

    decisions = [r for r in records if r["event_name"] == "tool_decision"]
    assert decisions and {r["decision"] for r in decisions} == {"accept"}
    assert only("Accepted tool calls") == decisions
    assert not only("Rejected tool calls")
    assert only("Tool decisions by decision and source") == decisions
    assert only("Managed settings resolved") == [r for r in records if r["event_name"] == "managed_settings_resolved"]
    loaded = only("Plugins loaded")
    assert loaded and {r["plugin_name"] for r in loaded} == {
        "cc-plugin-agents-md",
        "cc-plugin-privacy",
        "cc-plugin-plugin-authoring",
    }
    assert only("API errors by status code and model") == [r for r in records if r["event_name"] == "api_error"]
    # The raw table and the per-user table hold every audit event of the captures and nothing else.
    audit_records = [r for r in records if r["event_name"] in AUDIT_EVENTS]
    assert only("Audit events") == audit_records == only("Audit events by user and machine")
    assert {r["event_name"] for r in records} - AUDIT_EVENTS >= {"user_prompt", "api_request", "tool_result"}
    # One user chosen: that user's events only.
    one = sorted({r["user_id"] for r in audit_records})[0]
    chosen = {**values, "user": gs.regex_escape(one)}
    (target,) = panel("Audit events")["targets"]
    (picked,) = selected(target["expr"], records, chosen)
    assert picked == [r for r in audit_records if r["user_id"] == one] != audit_records


def test_raw_event_table_is_a_log_query_with_one_column_per_field():
    raw = panel("Audit events")
    assert raw["type"] == "table"
    (target,) = raw["targets"]
    assert target["range"] is True and target["instant"] is False
    assert target["expr"].startswith('{service_name=~"$service", machine_name=~"$machine"} | user_id=~"$user"')
    assert "[" not in target["expr"], "a log query, not a metric query"
    steps = [t["id"] for t in raw["transformations"]]
    assert steps == ["extractFields", "organize"]
    assert raw["transformations"][0]["options"]["source"] == "labels"
    order = raw["transformations"][1]["options"]["indexByName"]
    assert [k for k, _v in sorted(order.items(), key=lambda kv: kv[1])][:5] == [
        "Time",
        "event_name",
        "user_id",
        "user_email",
        "machine_name",
    ]
    assert raw["options"]["sortBy"] == [{"displayName": "Time", "desc": True}]


def test_per_user_table_groups_by_user_id_email_and_machine():
    (target,) = panel("Audit events by user and machine")["targets"]
    assert target["expr"].startswith("sum by (user_id, user_email, machine_name, event_name) (")


def test_the_grafana_role_leaves_the_audit_dashboard_out_without_loki():
    text = (ROOT / "roles" / "grafana" / "vars" / "main.yml").read_text()
    (pattern,) = re.findall(r"else '([^']+)'", text)
    assert re.search(pattern, "/x/files/dashboards/claude-code-audit.json")
    assert re.search(pattern, "/x/files/dashboards/claude-code-events.json")
    assert not re.search(pattern, "/x/files/dashboards/claude-code-overview.json")


# -- OpenSearch Dashboards --------------------------------------------------------------------


def ndjson_lines() -> list[dict]:
    return [json.loads(line) for line in NDJSON.read_text().splitlines() if line.strip()]


def saved_objects() -> list[dict]:
    return [o for o in ndjson_lines() if "type" in o]


OBJECTS = {(o["type"], o["id"]): o for o in saved_objects()}
AUDIT_DASHBOARD = OBJECTS[("dashboard", "claude-code-audit")]


def mapped_fields() -> dict[str, str]:
    """Field path -> type of the events index mapping (the component templates of its index template),
    multi-fields included."""
    template = json.loads((BOOTSTRAP / "index_template_claude-code.json").read_text())
    fields = {}

    def walk(props: dict, prefix: str):
        for name, spec in props.items():
            path = prefix + name
            if "properties" in spec:
                walk(spec["properties"], path + ".")
                continue
            fields[path] = spec["type"]
            for sub, sub_spec in spec.get("fields", {}).items():
                fields[f"{path}.{sub}"] = sub_spec["type"]

    for component in template["composed_of"]:
        body = json.loads((BOOTSTRAP / f"component_{component}.json").read_text())
        walk(body["template"]["mappings"]["properties"], "")
    return fields


FIELDS = mapped_fields()


def source_of(obj: dict) -> dict:
    return json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])


def kql_fields(kql: str) -> list[str]:
    return re.findall(r"([\w.@]+)\s*:", kql)


def used_fields(obj: dict) -> list[tuple[str, str]]:
    """(field, how) of every field a visualization or saved search uses."""
    out = []
    source = source_of(obj)
    out += [(f, "query") for f in kql_fields(source["query"]["query"])]
    for saved_filter in source.get("filter", []):
        ((kind, spec),) = saved_filter["query"].items()
        out += [(f, "filter") for f in spec]
        assert saved_filter["meta"]["key"] in spec, kind
    if obj["type"] == "visualization":
        vis = json.loads(obj["attributes"]["visState"])
        out += [(a["params"]["field"], a["type"]) for a in vis["aggs"] if "field" in a.get("params", {})]
        out += [(c["fieldName"], "terms") for c in vis.get("params", {}).get("controls", [])]
    if obj["type"] == "search":
        out += [(f, "column") for f in obj["attributes"]["columns"]]
        out += [(f, "sort") for f, _direction in obj["attributes"]["sort"]]
    return out


def audit_objects() -> list[dict]:
    ids = {r["id"] for r in AUDIT_DASHBOARD["references"]}
    return [o for o in saved_objects() if o["id"] in ids and o["type"] in ("visualization", "search")]


def test_ndjson_references_resolve_and_the_count_is_right():
    lines = ndjson_lines()
    summary = lines[-1]
    assert "type" not in summary and summary["exportedCount"] == len(lines) - 1 == len(OBJECTS)
    assert summary["missingRefCount"] == 0
    for obj in saved_objects():
        names = [r["name"] for r in obj["references"]]
        assert len(set(names)) == len(names), obj["id"]
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in OBJECTS, (obj["id"], ref)
        if obj["type"] == "dashboard":
            panels = json.loads(obj["attributes"]["panelsJSON"])
            assert sorted(p["panelRefName"] for p in panels) == sorted(names), obj["id"]
            assert len({p["panelIndex"] for p in panels}) == len(panels), obj["id"]
        if "kibanaSavedObjectMeta" not in obj["attributes"]:
            continue
        source = source_of(obj)
        wanted = {source.get("indexRefName")} | {f["meta"].get("indexRefName") for f in source.get("filter", [])}
        assert wanted - {None} <= set(names), obj["id"]


def test_every_saved_object_field_is_mapped_and_aggregations_use_aggregatable_ones():
    used = [
        (o["id"], f, how)
        for o in saved_objects()
        if o["type"] in ("visualization", "search")
        for f, how in used_fields(o)
    ]
    assert len(used) > 60
    missing = [(oid, f) for oid, f, _how in used if f not in FIELDS]
    assert not missing, missing
    text_aggregated = [
        (oid, f) for oid, f, how in used if how not in ("query", "filter", "column") and FIELDS[f] == "text"
    ]
    assert not text_aggregated, text_aggregated
    summed = [(oid, f, FIELDS[f]) for oid, f, how in used if how in ("sum", "avg", "percentiles")]
    assert summed and all(t in ("long", "double") for _oid, _f, t in summed), summed


def test_audit_fields_have_the_documented_kind():
    """Each attribute the audit objects use is mapped as its documented kind: a number as long, true or
    false as boolean, text values as keyword (error: text with a keyword sub-field). An attribute two
    events document differently (status_code: a number on api_error, a string on auth) may be either."""
    kinds = {}
    for attributes in [documented_events.STANDARD_ATTRIBUTES, *documented_events.EVENTS.values()]:
        for name, kind in attributes.items():
            kinds.setdefault(loki_name(name), set()).add(kind)
    wanted = {"number": {"long", "double"}, "boolean": {"boolean"}, "string": {"keyword"}}
    checked = set()
    for obj in audit_objects():
        for field, how in used_fields(obj):
            name = field.removeprefix("attributes.").removesuffix(".keyword")
            if not field.startswith("attributes.") or name not in kinds or how == "column":
                continue
            allowed = {"keyword"} if field.endswith(".keyword") else set().union(*(wanted[k] for k in kinds[name]))
            assert FIELDS[field] in allowed, (obj["id"], field, FIELDS[field], kinds[name])
            checked.add(name)
    assert {
        "decision",
        "source",
        "from_mode",
        "to_mode",
        "num_blocking",
        "status",
        "is_plugin",
        "skill_name",
    } <= checked


def test_saved_queries_are_what_the_integration_harness_can_evaluate():
    """Every visualization's query is empty or one field:value and every saved filter one phrase, term
    or match (tests/integration/test_opensearch_flavour.py evaluates them so); none names an app."""
    for obj in saved_objects():
        if obj["type"] != "visualization":
            continue
        source = source_of(obj)
        kql = source["query"]["query"]
        assert not kql.strip() or re.fullmatch(r"\s*([\w.@]+)\s*:\s*([\w.-]+)\s*", kql), (obj["id"], kql)
        for saved_filter in source.get("filter", []):
            ((kind, spec),) = saved_filter["query"].items()
            assert kind in ("match", "match_phrase", "term") and len(spec) == 1, obj["id"]
            # The one app filter leaves verify.yml's session out (tests/unit/test_verify_marker.py).
            if saved_filter["meta"]["negate"]:
                assert spec == {"resource.service.name": "claude-code-verify"}, obj["id"]
            else:
                assert "service" not in json.dumps(saved_filter["query"]), obj["id"]


def test_osd_audit_dashboard_holds_every_audit_object_and_the_app_control():
    refs = AUDIT_DASHBOARD["references"]
    assert AUDIT_DASHBOARD["attributes"]["title"] == "Claude Code: Audit"
    on_dashboard = {(r["type"], r["id"]) for r in refs}
    assert ("visualization", "claude-code-app-control") in on_dashboard
    assert ("search", "claude-code-audit-events") in on_dashboard
    made_for_it = {(o["type"], o["id"]) for o in saved_objects() if o["id"].startswith("claude-code-audit-")}
    assert made_for_it <= on_dashboard and len(made_for_it) >= 15
    # The same events as the Grafana dashboard.
    shown = set()
    for obj in audit_objects():
        shown |= set(re.findall(r"attributes\.event_name:(\w+)", source_of(obj)["query"]["query"]))
    search = OBJECTS[("search", "claude-code-audit-events")]
    (alternatives,) = re.findall(r"attributes\.event_name:\(([^)]*)\)", source_of(search)["query"]["query"])
    assert set(alternatives.split(" or ")) == AUDIT_EVENTS == shown
    assert search["attributes"]["sort"] == [["@timestamp", "desc"]]
    assert search["attributes"]["columns"][:4] == [
        "attributes.event_name",
        "attributes.user_id",
        "attributes.user_email",
        "resource.machine.name",
    ]
    by_user = json.loads(OBJECTS[("visualization", "claude-code-audit-by-user")]["attributes"]["visState"])
    split = [a["params"]["field"] for a in by_user["aggs"] if a["type"] == "terms"]
    assert split[:3] == ["attributes.user_id", "attributes.user_email", "resource.machine.name"]
    # Without a Claude account there is no user.email: such events still get a row.
    (email,) = [a for a in by_user["aggs"] if a["params"].get("field") == "attributes.user_email"]
    assert email["params"]["missingBucket"] is True


def test_rejections_come_first_in_opensearch_dashboards(records):
    panels = json.loads(AUDIT_DASHBOARD["attributes"]["panelsJSON"])
    refs = {r["name"]: r["id"] for r in AUDIT_DASHBOARD["references"]}
    order = [refs[p["panelRefName"]] for p in sorted(panels, key=lambda p: (p["gridData"]["y"], p["gridData"]["x"]))]
    assert order[:3] == ["claude-code-app-control", "claude-code-audit-rejections", "claude-code-audit-decisions"]

    rejections = OBJECTS[("visualization", "claude-code-audit-rejections")]
    source = source_of(rejections)
    assert source["query"]["query"] == "attributes.event_name:tool_decision"
    (saved_filter,) = [f for f in source["filter"] if not f["meta"]["negate"]]
    assert saved_filter["query"] == {"match_phrase": {"attributes.decision": "reject"}}
    assert saved_filter["meta"]["negate"] is False and saved_filter["meta"]["disabled"] is False

    decisions = json.loads(OBJECTS[("visualization", "claude-code-audit-decisions")]["attributes"]["visState"])
    first_split = [a for a in decisions["aggs"] if a["type"] == "terms"][0]
    assert first_split["params"]["field"] == "attributes.decision"
    assert (first_split["params"]["orderBy"], first_split["params"]["order"]) == ("_key", "desc")
    assert [a["params"]["field"] for a in decisions["aggs"] if a["type"] == "terms"][1] == "attributes.source"
    values = set(documented_events.DECISIONS) | {r["decision"] for r in records if r["event_name"] == "tool_decision"}
    assert sorted(values, reverse=True)[0] == "reject"
    mcp = json.loads(OBJECTS[("visualization", "claude-code-audit-mcp")]["attributes"]["visState"])
    status = [a for a in mcp["aggs"] if a["type"] == "terms"][0]["params"]
    assert (status["field"], status["orderBy"], status["order"]) == ("attributes.status", "_key", "desc")


def test_osd_audit_queries_select_the_captured_events(records):
    """Each audit visualization's query and saved filters, evaluated on the captured records as the
    collector indexes them (attributes under their names with dots turned into underscores)."""

    def picks(obj: dict) -> list[dict]:
        source = source_of(obj)
        clauses = []
        kql = source["query"]["query"]
        if kql.strip():
            field, value = (s.strip() for s in kql.split(":", 1))
            clauses.append((field, value, False))
        for saved_filter in source.get("filter", []):
            ((_kind, spec),) = saved_filter["query"].items()
            clauses += [(f, v, saved_filter["meta"]["negate"]) for f, v in spec.items()]
        return [
            r
            for r in records
            if all((r.get(f.removeprefix("attributes."), "") == v) != negate for f, v, negate in clauses)
        ]

    by_id = {o["id"]: o for o in audit_objects()}
    decisions = [r for r in records if r["event_name"] == "tool_decision"]
    assert picks(by_id["claude-code-audit-decisions"]) == decisions
    assert not picks(by_id["claude-code-audit-rejections"])
    assert len(picks(by_id["claude-code-audit-plugins-loaded"])) == 9
    assert picks(by_id["claude-code-audit-managed-settings"]) == [
        r for r in records if r["event_name"] == "managed_settings_resolved"
    ]
    assert picks(by_id["claude-code-audit-by-user"]) == records
