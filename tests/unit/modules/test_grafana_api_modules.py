"""What each grafana_* module does beyond the shared lifecycle: updates, guards, secrets, hints."""

from __future__ import annotations

import pytest
from helpers.module_runner import FakeServer, run

pytestmark = pytest.mark.unit

CONN = {"user": "admin", "password": "pw-Secret-4711", "retries": 0}
FOLDER = {"id": 1, "uid": "claude-code", "title": "Claude Code", "parentUid": "", "version": 4}


# ---------------------------------------------------------------------------------------- folder
def test_folder_rename_sends_the_version_read():
    server = FakeServer().on("GET", "api/folders/claude-code", FOLDER)
    server.on("PUT", "api/folders/claude-code", dict(FOLDER, title="Claude Code usage", version=5))
    res = run("grafana_folder", {**CONN, "uid": "claude-code", "title": "Claude Code usage"}, server, diff=True)
    assert res["changed"] is True and res["folder"]["version"] == 5
    assert [c.body for c in server.writes] == [{"title": "Claude Code usage", "version": 4, "overwrite": False}]
    assert '"title": "Claude Code"' in res["diff"]["before"] and "Claude Code usage" in res["diff"]["after"]


def test_folder_unset_parent_is_not_managed_but_a_new_one_moves():
    server = FakeServer().on("GET", "api/folders/claude-code", dict(FOLDER, parentUid="old"))
    res = run("grafana_folder", {**CONN, "uid": "claude-code", "title": "Claude Code"}, server)
    assert res["changed"] is False and server.writes == []

    server.reset()
    server.on("POST", "api/folders/claude-code/move", dict(FOLDER, parentUid="ops"))
    res = run("grafana_folder", {**CONN, "uid": "claude-code", "title": "Claude Code", "parent_uid": "ops"}, server)
    assert res["changed"] is True and res["folder"]["parentUid"] == "ops"
    assert [(c.method, c.path, c.body) for c in server.writes] == [
        ("POST", "api/folders/claude-code/move", {"parentUid": "ops"})
    ]


def test_folder_failed_move_after_rename_says_what_was_applied():
    server = FakeServer().on("GET", "api/folders/claude-code", FOLDER)
    server.on("PUT", "api/folders/claude-code", dict(FOLDER, title="New"))
    server.on("POST", "api/folders/claude-code/move", (404, {"message": "parent folder not found"}))
    res = run("grafana_folder", {**CONN, "uid": "claude-code", "title": "New", "parent_uid": "nope"}, server)
    assert res["failed"] is True and res["changed"] is True
    assert res["msg"].startswith("Could not move folder claude-code: ")
    assert "already applied before this failure: folder claude-code renamed" in res["msg"]


# ---------------------------------------------------------------------------------------- datasource
DS = {
    "id": 3,
    "uid": "claude-code-loki",
    "name": "Loki",
    "type": "loki",
    "url": "http://loki:3100",
    "access": "proxy",
    "isDefault": False,
    "basicAuth": True,
    "basicAuthUser": "grafana",
    "jsonData": {},
    "secureJsonFields": {"basicAuthPassword": True},
    "version": 2,
    "readOnly": False,
}
DS_ARGS = {
    "name": "Loki",
    "uid": "claude-code-loki",
    "type": "loki",
    "datasource_url": "http://loki:3100",
    "basic_auth": True,
    "basic_auth_user": "grafana",
    "secure_json_data": {"basicAuthPassword": "loki-Reader-9"},
}


def ds_server(stored=None):
    stored = DS if stored is None else stored
    server = FakeServer().on("GET", "api/datasources/uid/claude-code-loki", stored)
    server.on("PUT", "api/datasources/uid/claude-code-loki", {"datasource": dict(stored, version=3)})
    return server


def test_datasource_set_secret_is_no_change_unless_always():
    server = ds_server()
    res = run("grafana_datasource", {**CONN, **DS_ARGS}, server)
    assert res["changed"] is False and res["secrets_sent"] is False and server.writes == []

    res = run("grafana_datasource", {**CONN, **DS_ARGS, "update_secure_json_data": "always"}, server, diff=True)
    assert res["changed"] is True and res["secrets_sent"] is True
    (put,) = server.writes
    assert put.body["secureJsonData"] == {"basicAuthPassword": "loki-Reader-9"}
    assert put.body["version"] == 2 and put.body["uid"] == "claude-code-loki"
    assert "loki-Reader-9" not in res["_raw"]
    assert res["diff"]["before"] == res["diff"]["after"], "a pushed secret shows no difference"


def test_datasource_missing_secret_field_is_a_change():
    server = ds_server(dict(DS, secureJsonFields={}))
    res = run("grafana_datasource", {**CONN, **DS_ARGS}, server, check=True, diff=True)
    assert res["changed"] is True and server.writes == []
    assert "basicAuthPassword" in res["diff"]["after"] and "loki-Reader-9" not in res["_raw"]


def test_datasource_read_only_fails_before_any_write():
    server = ds_server(dict(DS, readOnly=True, basicAuthUser="other"))
    res = run("grafana_datasource", {**CONN, **DS_ARGS}, server)
    assert res["failed"] is True and server.writes == [] and res["secrets_sent"] is False
    assert "read-only in Grafana" in res["msg"]


