"""The grafana_* modules, each main() run in this process as Ansible would run it, talking HTTP.

Grafana cannot be obtained here, so every test runs against the CONTRACT DOUBLE of
Grafana's HTTP API (tests/doubles/grafana_double.py), never a real Grafana; test ids
say "double". The double counts requests, so a test can prove that a second run made
one read and no write.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest
from doubles.grafana_double import GrafanaDouble
from helpers import module_runner, procs

pytestmark = pytest.mark.slow(seconds=85)  # the conftest starts the longest first

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "plugins" / "modules"
USER, PASSWORD = "admin", "Gr4fana-admin-pw"
TOKEN, VIEWER_TOKEN = "glsa_double_admin_token_0123456789", "glsa_double_viewer_token_0123456789"
DS_SECRET, DS_SECRET2 = "loki-reader-secret", "loki-reader-secret-rotated"
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "collections"), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}


def run(module: str, args: dict, tmp_path: Path, check: bool = False, diff: bool = True) -> dict:
    """Run one module's main() in this process, as Ansible would (its args, check and diff mode), against
    the server its url names; return its JSON result plus rc."""
    result = module_runner.run(module, args, module_runner.LIVE, check=check, diff=diff)
    return result


@pytest.fixture
def grafana():
    d = GrafanaDouble(USER, PASSWORD, tokens={TOKEN: "Admin", VIEWER_TOKEN: "Viewer"})
    d.url = d.start()
    yield d
    d.stop()


def conn(url: str, **extra) -> dict:
    return {"url": url, "user": USER, "password": PASSWORD, "retries": 1, **extra}


def assert_clean(result: dict) -> None:
    """No secret ever appears in a module result."""
    text = json.dumps(result)
    for secret in (PASSWORD, TOKEN, DS_SECRET, DS_SECRET2):
        assert secret not in text


def fetch(grafana: GrafanaDouble, path: str):
    auth = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
    try:
        return procs.http_json(f"{grafana.url}/{path}", headers=auth)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


# ----------------------------------------------------------------------------------------
# The shared lifecycle: create, idempotent rerun, update with diff, check mode, absent.
# ----------------------------------------------------------------------------------------
DASHBOARD = {
    "uid": "claude-code-overview",
    "title": "Claude Code overview",
    "tags": ["claude-code"],
    "schemaVersion": 39,
    "time": {"from": "now-24h", "to": "now"},
    "panels": [
        {
            "id": 1,
            "type": "stat",
            "title": "Cost (USD)",
            "gridPos": {"h": 4, "w": 6, "x": 0, "y": 0},
            "targets": [{"refId": "A", "expr": "sum(sum_over_time(claude_code_cost_usage_USD[$__range]))"}],
        }
    ],
}
RULE = {
    "title": "Claude Code daily cost above 20 USD",
    "condition": "B",
    "for": "300s",
    "labels": {"severity": "warning"},
    "annotations": {"summary": "Claude Code spend passed 20 USD"},
    "data": [
        {
            "refId": "A",
            "datasourceUid": "claude-code-prometheus",
            "relativeTimeRange": {"from": 86400, "to": 0},
            "model": {"refId": "A", "expr": "sum(sum_over_time(claude_code_cost_usage_USD[1d]))", "instant": True},
        },
        {
            "refId": "B",
            "datasourceUid": "__expr__",
            "model": {
                "refId": "B",
                "type": "threshold",
                "expression": "A",
                "conditions": [{"evaluator": {"type": "gt", "params": [20]}}],
            },
        },
    ],
}
RULE_UPDATE = {**RULE, "labels": {"severity": "critical"}}
DS_CREATE = {
    "name": "Loki",
    "uid": "claude-code-loki",
    "type": "loki",
    "datasource_url": "http://loki:3100",
    "basic_auth": True,
    "basic_auth_user": "grafana",
    "json_data": {"maxLines": 1000},
    "secure_json_data": {"basicAuthPassword": DS_SECRET},
}

LIFECYCLES = {
    "grafana_folder": (
        {"uid": "claude-code", "title": "Claude Code"},
        {"uid": "claude-code", "title": "Claude Code usage"},
        "Claude Code usage",
        "api/folders/claude-code",
        {"uid": "claude-code"},
    ),
    "grafana_datasource": (
        DS_CREATE,
        {**DS_CREATE, "json_data": {"maxLines": 5000}},
        '"maxLines": 5000',
        "api/datasources/uid/claude-code-loki",
        {"name": "Loki", "uid": "claude-code-loki"},
    ),
    "grafana_dashboard": (
        {"dashboard": DASHBOARD, "folder_uid": "claude-code"},
        {"dashboard": {**DASHBOARD, "tags": ["claude-code", "cost"]}, "folder_uid": "claude-code"},
        '"cost"',
        "api/dashboards/uid/claude-code-overview",
        {"uid": "claude-code-overview"},
    ),
    "grafana_alert_rule_group": (
        {"folder_uid": "claude-code", "name": "claude-code-cost", "interval": "1m", "rules": [RULE]},
        {"folder_uid": "claude-code", "name": "claude-code-cost", "interval": 60, "rules": [RULE_UPDATE]},
        '"critical"',
        "api/v1/provisioning/folder/claude-code/rule-groups/claude-code-cost",
        {"folder_uid": "claude-code", "name": "claude-code-cost"},
    ),
}
MODULE_IDS = [pytest.param(m, id=f"{m}-double") for m in LIFECYCLES]


def _stable(obj):
    """A deep copy of a stored object, to prove later that check mode changed nothing."""
    return json.loads(json.dumps(obj, sort_keys=True))


@pytest.mark.parametrize("module", MODULE_IDS)
def test_lifecycle(module, grafana, tmp_path):
    create, update, diff_marker, path, ident = LIFECYCLES[module]
    if module != "grafana_folder":
        grafana.seed_folder("claude-code", "Claude Code")
    base = conn(grafana.url)

    # check mode on a missing object: reports the creation, writes nothing
    grafana.reset_counts()
    res = run(module, {**base, **create}, tmp_path, check=True)
    assert res["changed"] is True and grafana.writes() == [], grafana.requests
    assert fetch(grafana, path) is None

    # create: one write
    grafana.reset_counts()
    res = run(module, {**base, **create}, tmp_path)
    assert res["changed"] is True, res
    assert len(grafana.writes()) == 1, grafana.writes()
    assert fetch(grafana, path) is not None
    assert_clean(res)

    # second run: exactly one read and no write
    grafana.reset_counts()
    res = run(module, {**base, **create}, tmp_path)
    assert res["changed"] is False, res
    assert [r[0] for r in grafana.requests] == ["GET"], grafana.requests
    assert "diff" not in res
    assert_clean(res)

    # check mode on an update: changed, a diff, nothing written, server unchanged
    stored = _stable(fetch(grafana, path))
    grafana.reset_counts()
    res = run(module, {**base, **update}, tmp_path, check=True)
    assert res["changed"] is True and grafana.writes() == []
    assert diff_marker in res["diff"]["after"] and diff_marker not in res["diff"]["before"], res["diff"]
    assert _stable(fetch(grafana, path)) == stored

    # update: one write, the diff shows the change, the server has it
    grafana.reset_counts()
    res = run(module, {**base, **update}, tmp_path)
    assert res["changed"] is True and len(grafana.writes()) == 1, grafana.writes()
    assert diff_marker in res["diff"]["after"] and diff_marker not in res["diff"]["before"]
    assert diff_marker in json.dumps(fetch(grafana, path))
    assert_clean(res)
    grafana.reset_counts()
    assert run(module, {**base, **update}, tmp_path)["changed"] is False
    assert grafana.writes() == []

    # absent (check mode first), then absent again: no write
    grafana.reset_counts()
    assert run(module, {**base, **ident, "state": "absent"}, tmp_path, check=True)["changed"] is True
    assert grafana.writes() == [] and fetch(grafana, path) is not None
    res = run(module, {**base, **ident, "state": "absent"}, tmp_path)
    assert res["changed"] is True and fetch(grafana, path) is None
    grafana.reset_counts()
    assert run(module, {**base, **ident, "state": "absent"}, tmp_path)["changed"] is False
    assert grafana.writes() == []


@pytest.mark.parametrize("module", MODULE_IDS)
def test_token_auth(module, grafana, tmp_path):
    """A service account token works as well as basic auth, and never shows up in the result."""
    create = LIFECYCLES[module][0]
    if module != "grafana_folder":
        grafana.seed_folder("claude-code", "Claude Code")
    args = {"url": grafana.url, "token": TOKEN, "retries": 1, **create}
    res = run(module, args, tmp_path)
    assert res["changed"] is True, res
    assert grafana.request_headers[-1]["authorization"] == "Bearer " + TOKEN
    assert_clean(res)
    assert run(module, args, tmp_path)["changed"] is False


@pytest.mark.parametrize("module", MODULE_IDS)
def test_wrong_credentials(module, grafana, tmp_path):
    create = LIFECYCLES[module][0]
    bad_password = {**conn(grafana.url), "password": "wrong-" + PASSWORD}
    bad_token = {"url": grafana.url, "token": "glsa_wrong-" + TOKEN, "retries": 1}
    for bad in (bad_password, bad_token):
        grafana.reset_counts()
        res = run(module, {**create, **bad}, tmp_path)
        assert res["failed"] and res["rc"] == 1
        assert "HTTP 401" in res["msg"] and "check the user/password or token" in res["msg"], res["msg"]
        assert "GET " in res["msg"] and grafana.url in res["msg"]
        assert "Invalid" in res["msg"], "Grafana's own reason is kept"
        assert "wrong-" not in json.dumps(res)
        assert_clean(res)
        assert grafana.writes() == []
        assert len(grafana.requests) == 1, "a 401 is an answer, not a reason to retry"


@pytest.mark.parametrize("module", MODULE_IDS)
def test_read_only_token_gets_a_clear_403(module, grafana, tmp_path):
    create = LIFECYCLES[module][0]
    if module != "grafana_folder":
        grafana.seed_folder("claude-code", "Claude Code")
    res = run(module, {"url": grafana.url, "token": VIEWER_TOKEN, "retries": 1, **create}, tmp_path)
    assert res["failed"] and "HTTP 403" in res["msg"] and "lack the permission" in res["msg"], res["msg"]
    assert VIEWER_TOKEN not in json.dumps(res)


@pytest.mark.parametrize("module", MODULE_IDS)
def test_unreachable_url(module, tmp_path):
    port = procs.free_port()
    create = LIFECYCLES[module][0]
    res = run(module, {**conn(f"http://127.0.0.1:{port}"), **create}, tmp_path)
    assert res["failed"]
    assert f"http://127.0.0.1:{port}/" in res["msg"]
    assert "Connection refused" in res["msg"] and "check the url option" in res["msg"], res["msg"]
    assert_clean(res)


# ----------------------------------------------------------------------------------------
# grafana_folder
# ----------------------------------------------------------------------------------------
def test_folder_nested_and_moved_double(grafana, tmp_path):
    base = conn(grafana.url)
    run("grafana_folder", {**base, "uid": "team", "title": "Team"}, tmp_path)
    run("grafana_folder", {**base, "uid": "other", "title": "Other"}, tmp_path)
    res = run("grafana_folder", {**base, "uid": "alerts", "title": "Alerts", "parent_uid": "team"}, tmp_path)
    assert res["changed"] and res["folder"]["parentUid"] == "team"
    assert [p["uid"] for p in res["folder"]["parents"]] == ["team"]

    # parent unset: not managed, so no change
    grafana.reset_counts()
    assert run("grafana_folder", {**base, "uid": "alerts", "title": "Alerts"}, tmp_path)["changed"] is False
    assert grafana.writes() == []

    # move, with a diff naming both parents
    grafana.reset_counts()
    res = run("grafana_folder", {**base, "uid": "alerts", "title": "Alerts", "parent_uid": "other"}, tmp_path)
    assert res["changed"] and [w[0] for w in grafana.writes()] == ["POST"]
    assert grafana.writes()[0][1] == "/api/folders/alerts/move"
    assert '"parentUid": "team"' in res["diff"]["before"] and '"parentUid": "other"' in res["diff"]["after"]
    assert grafana.folders["alerts"]["parentUid"] == "other"

    # "" moves it to the root
    res = run("grafana_folder", {**base, "uid": "alerts", "title": "Alerts", "parent_uid": ""}, tmp_path)
    assert res["changed"] and "parentUid" not in res["folder"]

    # a missing parent is Grafana's 404, reported with its words
    res = run("grafana_folder", {**base, "uid": "orphan", "title": "Orphan", "parent_uid": "nowhere"}, tmp_path)
    assert res["failed"] and "HTTP 404" in res["msg"] and "parent folder not found" in res["msg"]
    assert "orphan" not in grafana.folders


def test_folder_rename_sends_version_and_reports_a_concurrent_edit_double(grafana, tmp_path):
    base = conn(grafana.url, uid="f1")
    run("grafana_folder", {**base, "title": "One"}, tmp_path)

    def other_writer(d, method, path):
        if method == "GET" and path == "/api/folders/f1":
            d.folders["f1"]["version"] += 1
            d.hooks.clear()

    grafana.hooks.append(other_writer)
    res = run("grafana_folder", {**base, "title": "Two"}, tmp_path)
    assert res["failed"] and "HTTP 412" in res["msg"] and "changed by someone else" in res["msg"], res["msg"]
    assert grafana.folders["f1"]["title"] == "One"
    assert run("grafana_folder", {**base, "title": "Two"}, tmp_path)["changed"] is True
    assert grafana.folders["f1"]["title"] == "Two"


def test_folder_invalid_uid_double(grafana, tmp_path):
    res = run("grafana_folder", {**conn(grafana.url), "uid": "x" * 41, "title": "Too long"}, tmp_path)
    assert res["failed"] and "HTTP 400" in res["msg"] and "uid too long" in res["msg"]
    grafana.reset_counts()
    res = run("grafana_folder", {**conn(grafana.url), "uid": "no-title"}, tmp_path)
    assert res["failed"] and "title" in res["msg"] and grafana.requests == []


# ----------------------------------------------------------------------------------------
# grafana_datasource
# ----------------------------------------------------------------------------------------
def test_datasource_secrets_are_write_only_double(grafana, tmp_path):
    args = {**conn(grafana.url), **DS_CREATE}
    res = run("grafana_datasource", args, tmp_path)
    assert res["changed"] and res["secrets_sent"] is True
    assert grafana.raw_datasource("claude-code-loki")["secureJsonData"] == {"basicAuthPassword": DS_SECRET}
    assert res["datasource"]["secureJsonFields"] == {"basicAuthPassword": True}
    assert "secureJsonData" not in res["datasource"]
    assert_clean(res)

    # a changed secret cannot be seen: on_create leaves it alone ...
    grafana.reset_counts()
    rotated = {**args, "secure_json_data": {"basicAuthPassword": DS_SECRET2}}
    res = run("grafana_datasource", rotated, tmp_path)
    assert res["changed"] is False and grafana.writes() == [] and res["secrets_sent"] is False
    # ... always pushes it on every run
    res = run("grafana_datasource", {**rotated, "update_secure_json_data": "always"}, tmp_path)
    assert res["changed"] and res["secrets_sent"]
    assert grafana.raw_datasource("claude-code-loki")["secureJsonData"] == {"basicAuthPassword": DS_SECRET2}
    assert_clean(res)

    # a secret field that is not set in Grafana yet is a visible change; the others are kept
    grafana.reset_counts()
    more = {**args, "secure_json_data": {"httpHeaderValue1": DS_SECRET}, "json_data": {"maxLines": 1000}}
    res = run("grafana_datasource", more, tmp_path, check=True)
    assert res["changed"] and grafana.writes() == []
    assert "httpHeaderValue1" in res["diff"]["after"] and "httpHeaderValue1" not in res["diff"]["before"]
    res = run("grafana_datasource", more, tmp_path)
    assert res["changed"]
    assert grafana.raw_datasource("claude-code-loki")["secureJsonData"] == {
        "basicAuthPassword": DS_SECRET2,
        "httpHeaderValue1": DS_SECRET,
    }
    assert_clean(res)
    assert run("grafana_datasource", more, tmp_path)["changed"] is False


def test_datasource_by_name_rename_and_default_double(grafana, tmp_path):
    base = conn(grafana.url)
    prom = {"name": "Prometheus", "type": "prometheus", "datasource_url": "http://prometheus:9090"}
    res = run("grafana_datasource", {**base, **prom, "is_default": True}, tmp_path)
    assert res["changed"] and res["datasource"]["uid"]
    generated = res["datasource"]["uid"]
    # found by name when no uid is given: one read, no write
    grafana.reset_counts()
    assert run("grafana_datasource", {**base, **prom, "is_default": True}, tmp_path)["changed"] is False
    assert grafana.requests == [("GET", "/api/datasources/name/Prometheus")]

    # a second default takes the flag from the first (Grafana keeps one default)
    run("grafana_datasource", {**base, **DS_CREATE, "is_default": True}, tmp_path)
    assert grafana.datasources[generated]["isDefault"] is False
    assert run("grafana_datasource", {**base, **prom, "is_default": True}, tmp_path)["changed"] is True

    # by uid, a new name is a rename of the same data source
    res = run("grafana_datasource", {**base, **DS_CREATE, "name": "Loki (Claude Code)"}, tmp_path)
    assert res["changed"] and grafana.datasources["claude-code-loki"]["name"] == "Loki (Claude Code)"
    assert '"name": "Loki"' in res["diff"]["before"]

    # the uid is free but the name is taken: a clear failure, nothing changed
    grafana.reset_counts()
    res = run("grafana_datasource", {**base, **prom, "uid": "claude-code-prometheus"}, tmp_path)
    assert res["failed"] and f"already exists with uid {generated}" in res["msg"], res["msg"]
    assert grafana.writes() == [] and "claude-code-prometheus" not in grafana.datasources


def test_datasource_name_clash_is_grafanas_409_double(grafana, tmp_path):
    """Renaming onto another data source's name: Grafana's 409 reaches the user verbatim."""
    base = conn(grafana.url)
    run("grafana_datasource", {**base, "name": "A", "uid": "a", "type": "loki"}, tmp_path)
    run("grafana_datasource", {**base, "name": "B", "uid": "b", "type": "loki"}, tmp_path)
    res = run("grafana_datasource", {**base, "name": "A", "uid": "b", "type": "loki"}, tmp_path)
    assert res["failed"] and "HTTP 409" in res["msg"]
    assert "data source with the same name already exists" in res["msg"]
    assert grafana.datasources["b"]["name"] == "B"


def test_datasource_read_only_is_refused_before_writing_double(grafana, tmp_path):
    base = conn(grafana.url)
    run("grafana_datasource", {**base, "name": "Prov", "uid": "prov", "type": "loki"}, tmp_path)
    grafana.datasources["prov"]["readOnly"] = True
    grafana.reset_counts()
    res = run("grafana_datasource", {**base, "name": "Prov", "uid": "prov", "type": "tempo"}, tmp_path)
    assert res["failed"] and "read-only" in res["msg"] and grafana.writes() == []


# ----------------------------------------------------------------------------------------
# grafana_dashboard
# ----------------------------------------------------------------------------------------
def test_dashboard_from_file_ignores_what_grafana_adds_double(grafana, tmp_path):
    grafana.seed_folder("claude-code", "Claude Code")
    base = conn(grafana.url, folder_uid="claude-code")
    src = tmp_path / "overview.json"
    src.write_text(json.dumps(DASHBOARD, indent=2))
    res = run("grafana_dashboard", {**base, "src": str(src)}, tmp_path)
    assert res["changed"] and res["version"] == 1 and res["url"] == "/d/claude-code-overview/claude-code-overview"
    assert res["dashboard"]["id"] and res["folder_uid"] == "claude-code"

    # an export (dashboard + meta, with id/version/iteration of another instance) is the same dashboard
    export = fetch(grafana, "api/dashboards/uid/claude-code-overview")
    first_id = export["dashboard"]["id"]
    export["dashboard"].update(id=999, version=41, iteration=1700000000000)
    src.write_text(json.dumps(export))
    grafana.reset_counts()
    res = run("grafana_dashboard", {**base, "src": str(src)}, tmp_path)
    assert res["changed"] is False and grafana.writes() == [], res
    assert len(grafana.requests) == 1

    # every save bumps Grafana's version; the id stays
    res = run("grafana_dashboard", {**base, "dashboard": {**DASHBOARD, "refresh": "1m"}}, tmp_path)
    assert res["changed"] and res["version"] == 2 and res["dashboard"]["id"] == first_id != 999
    assert grafana.dashboards["claude-code-overview"]["message"].startswith("Saved by Ansible")


def test_dashboard_invalid_json_file_double(grafana, tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{\n  "uid": "x",\n  "title": "Broken"\n  "panels": []\n}\n')
    res = run("grafana_dashboard", {**conn(grafana.url), "src": str(bad)}, tmp_path)
    assert res["failed"] and res["rc"] == 1
    assert f"Dashboard file {bad} is not valid JSON at line 4, column 3" in res["msg"], res["msg"]
    assert "Expecting ',' delimiter" in res["msg"] and "Nothing was changed" in res["msg"]
    assert res["error"] == {"file": str(bad), "line": 4, "column": 3}
    assert grafana.requests == [], "an unreadable dashboard is refused before any call"

    not_object = tmp_path / "list.json"
    not_object.write_text("[1, 2]")
    res = run("grafana_dashboard", {**conn(grafana.url), "src": str(not_object)}, tmp_path)
    assert res["failed"] and "must hold a JSON object" in res["msg"] and "not list" in res["msg"]

    res = run("grafana_dashboard", {**conn(grafana.url), "src": str(tmp_path / "missing.json")}, tmp_path)
    assert res["failed"] and "cannot be read" in res["msg"] and "No such file" in res["msg"]
    assert grafana.requests == []


def test_dashboard_missing_uid_or_title_double(grafana, tmp_path):
    res = run("grafana_dashboard", {**conn(grafana.url), "dashboard": {"title": "No uid"}}, tmp_path)
    assert res["failed"] and "has no uid" in res["msg"] and "uid option" in res["msg"]
    res = run("grafana_dashboard", {**conn(grafana.url), "dashboard": {"uid": "no-title", "panels": []}}, tmp_path)
    assert res["failed"] and "has no title" in res["msg"]
    assert grafana.requests == []
    # the uid option supplies a missing uid (and wins over the JSON's)
    res = run("grafana_dashboard", {**conn(grafana.url), "uid": "given", "dashboard": {"title": "T"}}, tmp_path)
    assert res["changed"] and "given" in grafana.dashboards
    # absent needs only the uid
    assert run("grafana_dashboard", {**conn(grafana.url), "uid": "given", "state": "absent"}, tmp_path)["changed"]
    assert "given" not in grafana.dashboards


def test_dashboard_overwrite_false_keeps_a_concurrent_save_double(grafana, tmp_path):
    base = conn(grafana.url)
    run("grafana_dashboard", {**base, "dashboard": DASHBOARD}, tmp_path)
    assert grafana.dashboards["claude-code-overview"]["dashboard"]["version"] == 1

    def ui_save(d, method, path):
        if method == "GET" and path == "/api/dashboards/uid/claude-code-overview":
            stored = d.dashboards["claude-code-overview"]["dashboard"]
            stored.update(version=stored["version"] + 1, description="edited in the UI")
            d.hooks.clear()

    changed = {**DASHBOARD, "refresh": "30s"}
    grafana.hooks.append(ui_save)
    grafana.reset_counts()
    res = run("grafana_dashboard", {**base, "dashboard": changed, "overwrite": False}, tmp_path)
    assert res["failed"] and "HTTP 412" in res["msg"], res["msg"]
    assert "version-mismatch" in res["msg"] and "nothing was written" in res["msg"]
    assert res["error"]["body"]["status"] == "version-mismatch"
    stored = grafana.dashboards["claude-code-overview"]["dashboard"]
    assert stored["description"] == "edited in the UI" and "refresh" not in stored
    assert len(grafana.writes()) == 1, "the refused save is the only write"

    # overwrite=true (the default) replaces it whatever its version
    res = run("grafana_dashboard", {**base, "dashboard": changed}, tmp_path)
    assert res["changed"] and res["version"] == 3
    assert "description" not in grafana.dashboards["claude-code-overview"]["dashboard"]


def test_dashboard_same_title_in_folder_double(grafana, tmp_path):
    base = conn(grafana.url)
    run("grafana_dashboard", {**base, "dashboard": DASHBOARD}, tmp_path)
    twin = {**DASHBOARD, "uid": "twin"}
    res = run("grafana_dashboard", {**base, "dashboard": twin, "overwrite": False}, tmp_path)
    assert res["failed"] and "name-exists" in res["msg"] and "same title" in res["msg"], res["msg"]
    assert set(grafana.dashboards) == {"claude-code-overview"}
    res = run("grafana_dashboard", {**base, "dashboard": twin}, tmp_path)
    assert res["changed"] and set(grafana.dashboards) == {"twin"}


def test_dashboard_folder_move_double(grafana, tmp_path):
    grafana.seed_folder("a", "A")
    grafana.seed_folder("b", "B")
    base = conn(grafana.url, dashboard=DASHBOARD)
    assert run("grafana_dashboard", {**base, "folder_uid": "a"}, tmp_path)["folder_uid"] == "a"
    # folder unset: stays where it is
    assert run("grafana_dashboard", base, tmp_path)["changed"] is False
    res = run("grafana_dashboard", {**base, "folder_uid": "b"}, tmp_path)
    assert res["changed"] and '"folderUid": "a"' in res["diff"]["before"] and res["folder_uid"] == "b"
    res = run("grafana_dashboard", {**base, "folder_uid": ""}, tmp_path)
    assert res["changed"] and res["folder_uid"] == ""
    res = run("grafana_dashboard", {**base, "folder_uid": "nowhere"}, tmp_path)
    assert res["failed"] and "HTTP 400" in res["msg"] and "Folder not found" in res["msg"]


# ----------------------------------------------------------------------------------------
# grafana_alert_rule_group
# ----------------------------------------------------------------------------------------
def test_alert_rule_group_provenance_uids_and_durations_double(grafana, tmp_path):
    grafana.seed_folder("claude-code", "Claude Code")
    args = {**conn(grafana.url), **LIFECYCLES["grafana_alert_rule_group"][0]}
    res = run("grafana_alert_rule_group", args, tmp_path)
    assert res["changed"]
    put = [h for (m, _p), h in zip(grafana.requests, grafana.request_headers, strict=True) if m == "PUT"]
    assert put[0]["x-disable-provenance"] == "true"
    rule = res["rule_group"]["rules"][0]
    assert "provenance" not in rule, "UI-editable: no provenance"
    assert rule["for"] == "5m" and rule["noDataState"] == "NoData" and rule["execErrState"] == "Error"
    uid = rule["uid"]

    # 300s == 5m, 1m == 60: no change, one read
    grafana.reset_counts()
    same = {**args, "interval": 60, "rules": [{**RULE, "for": "5m"}]}
    assert run("grafana_alert_rule_group", same, tmp_path)["changed"] is False
    assert [r[0] for r in grafana.requests] == ["GET"]

    # a rule without uid keeps the stored rule's uid (and id) through an update; a new rule is added
    second = {**RULE, "title": "Claude Code sessions stopped", "for": "10m"}
    res = run("grafana_alert_rule_group", {**args, "rules": [RULE_UPDATE, second]}, tmp_path)
    assert res["changed"]
    rules = res["rule_group"]["rules"]
    assert rules[0]["uid"] == uid and rules[1]["uid"] != uid and rules[1]["for"] == "10m"
    # a rule left out is deleted
    res = run("grafana_alert_rule_group", {**args, "rules": [second]}, tmp_path)
    assert [r["title"] for r in res["rule_group"]["rules"]] == [second["title"]]

    # without the header Grafana marks the rules provisioned (read-only in its UI)
    res = run("grafana_alert_rule_group", {**args, "disable_provenance": False, "name": "locked"}, tmp_path)
    assert res["rule_group"]["rules"][0]["provenance"] == "api"
    assert "x-disable-provenance" not in grafana.request_headers[-1]


def test_alert_rule_group_invalid_double(grafana, tmp_path):
    grafana.seed_folder("claude-code", "Claude Code")
    args = {**conn(grafana.url), **LIFECYCLES["grafana_alert_rule_group"][0]}
    res = run("grafana_alert_rule_group", {**args, "interval": "15s"}, tmp_path)
    assert res["failed"] and "HTTP 400" in res["msg"] and "divided exactly by scheduler interval" in res["msg"]
    assert grafana.rule_groups == {}
    res = run("grafana_alert_rule_group", {**args, "rules": [{**RULE, "noDataState": "Maybe"}]}, tmp_path)
    assert res["failed"] and "noDataState must be one of" in res["msg"]
    grafana.reset_counts()
    res = run("grafana_alert_rule_group", {**args, "interval": "soon"}, tmp_path)
    assert res["failed"] and "interval must be" in res["msg"] and grafana.requests == []
    res = run("grafana_alert_rule_group", {**args, "rules": [{"condition": "B"}]}, tmp_path)
    assert res["failed"] and "has no title" in res["msg"] and grafana.requests == []
    res = run("grafana_alert_rule_group", {**args, "folder_uid": "nowhere"}, tmp_path)
    assert res["failed"] and "HTTP 404" in res["msg"] and "folder not found" in res["msg"]


def test_alert_rule_group_file_provisioned_is_refused_double(grafana, tmp_path):
    grafana.seed_folder("claude-code", "Claude Code")
    args = {**conn(grafana.url), **LIFECYCLES["grafana_alert_rule_group"][0]}
    run("grafana_alert_rule_group", args, tmp_path)
    grafana.rule_groups[("claude-code", "claude-code-cost")]["rules"][0]["provenance"] = "file"
    grafana.reset_counts()
    res = run("grafana_alert_rule_group", {**args, "rules": [RULE_UPDATE]}, tmp_path)
    assert res["failed"] and "provisioned from files" in res["msg"] and grafana.writes() == []


# ----------------------------------------------------------------------------------------
# Through Ansible itself
# ----------------------------------------------------------------------------------------
NAMES = [f"claude_code.observability.{m}" for m in LIFECYCLES]


def test_modules_document_and_resolve_through_ansible_double(grafana, tmp_path):
    """ansible-doc renders every module; ansible runs one by its FQCN against the double."""
    venv_bin = Path(sys.executable).parent
    proc = subprocess.run(
        [str(venv_bin / "ansible-doc"), "--json", *NAMES],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=ENV,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    assert set(docs) == set(NAMES)
    for name in NAMES:
        doc = docs[name]["doc"]
        assert {"url", "user", "password", "token", "validate_certs", "ca_path", "timeout", "state"} <= set(
            doc["options"]
        )
        assert docs[name]["examples"] and docs[name]["return"]
        assert set(doc["attributes"]) >= {"check_mode", "diff_mode"}

    env = {**ENV, "ANSIBLE_STDOUT_CALLBACK": "json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
    cmd = [
        str(venv_bin / "ansible"),
        "localhost",
        "-m",
        "claude_code.observability.grafana_folder",
        "-a",
        json.dumps({"url": grafana.url, "token": TOKEN, "uid": "via-ansible", "title": "Via Ansible"}),
    ]
    for check, changed in ((True, True), (False, True), (False, False)):
        grafana.reset_counts()
        proc = subprocess.run(
            cmd + (["--check", "--diff"] if check else []),
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            check=False,
            env=env,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
        assert result["changed"] is changed, result
        assert TOKEN not in proc.stdout
        if check or not changed:
            assert grafana.writes() == []
    assert grafana.folders["via-ansible"]["title"] == "Via Ansible"


def test_double_health_and_auth_shapes_double(grafana):
    """The double's own contract: health answers without auth, everything else needs credentials."""
    assert procs.http_json(f"{grafana.url}/api/health")["database"] == "ok"
    with pytest.raises(urllib.error.HTTPError) as info:
        procs.http_json(f"{grafana.url}/api/folders")
    assert info.value.code == 401
    assert json.loads(info.value.read())["message"] == "Unauthorized"
