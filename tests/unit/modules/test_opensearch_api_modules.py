"""What each opensearch_* module does beyond the shared lifecycle: updates, guards, secrets."""

from __future__ import annotations

import pytest
from helpers.module_runner import FakeServer, run

pytestmark = pytest.mark.unit

CONN = {"user": "admin", "password": "pw-Secret-4711", "retries": 0}


# ---------------------------------------------------------------------------------------- templates
def test_component_template_update_replaces_it_and_returns_the_stored_one():
    old = {
        "component_templates": [
            {"name": "m", "component_template": {"template": {"settings": {"index": {"number_of_replicas": "1"}}}}}
        ]
    }
    new = {
        "component_templates": [
            {"name": "m", "component_template": {"template": {"settings": {"index": {"number_of_replicas": "0"}}}}}
        ]
    }
    server = (
        FakeServer()
        .on("GET", "_component_template/m", old, new)
        .on("PUT", "_component_template/m", {"acknowledged": True})
    )
    args = {"name": "m", "template": {"settings": {"index.number_of_replicas": 0}}}
    res = run("opensearch_component_template", {**CONN, **args}, server, diff=True)
    assert res["changed"] is True
    assert [c.body for c in server.writes] == [{"template": {"settings": {"index.number_of_replicas": 0}}}]
    assert res["component_template"]["template"]["settings"]["index"]["number_of_replicas"] == "0"
    assert '"index.number_of_replicas": "1"' in res["diff"]["before"]


def test_index_template_data_stream_default_timestamp_is_no_change():
    stored = {
        "index_templates": [
            {
                "name": "t",
                "index_template": {
                    "index_patterns": ["claude-code*"],
                    "composed_of": [],
                    "data_stream": {"timestamp_field": {"name": "@timestamp"}},
                },
            }
        ]
    }
    server = FakeServer().on("GET", "_index_template/t", stored)
    res = run(
        "opensearch_index_template",
        {**CONN, "name": "t", "index_patterns": ["claude-code*"], "data_stream": {}},
        server,
    )
    assert res["changed"] is False and server.writes == []


def test_missing_plugin_is_named():
    server = FakeServer().on(
        "GET",
        "_plugins/_ism/policies/p",
        (400, {"error": "no handler found for uri [/_plugins/_ism/policies/p] and method [GET]"}),
    )
    res = run("opensearch_ism_policy", {**CONN, "policy_id": "p", "policy": {"states": []}}, server)
    assert res["failed"] is True and "install the opensearch-index-management (ISM) plugin" in res["msg"]


# ---------------------------------------------------------------------------------------- ISM policy
POLICY = {"description": "d", "default_state": "hot", "states": [{"name": "hot", "actions": [], "transitions": []}]}
FOUND = {"_id": "p", "_seq_no": 5, "_primary_term": 2, "policy": dict(POLICY, policy_id="p", schema_version=21)}


def test_ism_no_change_returns_seq_no_and_primary_term():
    server = FakeServer().on("GET", "_plugins/_ism/policies/p", FOUND)
    res = run("opensearch_ism_policy", {**CONN, "policy_id": "p", "policy": POLICY}, server)
    assert res["changed"] is False and (res["seq_no"], res["primary_term"]) == (5, 2)


def test_ism_update_is_conditional_on_the_version_read():
    server = FakeServer().on("GET", "_plugins/_ism/policies/p", FOUND)
    server.on(
        "PUT", "_plugins/_ism/policies/p", {"_id": "p", "_seq_no": 6, "_primary_term": 2, "policy": {"policy": POLICY}}
    )
    changed = dict(POLICY, description="new")
    res = run("opensearch_ism_policy", {**CONN, "policy_id": "p", "policy": changed}, server)
    assert res["changed"] is True and res["seq_no"] == 6 and res["policy"] == POLICY
    (put,) = server.writes
    assert put.query == {"if_seq_no": "5", "if_primary_term": "2"} and put.body == {"policy": changed}


def test_ism_conflict_says_someone_else_changed_it():
    server = FakeServer().on("GET", "_plugins/_ism/policies/p", FOUND)
    server.on(
        "PUT",
        "_plugins/_ism/policies/p",
        (409, {"error": {"type": "version_conflict_engine_exception", "reason": "conflict"}}),
    )
    res = run("opensearch_ism_policy", {**CONN, "policy_id": "p", "policy": dict(POLICY, description="new")}, server)
    assert res["failed"] is True and "changed by someone else" in res["msg"] and "if_seq_no=5" in res["msg"]


