"""What the osd_* modules do beyond the shared lifecycle: workspace updates, partial imports, headers."""

from __future__ import annotations

import json

import pytest
from helpers.module_runner import FakeServer, run

pytestmark = pytest.mark.unit

CONN = {"user": "admin", "password": "pw-Secret-4711", "retries": 0}


def ok(result):
    return {"success": True, "result": result}


# ---------------------------------------------------------------------------------------- workspace
WS = {
    "id": "ws1",
    "name": "Claude Code",
    "description": "old",
    "features": ["use-case-observability"],
    "color": "#54B399",
    "lastUpdatedTime": "2025-01-01",
    "permissions": {"library_write": {"users": ["alice"]}, "other": {"users": ["x"]}},
}


def test_workspace_update_keeps_stored_permissions_and_unmanaged_attributes():
    server = FakeServer().on("POST", "api/workspaces/_list", ok({"workspaces": [WS], "total": 1}))
    server.on("PUT", "api/workspaces/ws1", ok(True)).on("GET", "api/workspaces/ws1", ok(dict(WS, description="new")))
    res = run("osd_workspace", {**CONN, "name": "Claude Code", "description": "new"}, server, diff=True)
    assert res["changed"] is True and res["id"] == "ws1" and res["workspace"]["description"] == "new"
    (put,) = server.writes
    assert put.body == {
        "attributes": {
            "name": "Claude Code",
            "description": "new",
            "features": ["use-case-observability"],
            "color": "#54B399",
        },
        "settings": {"permissions": {"library_write": {"users": ["alice"]}}},
    }
    assert put.headers["osd-xsrf"] == "true"
    assert '"description": "old"' in res["diff"]["before"] and "color" not in res["diff"]["before"]


def test_workspace_created_in_check_mode_has_no_id():
    server = FakeServer().on("POST", "api/workspaces/_list", ok({"workspaces": [], "total": 0}))
    res = run("osd_workspace", {**CONN, "name": "Claude Code"}, server, check=True, diff=True)
    assert res["changed"] is True and res["id"] is None and "workspace" not in res
    assert "use-case-observability" in res["diff"]["after"], "the default use case is shown"


def test_workspace_api_refusal_is_reported():
    server = FakeServer().on("POST", "api/workspaces/_list", ok({"workspaces": [WS], "total": 1}))
    server.on("PUT", "api/workspaces/ws1", {"success": False, "error": "permission denied"})
    res = run("osd_workspace", {**CONN, "name": "Claude Code", "description": "new"}, server)
    assert res["failed"] is True
    assert res["msg"].startswith("Could not update workspace Claude Code (ws1): ") and "permission denied" in res["msg"]


def test_two_workspaces_with_the_name_are_refused():
    server = FakeServer().on("POST", "api/workspaces/_list", ok({"workspaces": [WS, dict(WS, id="ws2")], "total": 2}))
    res = run("osd_workspace", {**CONN, "name": "Claude Code", "state": "absent"}, server)
    assert res["failed"] is True and server.writes == [] and "cannot choose" in res["msg"]


# ---------------------------------------------------------------------------------------- saved objects
PATTERN = {"type": "index-pattern", "id": "cc", "attributes": {"title": "claude-code*"}, "references": []}
VIS = {
    "type": "visualization",
    "id": "cost",
    "attributes": {"title": "Cost", "visState": json.dumps({"type": "line", "params": {"a": 1}})},
    "references": [{"name": "r", "type": "index-pattern", "id": "cc"}],
}
DASH = {"type": "dashboard", "id": "overview", "attributes": {"title": "Overview"}, "references": []}
CONTENT = "".join(json.dumps(o) + "\n" for o in (PATTERN, VIS, DASH)) + '{"exportedCount": 3}\n'


def stored(obj, **changes):
    out = dict(obj, updated_at="2025-01-01T00:00:00Z", version="WzEsMV0=", namespaces=["default"])
    out["attributes"] = dict(obj["attributes"], **changes)
    return out


def missing(obj):
    return {"type": obj["type"], "id": obj["id"], "error": {"statusCode": 404, "error": "Not Found"}}