def test_datasource_name_taken_under_another_uid_fails():
    server = FakeServer().on("GET", "api/datasources/uid/claude-code-loki", (404, {"message": "not found"}))
    server.on("GET", "api/datasources/name/Loki", dict(DS, uid="other-uid"))
    res = run("grafana_datasource", {**CONN, **DS_ARGS}, server)
    assert res["failed"] is True and server.writes == []
    assert "already exists with uid other-uid" in res["msg"]


def test_datasource_absent_by_name_deletes_by_stored_uid():
    server = FakeServer().on("GET", "api/datasources/name/Loki", DS)
    server.on("DELETE", "api/datasources/uid/claude-code-loki", {"message": "Data source deleted"})
    res = run("grafana_datasource", {**CONN, "name": "Loki", "state": "absent"}, server)
    assert res["changed"] is True and res["secrets_sent"] is False
    assert [(c.method, c.path) for c in server.writes] == [("DELETE", "api/datasources/uid/claude-code-loki")]


# ---------------------------------------------------------------------------------------- dashboard
STORED_DASH = {
    "dashboard": {"uid": "cc", "title": "Claude Code", "panels": [], "id": 12, "version": 7, "iteration": 99},
    "meta": {"folderUid": "claude-code", "url": "/d/cc/claude-code"},
}


def test_dashboard_update_sends_id_and_version_and_keeps_the_folder():
    server = FakeServer().on("GET", "api/dashboards/uid/cc", STORED_DASH)
    server.on("POST", "api/dashboards/db", {"uid": "cc", "url": "/d/cc/claude-code", "version": 8})
    args = {"dashboard": {"uid": "cc", "title": "Claude Code", "panels": [], "tags": ["cost"]}}
    res = run("grafana_dashboard", {**CONN, **args, "overwrite": False}, server)
    assert res["changed"] is True and res["version"] == 8 and res["folder_uid"] == "claude-code"
    (save,) = server.writes
    assert save.body["dashboard"]["id"] == 12 and save.body["dashboard"]["version"] == 7
    assert "iteration" not in save.body["dashboard"]
    assert save.body["folderUid"] == "claude-code" and save.body["overwrite"] is False
    assert len(server.reads) == 2, "the saved dashboard is read back"


def test_dashboard_unchanged_returns_the_stored_one():
    server = FakeServer().on("GET", "api/dashboards/uid/cc", STORED_DASH)
    res = run("grafana_dashboard", {**CONN, "dashboard": {"uid": "cc", "title": "Claude Code", "panels": []}}, server)
    assert res["changed"] is False and len(server.calls) == 1
    assert res["url"] == "/d/cc/claude-code" and res["folder_uid"] == "claude-code" and res["uid"] == "cc"


def test_dashboard_version_mismatch_names_the_cause():
    server = FakeServer().on("GET", "api/dashboards/uid/cc", STORED_DASH)
    server.on(
        "POST",
        "api/dashboards/db",
        (412, {"message": "The dashboard has been changed by someone else", "status": "version-mismatch"}),
    )
    args = {"dashboard": {"uid": "cc", "title": "Claude Code v2"}, "overwrite": False}
    res = run("grafana_dashboard", {**CONN, **args}, server)
    assert res["failed"] is True and res["changed"] is False
    assert res["msg"].startswith("Could not update dashboard cc: ")
    assert "(version-mismatch)" in res["msg"] and "Someone else saved the dashboard" in res["msg"]


def test_dashboard_without_uid_fails_before_any_request():
    res = run("grafana_dashboard", {**CONN, "dashboard": {"title": "x"}}, FakeServer())
    assert res["failed"] is True and "has no uid" in res["msg"]


# ---------------------------------------------------------------------------------------- alert rule group
RULE = {"title": "Cost", "condition": "B", "for": "5m", "data": [{"refId": "B", "datasourceUid": "__expr__"}]}
GROUP_PATH = "api/v1/provisioning/folder/claude-code/rule-groups/cost"


def test_rule_group_keeps_the_uid_of_a_rule_with_the_same_title():
    stored = {"title": "cost", "interval": 60, "rules": [dict(RULE, uid="kept-uid", labels={"a": "b"})]}
    server = FakeServer().on("GET", GROUP_PATH, stored).on("PUT", GROUP_PATH, stored)
    res = run(
        "grafana_alert_rule_group",
        {**CONN, "folder_uid": "claude-code", "name": "cost", "interval": 60, "rules": [RULE]},
        server,
    )
    assert res["changed"] is True
    (put,) = server.writes
    assert put.body["rules"][0]["uid"] == "kept-uid"
    assert put.body["rules"][0]["folderUID"] == "claude-code" and put.body["rules"][0]["ruleGroup"] == "cost"
    assert put.headers["X-Disable-Provenance"] == "true"


def test_rule_group_provisioned_from_files_is_refused():
    stored = {"title": "cost", "interval": 60, "rules": [dict(RULE, uid="u", provenance="file")]}
    server = FakeServer().on("GET", GROUP_PATH, stored)
    res = run(
        "grafana_alert_rule_group",
        {**CONN, "folder_uid": "claude-code", "name": "cost", "interval": 60, "rules": [RULE]},
        server,
    )
    assert res["failed"] is True and server.writes == [] and "provisioned from files" in res["msg"]


def test_rule_group_bad_interval_fails_before_any_request():
    res = run(
        "grafana_alert_rule_group",
        {**CONN, "folder_uid": "claude-code", "name": "cost", "interval": "soon", "rules": [RULE]},
        FakeServer(),
    )
    assert res["failed"] is True and "interval must be" in res["msg"]
