"""The lifecycle every API module shares (ApiModule.ensure_absent / ensure_present), module by module:
create, no change, check mode, diff mode, absent, a failed call. In-process, against a fake server."""

from __future__ import annotations

import json

import pytest
from helpers.module_runner import FakeServer, run

pytestmark = pytest.mark.unit

USER, PASSWORD = "admin", "pw-Secret-4711"
SECRET = "sEcReT-of-the-data-source"
CONN = {"user": USER, "password": PASSWORD, "retries": 0}
MISSING_OS = (404, {"error": {"type": "resource_not_found_exception", "reason": "missing"}, "status": 404})
MISSING_GRAFANA = (404, {"message": "not found"})

RULE = {
    "uid": "cc-cost",
    "title": "Claude Code cost",
    "condition": "B",
    "for": "5m",
    "labels": {"severity": "warning"},
    "data": [
        {"refId": "A", "datasourceUid": "prom", "model": {"refId": "A", "expr": "sum(cost)"}},
        {"refId": "B", "datasourceUid": "__expr__", "model": {"refId": "B", "type": "threshold", "expression": "A"}},
    ],
}
STORED_RULE = {
    **RULE,
    "for": "300s",
    "noDataState": "NoData",
    "execErrState": "Error",
    "id": 7,
    "orgID": 1,
    "folderUID": "claude-code",
    "ruleGroup": "cost",
    "updated": "2025-01-01T00:00:00Z",
    "provenance": "",
    "isPaused": False,
    "keep_firing_for": "0s",
}
POLICY = {
    "description": "Delete after 30 days",
    "default_state": "hot",
    "states": [
        {
            "name": "hot",
            "actions": [],
            "transitions": [{"state_name": "delete", "conditions": {"min_index_age": "30d"}}],
        },
        {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
    ],
}
STORED_POLICY = {
    "policy_id": "retention",
    "last_updated_time": 1764000000000,
    "schema_version": 21,
    "error_notification": None,
    "ism_template": None,
    **POLICY,
    "states": [
        POLICY["states"][0],
        {
            "name": "delete",
            "actions": [{"retry": {"count": 3, "backoff": "exponential", "delay": "1m"}, "delete": {}}],
            "transitions": [],
        },
    ],
}
WORKSPACE = {"id": "ws1", "name": "Claude Code", "description": "Usage", "features": ["use-case-observability"]}
SAVED = {"type": "dashboard", "id": "cc-overview", "attributes": {"title": "Claude Code"}, "references": []}


def ok(result):
    return {"success": True, "result": result}


# Per module: the task, the calls it makes and what the server answers.
#   args / absent_args: the task for state=present / state=absent
#   read: the call that reads the object; missing / stored: its answers (stored matches args)
#   write: the call that creates the object, and its answer
#   reread: the call made after the write to return the server's object (None: the write answers it)
#   extra_create_reads: reads made only on creation (besides the read and the reread)
#   delete: the call state=absent makes when the object exists
#   key: the return key holding the object; action: how a failed create is named
CASES = {
    "grafana_folder": dict(
        args={"uid": "claude-code", "title": "Claude Code"},
        absent_args={"uid": "claude-code"},
        read=("GET", "api/folders/claude-code"),
        missing=MISSING_GRAFANA,
        stored={"id": 1, "uid": "claude-code", "title": "Claude Code", "version": 1},
        write=("POST", "api/folders", {"id": 1, "uid": "claude-code", "title": "Claude Code", "version": 1}),
        reread=None,
        delete=("DELETE", "api/folders/claude-code"),
        key="folder",
        action="create folder claude-code",
    ),
    "grafana_datasource": dict(
        args={
            "name": "Loki",
            "uid": "claude-code-loki",
            "type": "loki",
            "datasource_url": "http://loki:3100",
            "json_data": {"maxLines": 1000},
            "secure_json_data": {"basicAuthPassword": SECRET},
        },
        absent_args={"name": "Loki", "uid": "claude-code-loki"},
        read=("GET", "api/datasources/uid/claude-code-loki"),
        missing=MISSING_GRAFANA,
        stored={
            "id": 3,
            "uid": "claude-code-loki",
            "name": "Loki",
            "type": "loki",
            "url": "http://loki:3100",
            "access": "proxy",
            "isDefault": False,
            "basicAuth": False,
            "basicAuthUser": "",
            "jsonData": {"maxLines": 1000},
            "secureJsonFields": {"basicAuthPassword": True},
            "version": 1,
            "readOnly": False,
        },
        write=("POST", "api/datasources", {"datasource": {"uid": "claude-code-loki"}, "message": "Datasource added"}),
        reread=None,
        # Creating under a uid first makes sure no data source has the name under another uid.
        extra_create_reads=[("GET", "api/datasources/name/Loki", MISSING_GRAFANA)],
        delete=("DELETE", "api/datasources/uid/claude-code-loki"),
        key="datasource",
        action="create data source claude-code-loki",
    ),
    "grafana_dashboard": dict(
        args={"dashboard": {"uid": "cc", "title": "Claude Code", "panels": []}, "folder_uid": "claude-code"},
        absent_args={"uid": "cc"},
        read=("GET", "api/dashboards/uid/cc"),
        missing=MISSING_GRAFANA,
        stored={
            "dashboard": {"uid": "cc", "title": "Claude Code", "panels": [], "id": 12, "version": 1},
            "meta": {"folderUid": "claude-code", "url": "/d/cc/claude-code"},
        },
        write=("POST", "api/dashboards/db", {"uid": "cc", "url": "/d/cc/claude-code", "version": 1}),
        reread=("GET", "api/dashboards/uid/cc"),
        delete=("DELETE", "api/dashboards/uid/cc"),
        key="dashboard",
        action="create dashboard cc",
    ),
    "grafana_alert_rule_group": dict(
        args={"folder_uid": "claude-code", "name": "cost", "interval": "1m", "rules": [RULE]},
        absent_args={"folder_uid": "claude-code", "name": "cost"},
        read=("GET", "api/v1/provisioning/folder/claude-code/rule-groups/cost"),
        missing=MISSING_GRAFANA,
        stored={"title": "cost", "folderUid": "claude-code", "interval": 60, "rules": [STORED_RULE]},
        write=(
            "PUT",
            "api/v1/provisioning/folder/claude-code/rule-groups/cost",
            {"title": "cost", "folderUid": "claude-code", "interval": 60, "rules": [STORED_RULE]},
        ),
        reread=None,
        delete=("DELETE", "api/v1/provisioning/folder/claude-code/rule-groups/cost"),
        key="rule_group",
        action="create alert rule group cost in folder claude-code",
    ),
    "opensearch_component_template": dict(
        args={
            "name": "cc-mappings",
            "template": {
                "settings": {"number_of_replicas": 0},
                "mappings": {"properties": {"cost_usd": {"type": "double"}, "session.id": {"type": "keyword"}}},
            },
        },
        absent_args={"name": "cc-mappings"},
        read=("GET", "_component_template/cc-mappings"),
        missing=MISSING_OS,
        stored={
            "component_templates": [
                {
                    "name": "cc-mappings",
                    "component_template": {
                        "template": {
                            "settings": {"index": {"number_of_replicas": "0"}},
                            "mappings": {
                                "properties": {
                                    "cost_usd": {"type": "double"},
                                    "session": {"properties": {"id": {"type": "keyword"}}},
                                }
                            },
                        }
                    },
                }
            ]
        },
        write=("PUT", "_component_template/cc-mappings", {"acknowledged": True}),
        reread=("GET", "_component_template/cc-mappings"),
        delete=("DELETE", "_component_template/cc-mappings"),
        key="component_template",
        action="create component template cc-mappings",
    ),
    "opensearch_index_template": dict(
        args={"name": "cc", "index_patterns": ["claude-code*"], "composed_of": ["cc-mappings"], "priority": 200},
        absent_args={"name": "cc"},
        read=("GET", "_index_template/cc"),
        missing=MISSING_OS,
        stored={
            "index_templates": [
                {
                    "name": "cc",
                    "index_template": {
                        "index_patterns": ["claude-code*"],
                        "composed_of": ["cc-mappings"],
                        "priority": 200,
                    },
                }
            ]
        },
        write=("PUT", "_index_template/cc", {"acknowledged": True}),
        reread=("GET", "_index_template/cc"),
        delete=("DELETE", "_index_template/cc"),
        key="index_template",
        action="create index template cc",
    ),
    "opensearch_ism_policy": dict(
        args={"policy_id": "retention", "policy": POLICY},
        absent_args={"policy_id": "retention"},
        read=("GET", "_plugins/_ism/policies/retention"),
        missing=MISSING_OS,
        stored={"_id": "retention", "_seq_no": 5, "_primary_term": 1, "policy": STORED_POLICY},
        write=(
            "PUT",
            "_plugins/_ism/policies/retention",
            {"_id": "retention", "_seq_no": 0, "_primary_term": 1, "policy": {"policy": STORED_POLICY}},
        ),
        reread=None,
        delete=("DELETE", "_plugins/_ism/policies/retention"),
        key="policy",
        action="create ISM policy retention",
    ),
    "opensearch_datasource": dict(
        args={
            "name": "prom",
            "properties": {"prometheus.uri": "http://prometheus:9090", "prometheus.auth.type": "basicauth"},
            "secret_properties": {"prometheus.auth.username": "reader", "prometheus.auth.password": SECRET},
        },
        absent_args={"name": "prom"},
        read=("GET", "_plugins/_query/_datasources/prom"),
        missing=MISSING_OS,
        stored={
            "name": "prom",
            "connector": "PROMETHEUS",
            "description": "",
            "allowedRoles": [],
            "properties": {"prometheus.uri": "http://prometheus:9090", "prometheus.auth.type": "basicauth"},
            "status": "ACTIVE",
        },
        write=("POST", "_plugins/_query/_datasources", "Created DataSource with name prom"),
        reread=("GET", "_plugins/_query/_datasources/prom"),
        delete=("DELETE", "_plugins/_query/_datasources/prom"),
        key="datasource",
        action="create data source prom",
    ),
    "opensearch_index": dict(
        args={
            "name": "cc-000001",
            "settings": {"number_of_shards": 1, "index.refresh_interval": "5s"},
            "mappings": {"properties": {"cost_usd": {"type": "double"}}},
            "aliases": {"cc-write": {"is_write_index": True}},
        },
        absent_args={"name": "cc-000001"},
        read=("GET", "cc-000001"),
        missing=MISSING_OS,
        stored={
            "cc-000001": {
                "aliases": {"cc-write": {"is_write_index": True}},
                "mappings": {"properties": {"cost_usd": {"type": "double"}}},
                "settings": {
                    "index": {
                        "number_of_shards": "1",
                        "number_of_replicas": "1",
                        "refresh_interval": "5s",
                        "uuid": "aBcD",
                        "provided_name": "cc-000001",
                    }
                },
            }
        },
        write=("PUT", "cc-000001", {"acknowledged": True, "index": "cc-000001"}),
        reread=("GET", "cc-000001"),
        delete=("DELETE", "cc-000001"),
        key="index",
        action="create index cc-000001",
    ),
    "osd_workspace": dict(
        args={"name": "Claude Code", "description": "Usage", "features": ["use-case-observability"]},
        absent_args={"name": "Claude Code"},
        read=("POST", "api/workspaces/_list"),
        missing=ok({"workspaces": [], "total": 0}),
        stored=ok({"workspaces": [WORKSPACE], "total": 1}),
        write=("POST", "api/workspaces", ok({"id": "ws1"})),
        reread=("GET", "api/workspaces/ws1"),
        reread_answer=ok(WORKSPACE),
        delete=("DELETE", "api/workspaces/ws1", ok(True)),
        key="workspace",
        action="create workspace Claude Code",
    ),
    "osd_saved_objects": dict(
        args={"content": json.dumps(SAVED) + "\n"},
        absent_args={"objects": [{"type": "dashboard", "id": "cc-overview"}]},
        read=("POST", "api/saved_objects/_bulk_get"),
        missing={
            "saved_objects": [
                {"type": "dashboard", "id": "cc-overview", "error": {"statusCode": 404, "error": "Not Found"}}
            ]
        },
        stored={"saved_objects": [dict(SAVED, updated_at="2025-01-01T00:00:00Z", version="WzEsMV0=")]},
        write=(
            "POST",
            "api/saved_objects/_import",
            {"success": True, "successCount": 1, "successResults": [{"type": "dashboard", "id": "cc-overview"}]},
        ),
        reread=None,
        delete=("DELETE", "api/saved_objects/dashboard/cc-overview"),
        key="created",
        action="import 1 saved objects into the default space",
    ),
}
MODULES = sorted(CASES)


def server_without(case) -> FakeServer:
    """The object does not exist yet; every call of a creation is answered."""
    server = FakeServer()
    method, path = case["read"]
    after_write = case.get("reread_answer", case["stored"])
    if case["reread"] == case["read"]:
        server.on(method, path, case["missing"], after_write)
    else:
        server.on(method, path, case["missing"])
        if case["reread"]:
            server.on(*case["reread"], after_write)
    for extra in case.get("extra_create_reads", []):
        server.on(*extra)
    server.on(*case["write"])
    return server


def server_with(case) -> FakeServer:
    """The object exists as the task describes it."""
    server = FakeServer()
    server.on(*case["read"], case["stored"])
    delete = case["delete"]
    server.on(delete[0], delete[1], delete[2] if len(delete) > 2 else (200, {"acknowledged": True}))
    return server


def create_reads(case) -> int:
    return 1 + len(case.get("extra_create_reads", [])) + (1 if case["reread"] else 0)


def assert_clean(result, case) -> None:
    """Neither the password nor (where the task has it) the data source secret reaches the output."""
    secrets = [PASSWORD] + ([SECRET] if SECRET in json.dumps(case["args"]) else [])
    for secret in secrets:
        assert secret not in result["_raw"], result["_raw"]


@pytest.mark.parametrize("module", MODULES)
def test_create_reads_once_writes_once(module):
    case = CASES[module]
    server = server_without(case)
    res = run(module, {**CONN, **case["args"]}, server)
    assert res["changed"] is True and res["rc"] == 0, res
    assert [(c.method, c.path) for c in server.writes] == [case["write"][:2]]
    assert len(server.reads) == create_reads(case), server.calls
    assert (server.calls[0].method, server.calls[0].path) == case["read"]
    assert res.get(case["key"]), res
    assert "diff" not in res, "diff only in diff mode"
    assert_clean(res, case)


@pytest.mark.parametrize("module", MODULES)
def test_no_change_is_one_read_and_no_write(module):
    case = CASES[module]
    server = server_with(case)
    res = run(module, {**CONN, **case["args"]}, server, diff=True)
    assert res["changed"] is False and res["rc"] == 0, (res, server.calls)
    assert [(c.method, c.path) for c in server.calls] == [case["read"]]
    assert "diff" not in res
    assert case["key"] in res
    assert_clean(res, case)


@pytest.mark.parametrize("module", MODULES)
def test_check_mode_reports_the_creation_and_writes_nothing(module):
    case = CASES[module]
    server = server_without(case)
    res = run(module, {**CONN, **case["args"]}, server, check=True)
    assert res["changed"] is True and res["rc"] == 0, res
    assert server.writes == []
    assert len(server.reads) == create_reads(case) - (1 if case["reread"] else 0)
    assert "diff" not in res
    assert_clean(res, case)


@pytest.mark.parametrize("module", MODULES)
def test_diff_mode_shows_before_and_after(module):
    case = CASES[module]
    server = server_without(case)
    res = run(module, {**CONN, **case["args"]}, server, check=True, diff=True)
    diff = res["diff"]
    assert diff["before"] in ("", "{}\n") and diff["after"].strip() not in ("", "{}"), diff
    assert diff["before_header"].endswith("(current)") and diff["after_header"].endswith("(desired)")
    assert server.writes == []
    assert_clean(res, case)


@pytest.mark.parametrize("module", MODULES)
def test_absent_deletes_what_exists(module):
    case = CASES[module]
    server = server_with(case)
    res = run(module, {**CONN, **case["absent_args"], "state": "absent"}, server, diff=True)
    assert res["changed"] is True and res["rc"] == 0, res
    assert [(c.method, c.path) for c in server.calls] == [case["read"], case["delete"][:2]]
    assert res["diff"]["before"] not in ("", "{}\n") and res["diff"]["after"] in ("", "{}\n")
    assert_clean(res, case)


@pytest.mark.parametrize("module", MODULES)
def test_absent_in_check_mode_deletes_nothing(module):
    case = CASES[module]
    server = server_with(case)
    res = run(module, {**CONN, **case["absent_args"], "state": "absent"}, server, check=True)
    assert res["changed"] is True, res
    assert server.writes == []


@pytest.mark.parametrize("module", MODULES)
def test_absent_when_missing_is_one_read(module):
    case = CASES[module]
    server = server_without(case)
    res = run(module, {**CONN, **case["absent_args"], "state": "absent"}, server)
    assert res["changed"] is False and res["rc"] == 0, res
    assert [(c.method, c.path) for c in server.calls] == [case["read"]]


@pytest.mark.parametrize("module", MODULES)
def test_failed_write_names_the_action_and_no_secret(module):
    case = CASES[module]
    server = server_without(case)
    # The server echoes the credentials in its error; neither the message nor the result may.
    server.on(case["write"][0], case["write"][1], (500, {"message": "rejected %s:%s (%s)" % (USER, PASSWORD, SECRET)}))
    res = run(module, {**CONN, **case["args"]}, server)
    assert res["failed"] is True and res["rc"] == 1, res
    assert res["msg"].startswith("Could not %s: " % case["action"]), res["msg"]
    assert "HTTP 500" in res["msg"] and "rejected" in res["msg"]
    assert res["changed"] is False
    assert_clean(res, case)


@pytest.mark.parametrize("module", MODULES)
def test_failed_read_names_the_action(module):
    case = CASES[module]
    server = FakeServer().on(*case["read"], (403, {"message": "permission denied"}))
    res = run(module, {**CONN, **case["args"]}, server)
    assert res["failed"] is True and server.writes == [], res
    assert res["msg"].startswith("Could not "), res["msg"]
    assert "HTTP 403" in res["msg"] and "lack the permission" in res["msg"]
    assert_clean(res, case)