# ---------------------------------------------------------------------------------------- SQL data source
DS = {
    "name": "prom",
    "connector": "PROMETHEUS",
    "description": "",
    "allowedRoles": [],
    "properties": {"prometheus.uri": "http://prometheus:9090"},
    "status": "ACTIVE",
}


def test_datasource_connector_cannot_change():
    server = FakeServer().on("GET", "_plugins/_query/_datasources/prom", DS)
    res = run("opensearch_datasource", {**CONN, "name": "prom", "connector": "s3glue"}, server)
    assert res["failed"] is True and server.writes == [] and "cannot be changed" in res["msg"]


def test_datasource_always_pushes_secrets_given_as_properties_too():
    secret = "Prom-Reader-Pw-1"
    server = FakeServer().on("GET", "_plugins/_query/_datasources/prom", DS)
    server.on("PUT", "_plugins/_query/_datasources", {"acknowledged": True})
    args = {
        "name": "prom",
        "properties": {"prometheus.uri": "http://prometheus:9090", "prometheus.auth.password": secret},
        "update_secret_properties": "always",
    }
    res = run("opensearch_datasource", {**CONN, **args}, server, diff=True)
    assert res["changed"] is True and res["secrets_sent"] is True
    (put,) = server.writes
    assert put.body["properties"]["prometheus.auth.password"] == secret
    assert secret not in res["_raw"]

    res = run("opensearch_datasource", {**CONN, **args, "update_secret_properties": "on_create"}, server)
    assert res["changed"] is False and res["secrets_sent"] is False


# ---------------------------------------------------------------------------------------- index
STORED_INDEX = {
    "ix": {
        "aliases": {},
        "mappings": {"properties": {"cost_usd": {"type": "double"}}},
        "settings": {"index": {"number_of_shards": "1", "refresh_interval": "5s", "uuid": "u"}},
    }
}


def index_server():
    server = FakeServer().on("GET", "ix", STORED_INDEX)
    for method, path in (("PUT", "ix/_settings"), ("PUT", "ix/_mapping"), ("POST", "_aliases")):
        server.on(method, path, {"acknowledged": True})
    return server


def test_index_changes_in_place_what_can_change():
    server = index_server()
    args = {
        "name": "ix",
        "settings": {"refresh_interval": "1s"},
        "mappings": {"properties": {"machine.name": {"type": "keyword"}}},
        "aliases": {"ix-write": {"is_write_index": True}},
    }
    res = run("opensearch_index", {**CONN, **args}, server, diff=True)
    assert res["changed"] is True
    assert res["changes"] == {
        "settings": {"index.refresh_interval": "1s"},
        "mappings": ["properties.machine"],
        "aliases": ["ix-write"],
    }
    assert [(c.method, c.path) for c in server.writes] == [
        ("PUT", "ix/_settings"),
        ("PUT", "ix/_mapping"),
        ("POST", "_aliases"),
    ]
    assert server.writes[2].body == {"actions": [{"add": {"index": "ix", "alias": "ix-write", "is_write_index": True}}]}
    assert len(server.reads) == 2, "the index is read back"

    server.reset()
    res = run("opensearch_index", {**CONN, **args}, server, check=True)
    assert res["changed"] is True and server.writes == [] and res["changes"]["aliases"] == ["ix-write"]


def test_index_static_setting_fails_before_any_write():
    server = index_server()
    res = run(
        "opensearch_index",
        {**CONN, "name": "ix", "settings": {"number_of_shards": 3, "refresh_interval": "1s"}},
        server,
    )
    assert res["failed"] is True and server.writes == []
    assert res["cannot_change"] == ["setting index.number_of_shards: 1 -> 3"]


def test_index_unchanged_reports_no_changes():
    res = run(
        "opensearch_index", {**CONN, "name": "ix", "settings": {"index": {"refresh_interval": "5s"}}}, index_server()
    )
    assert res["changed"] is False and res["changes"] == {} and res["index"] == STORED_INDEX["ix"]


def test_index_name_that_is_an_alias_is_refused():
    server = FakeServer().on("GET", "ix", {"ix-000001": STORED_INDEX["ix"]})
    res = run("opensearch_index", {**CONN, "name": "ix"}, server)
    assert res["failed"] is True and "is an alias or pattern" in res["msg"]