def test_only_missing_or_different_objects_are_imported():
    # The visualization's JSON string differs in formatting only: no change.
    vis = stored(VIS, visState=json.dumps({"params": {"a": 1}, "type": "line"}, indent=2))
    answer = {"saved_objects": [stored(PATTERN, title="old*"), vis, missing(DASH)]}
    server = FakeServer().on("POST", "api/saved_objects/_bulk_get", answer)
    server.on(
        "POST",
        "api/saved_objects/_import",
        {"success": True, "successCount": 2, "successResults": [{"type": "index-pattern", "id": "cc"}, DASH]},
    )
    res = run("osd_saved_objects", {**CONN, "content": CONTENT}, server, diff=True)
    assert res["changed"] is True
    assert (res["created"], res["updated"], res["unchanged"]) == (
        ["dashboard/overview"],
        ["index-pattern/cc"],
        ["visualization/cost"],
    )
    (upload,) = server.writes
    assert upload.query == {"overwrite": "true"} and upload.headers["Content-Type"].startswith("multipart/form-data")
    assert b'"id": "cc"' in upload.body and b'"id": "overview"' in upload.body and b'"id": "cost"' not in upload.body
    assert "old*" in res["diff"]["before"] and "visualization/cost" not in res["diff"]["after"]
    assert res["import_result"]["successCount"] == 2


def test_import_errors_fail_and_name_the_objects():
    server = FakeServer().on(
        "POST", "api/saved_objects/_bulk_get", {"saved_objects": [missing(PATTERN), missing(VIS), missing(DASH)]}
    )
    server.on(
        "POST",
        "api/saved_objects/_import",
        {
            "success": False,
            "successCount": 1,
            "successResults": [{"type": "index-pattern", "id": "cc"}],
            "errors": [
                {
                    "type": "visualization",
                    "id": "cost",
                    "title": "Cost",
                    "error": {"type": "missing_references", "references": [{"type": "index-pattern", "id": "gone"}]},
                }
            ],
        },
    )
    res = run("osd_saved_objects", {**CONN, "content": CONTENT}, server)
    assert res["failed"] is True and res["changed"] is True
    assert "visualization/cost (Cost): missing_references index-pattern/gone" in res["msg"]
    assert "Imported anyway: index-pattern/cc." in res["msg"]


def test_absent_deletes_dependents_first_in_the_workspace():
    server = FakeServer().on("GET", "api/workspaces/ws1", ok({"id": "ws1", "name": "Claude Code"}))
    server.on(
        "POST", "w/ws1/api/saved_objects/_bulk_get", {"saved_objects": [stored(PATTERN), stored(VIS), stored(DASH)]}
    )
    for obj in (PATTERN, VIS, DASH):
        server.on("DELETE", "w/ws1/api/saved_objects/%s/%s" % (obj["type"], obj["id"]), {})
    res = run("osd_saved_objects", {**CONN, "content": CONTENT, "workspace_id": "ws1", "state": "absent"}, server)
    assert res["changed"] is True and res["workspace_id"] == "ws1"
    assert res["deleted"] == ["dashboard/overview", "visualization/cost", "index-pattern/cc"]
    assert [c.path for c in server.writes] == [
        "w/ws1/api/saved_objects/dashboard/overview",
        "w/ws1/api/saved_objects/visualization/cost",
        "w/ws1/api/saved_objects/index-pattern/cc",
    ]


def test_missing_workspace_fails_but_check_mode_warns():
    server = FakeServer().on("POST", "api/workspaces/_list", ok({"workspaces": [], "total": 0}))
    res = run("osd_saved_objects", {**CONN, "content": CONTENT, "workspace": "Claude Code"}, server)
    assert res["failed"] is True and "does not exist" in res["msg"] and server.writes == []

    res = run("osd_saved_objects", {**CONN, "content": CONTENT, "workspace": "Claude Code"}, server, check=True)
    assert res["changed"] is True and len(res["created"]) == 3
    assert any("does not exist (yet)" in str(w) for w in res["warnings"])


def test_a_bad_line_fails_before_any_request():
    res = run("osd_saved_objects", {**CONN, "content": json.dumps(PATTERN) + "\n{not json\n"}, FakeServer())
    assert res["failed"] is True and "content line 2 is not valid JSON" in res["msg"]
