"""The osd_* modules, each main() run in this process as Ansible would run it, against a DOUBLE.

OpenSearch Dashboards cannot be obtained on the test machines, so every test here talks
to the CONTRACT DOUBLE of its workspace and saved-objects APIs
(tests/doubles/osd_double.py), never to a real OpenSearch Dashboards. Test ids say "double".
The double counts requests and records each import, so a test can prove that a second run
wrote nothing and that only a changed object was re-imported.
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
from doubles.osd_double import OsdDouble
from helpers import module_runner, procs

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "plugins" / "modules"
FIXTURE = ROOT / "tests" / "osd_fixtures" / "claude-code.ndjson"
USER, PASSWORD = "admin", "Osd-s3cret-pw"
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "collections"), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
IP, VIS, DASH = "index-pattern/claude-code", "visualization/claude-code-cost-by-model", "dashboard/claude-code-overview"


def run(module: str, args: dict, tmp_path: Path, check: bool = False, diff: bool = True) -> dict:
    """Run one module's main() in this process, as Ansible would (its args, check and diff mode), against
    the server its url names; return its JSON result plus rc."""
    result = module_runner.run(module, args, module_runner.LIVE, check=check, diff=diff)
    assert PASSWORD not in json.dumps(result), "a secret reached the module result"
    return result


@pytest.fixture
def osd():
    d = OsdDouble(USER, PASSWORD)
    d.url = d.start()
    yield d
    d.stop()


def conn(url: str, **extra) -> dict:
    return {"url": url, "user": USER, "password": PASSWORD, "retries": 1, **extra}


def fixture_lines() -> list[dict]:
    return [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]


def write_ndjson(path: Path, objects: list[dict]) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects))
    return path


def only_objects() -> list[dict]:
    return [o for o in fixture_lines() if "type" in o]


# ----------------------------------------------------------------------------------------
# The double itself: the contract points the modules rely on.
# ----------------------------------------------------------------------------------------
def test_double_contract_xsrf_auth_status(osd):
    auth = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
    status = procs.http_json(f"{osd.url}/api/status", headers=auth)
    assert status["status"]["overall"]["state"] == "green"
    with pytest.raises(urllib.error.HTTPError) as info:
        procs.http_json(f"{osd.url}/api/workspaces", method="POST", body={"attributes": {"name": "x"}}, headers=auth)
    assert info.value.code == 400 and b"osd-xsrf" in info.value.read()
    # kbn-xsrf (Kibana scripts) is not accepted either
    with pytest.raises(urllib.error.HTTPError) as info:
        procs.http_json(
            f"{osd.url}/api/saved_objects/_bulk_get", method="POST", body=[], headers={**auth, "kbn-xsrf": "true"}
        )
    assert info.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as info:
        procs.http_json(f"{osd.url}/api/status")
    assert info.value.code == 401
    assert osd.workspaces == {} and osd.objects == {}


# ----------------------------------------------------------------------------------------
# osd_workspace
# ----------------------------------------------------------------------------------------
WS = {"name": "Claude Code", "description": "Claude Code usage", "features": ["use-case-observability"]}


def test_workspace_lifecycle_double(osd, tmp_path):
    base = conn(osd.url)

    # check mode: reports the creation, writes nothing, has no id yet
    res = run("osd_workspace", {**base, **WS}, tmp_path, check=True)
    assert res["changed"] is True and res["id"] is None and osd.writes() == [] and osd.workspaces == {}
    assert '"use-case-observability"' in res["diff"]["after"]

    # create: one write, the server-generated id is returned
    osd.reset_counts()
    res = run("osd_workspace", {**base, **WS}, tmp_path)
    assert res["changed"] is True, res
    assert [w[0] for w in osd.writes()] == ["POST"] and osd.writes()[0][1] == "/api/workspaces"
    wid = res["id"]
    assert wid in osd.workspaces and len(wid) == 6
    assert res["workspace"]["name"] == "Claude Code" and res["workspace"]["description"] == "Claude Code usage"

    # second run: one read (the _list POST), zero writes, no diff
    osd.reset_counts()
    res = run("osd_workspace", {**base, **WS}, tmp_path)
    assert res["changed"] is False and res["id"] == wid and "diff" not in res
    assert osd.writes() == [] and len(osd.requests) == 1, osd.requests

    # check mode on an update: a diff, nothing written
    osd.reset_counts()
    res = run(
        "osd_workspace", {**base, **WS, "description": "Claude Code cost", "color": "#54B399"}, tmp_path, check=True
    )
    assert res["changed"] is True and osd.writes() == []
    assert "Claude Code cost" in res["diff"]["after"] and "Claude Code cost" not in res["diff"]["before"]
    assert osd.workspaces[wid]["attributes"]["description"] == "Claude Code usage"

    # update: one PUT, the unmanaged features are kept, the diff shows the change
    osd.reset_counts()
    res = run(
        "osd_workspace",
        {**base, "name": "Claude Code", "description": "Claude Code cost", "color": "#54B399"},
        tmp_path,
    )
    assert res["changed"] is True and [w[0] for w in osd.writes()] == ["PUT"]
    assert '"description": "Claude Code usage"' in res["diff"]["before"]
    assert '"description": "Claude Code cost"' in res["diff"]["after"]
    stored = osd.workspaces[wid]["attributes"]
    assert stored == {
        "name": "Claude Code",
        "description": "Claude Code cost",
        "features": ["use-case-observability"],
        "color": "#54B399",
    }
    assert res["id"] == wid
    osd.reset_counts()
    assert run("osd_workspace", {**base, "name": "Claude Code", "color": "#54B399"}, tmp_path)["changed"] is False
    assert osd.writes() == []

    # absent: check mode first, then for real, then a no-op
    osd.reset_counts()
    res = run("osd_workspace", {**base, "name": "Claude Code", "state": "absent"}, tmp_path, check=True)
    assert res["changed"] is True and res["id"] == wid and osd.writes() == [] and wid in osd.workspaces
    res = run("osd_workspace", {**base, "name": "Claude Code", "state": "absent"}, tmp_path)
    assert res["changed"] is True and wid not in osd.workspaces
    assert [w for w in osd.writes() if w[0] == "DELETE"] == [("DELETE", f"/api/workspaces/{wid}")]
    osd.reset_counts()
    res = run("osd_workspace", {**base, "name": "Claude Code", "state": "absent"}, tmp_path)
    assert res["changed"] is False and res["id"] is None and osd.writes() == []


def test_workspace_default_use_case_and_exact_name_match_double(osd, tmp_path):
    base = conn(osd.url)
    other = run("osd_workspace", {**base, "name": "Claude Code team"}, tmp_path)
    assert osd.workspaces[other["id"]]["attributes"]["features"] == ["use-case-observability"]
    res = run("osd_workspace", {**base, "name": "Claude Code"}, tmp_path)
    assert res["changed"] is True and res["id"] != other["id"] and len(osd.workspaces) == 2


def test_workspace_feature_disabled_double(tmp_path):
    d = OsdDouble(USER, PASSWORD, workspaces_enabled=False)
    url = d.start()
    try:
        res = run("osd_workspace", {**conn(url), **WS}, tmp_path)
        assert res["failed"] and "HTTP 404" in res["msg"] and "workspace.enabled: true" in res["msg"], res["msg"]
        res = run("osd_saved_objects", {**conn(url), "src": str(FIXTURE), "workspace": "Claude Code"}, tmp_path)
        assert res["failed"] and "workspace.enabled: true" in res["msg"], res["msg"]
        assert d.writes() == [] and d.objects == {}
    finally:
        d.stop()


def test_workspace_server_rejection_is_reported_double(osd, tmp_path):
    res = run("osd_workspace", {**conn(osd.url), "name": "x", "features": ["use-case-nope"]}, tmp_path)
    assert res["failed"] and "HTTP 400" in res["msg"] and "At least one use case is required" in res["msg"], res["msg"]
    assert osd.workspaces == {}
    res = run("osd_workspace", {**conn(osd.url), "name": "x", "color": "green"}, tmp_path)
    assert res["failed"] and "invalid workspace color format" in res["msg"], res["msg"]


# ----------------------------------------------------------------------------------------
# osd_saved_objects
# ----------------------------------------------------------------------------------------
def test_import_into_workspace_double(osd, tmp_path):
    base = conn(osd.url)
    wid = run("osd_workspace", {**base, **WS}, tmp_path)["id"]
    args = {**base, "src": str(FIXTURE), "workspace_id": wid}

    # check mode: everything would be created, nothing is written
    osd.reset_counts()
    res = run("osd_saved_objects", args, tmp_path, check=True)
    assert res["changed"] is True and res["created"] == [IP, VIS, DASH] and osd.writes() == [] and osd.objects == {}
    assert "claude-code*" in res["diff"]["after"]

    # first run: one import of the three objects, inside the workspace
    osd.reset_counts()
    res = run("osd_saved_objects", args, tmp_path)
    assert res["changed"] is True and res["created"] == [IP, VIS, DASH] and res["workspace_id"] == wid
    assert osd.writes() == [("POST", f"/w/{wid}/api/saved_objects/_import?overwrite=true")]
    assert osd.imports == [[IP, VIS, DASH]]
    assert res["import_result"]["successCount"] == 3
    for otype, oid in (("index-pattern", "claude-code"), ("visualization", "claude-code-cost-by-model")):
        assert osd.stored(otype, oid)["workspaces"] == [wid]
    assert osd.stored("index-pattern", "claude-code")["attributes"]["title"] == "claude-code*"

    # second run: the server-added fields are ignored; reads only, zero writes
    osd.reset_counts()
    res = run("osd_saved_objects", args, tmp_path)
    assert res["changed"] is False and res["unchanged"] == [IP, VIS, DASH] and "diff" not in res
    assert osd.writes() == [] and osd.imports == []
    assert [r[0] for r in osd.requests] == ["GET", "POST"], osd.requests  # workspace check + _bulk_get

    # the same, naming the workspace instead of its id
    osd.reset_counts()
    res = run("osd_saved_objects", {**base, "src": str(FIXTURE), "workspace": "Claude Code"}, tmp_path)
    assert res["changed"] is False and res["workspace_id"] == wid and osd.writes() == []

    # a changed visualization: check mode shows it, then only it is re-imported
    objects = only_objects()
    objects[1]["attributes"]["title"] = "Claude Code cost per model"
    vis_state = json.loads(objects[1]["attributes"]["visState"])
    vis_state["params"]["perPage"] = 25
    objects[1]["attributes"]["visState"] = json.dumps(vis_state)
    changed_file = write_ndjson(tmp_path / "changed.ndjson", objects)
    osd.reset_counts()
    res = run("osd_saved_objects", {**args, "src": str(changed_file)}, tmp_path, check=True)
    assert res["changed"] is True and res["updated"] == [VIS] and res["unchanged"] == [IP, DASH]
    assert osd.writes() == [] and osd.stored("visualization", "claude-code-cost-by-model")["attributes"]["title"] == (
        "Claude Code cost by model"
    )
    before, after = res["diff"]["before"], res["diff"]["after"]
    assert VIS in before and VIS in after and IP not in after and DASH not in after
    assert '"title": "Claude Code cost by model"' in before and '"title": "Claude Code cost per model"' in after
    # JSON held in strings is shown parsed, so the changed field is readable
    assert '"perPage": 10' in before and '"perPage": 25' in after

    osd.reset_counts()
    res = run("osd_saved_objects", {**args, "src": str(changed_file)}, tmp_path)
    assert res["changed"] is True and res["updated"] == [VIS] and res["created"] == []
    assert osd.imports == [[VIS]], osd.imports
    assert len(osd.writes()) == 1
    assert (
        osd.stored("visualization", "claude-code-cost-by-model")["attributes"]["title"] == "Claude Code cost per model"
    )
    osd.reset_counts()
    assert run("osd_saved_objects", {**args, "src": str(changed_file)}, tmp_path)["changed"] is False
    assert osd.writes() == []

    # formatting-only differences in JSON strings are no change
    objects[1]["attributes"]["visState"] = json.dumps(vis_state, indent=2)
    reformatted = write_ndjson(tmp_path / "reformatted.ndjson", objects)
    osd.reset_counts()
    assert run("osd_saved_objects", {**args, "src": str(reformatted)}, tmp_path)["changed"] is False
    assert osd.writes() == []


def test_import_into_default_space_double(osd, tmp_path):
    args = {**conn(osd.url), "content": FIXTURE.read_text()}
    res = run("osd_saved_objects", args, tmp_path)
    assert res["changed"] is True and res["created"] == [IP, VIS, DASH] and res["workspace_id"] is None
    assert osd.writes() == [("POST", "/api/saved_objects/_import?overwrite=true")]
    assert "workspaces" not in osd.stored("dashboard", "claude-code-overview")

    osd.reset_counts()
    res = run("osd_saved_objects", args, tmp_path)
    assert res["changed"] is False and osd.writes() == []
    assert osd.requests == [("POST", "/api/saved_objects/_bulk_get")], "exactly one read"

    # a dashboard someone changed in the UI is put back, alone
    osd.objects[("dashboard", "claude-code-overview")]["attributes"]["timeFrom"] = "now-15m"
    osd.reset_counts()
    res = run("osd_saved_objects", args, tmp_path)
    assert res["updated"] == [DASH] and osd.imports == [[DASH]]
    assert osd.stored("dashboard", "claude-code-overview")["attributes"]["timeFrom"] == "now-7d"

    # check mode on a missing object writes nothing
    del osd.objects[("index-pattern", "claude-code")]
    osd.reset_counts()
    res = run("osd_saved_objects", args, tmp_path, check=True)
    assert res["created"] == [IP] and osd.writes() == [] and ("index-pattern", "claude-code") not in osd.objects


def test_malformed_ndjson_line_double(osd, tmp_path):
    lines = FIXTURE.read_text().splitlines()
    lines[1] = lines[1][:-5]  # cut the visualization line short
    bad = tmp_path / "bad.ndjson"
    bad.write_text("\n".join(lines) + "\n")
    osd.reset_counts()
    res = run("osd_saved_objects", {**conn(osd.url), "src": str(bad)}, tmp_path)
    assert res["failed"] and "line 2 is not valid JSON" in res["msg"] and str(bad) in res["msg"], res["msg"]
    assert "Nothing was imported" in res["msg"]
    assert osd.requests == [] and osd.objects == {}, "the file is checked before any request"

    res = run("osd_saved_objects", {**conn(osd.url), "content": '{"type": "dashboard", "attributes": {}}\n'}, tmp_path)
    assert res["failed"] and "content line 1 has no id" in res["msg"], res["msg"]


def test_per_object_import_error_is_surfaced_double(osd, tmp_path):
    objects = only_objects()
    orphan = dict(objects[1], id="claude-code-orphan")
    orphan["references"] = [
        {"name": "kibanaSavedObjectMeta.searchSourceJSON.index", "type": "index-pattern", "id": "gone"}
    ]
    src = write_ndjson(tmp_path / "orphan.ndjson", [objects[0], orphan])
    res = run("osd_saved_objects", {**conn(osd.url), "src": str(src)}, tmp_path)
    assert res["failed"], res
    msg = res["msg"]
    assert "reported errors for 1 of 2 objects" in msg, msg
    assert "visualization/claude-code-orphan" in msg and "missing_references" in msg and "index-pattern/gone" in msg
    assert "Imported anyway: index-pattern/claude-code" in msg
    assert res["changed"] is True and res["import_result"]["errors"][0]["error"]["type"] == "missing_references"
    assert osd.stored("visualization", "claude-code-orphan") is None

    unknown = {"type": "canvas-workpad", "id": "w1", "attributes": {"title": "w"}}
    res = run("osd_saved_objects", {**conn(osd.url), "content": json.dumps(unknown)}, tmp_path)
    assert (
        res["failed"]
        and "canvas-workpad/w1 (w): unsupported_type" in res["msg"]
        and "Nothing was imported" in res["msg"]
    )
    assert res["changed"] is False


def test_missing_workspace_double(osd, tmp_path):
    osd.reset_counts()
    res = run("osd_saved_objects", {**conn(osd.url), "src": str(FIXTURE), "workspace_id": "nope42"}, tmp_path)
    assert res["failed"] and "Workspace id nope42 does not exist" in res["msg"], res["msg"]
    assert osd.writes() == [] and osd.objects == {}
    res = run("osd_saved_objects", {**conn(osd.url), "src": str(FIXTURE), "workspace": "Nobody"}, tmp_path)
    assert res["failed"] and "Workspace 'Nobody' does not exist" in res["msg"], res["msg"]
    assert osd.writes() == [] and osd.objects == {}
    # check mode: the workspace task before has not created it either; report, warn, write nothing
    osd.reset_counts()
    res = run("osd_saved_objects", {**conn(osd.url), "src": str(FIXTURE), "workspace": "Nobody"}, tmp_path, check=True)
    assert res["changed"] is True and res["created"] == [IP, VIS, DASH], res
    assert "Nobody" in json.dumps(res.get("warnings")), res
    assert osd.writes() == [] and osd.objects == {}
    assert [r[0] for r in osd.requests] == ["POST"], "only the workspace list was read"


def test_absent_deletes_listed_objects_double(osd, tmp_path):
    base = conn(osd.url)
    wid = run("osd_workspace", {**base, **WS}, tmp_path)["id"]
    run("osd_saved_objects", {**base, "src": str(FIXTURE), "workspace_id": wid}, tmp_path)

    osd.reset_counts()
    res = run(
        "osd_saved_objects",
        {
            **base,
            "workspace_id": wid,
            "state": "absent",
            "objects": [{"type": "dashboard", "id": "claude-code-overview"}],
        },
        tmp_path,
        check=True,
    )
    assert res["changed"] and res["deleted"] == [DASH] and osd.writes() == []
    assert "claude-code-overview" in res["diff"]["before"]

    res = run("osd_saved_objects", {**base, "src": str(FIXTURE), "workspace_id": wid, "state": "absent"}, tmp_path)
    assert res["changed"] and res["deleted"] == [DASH, VIS, IP], "dependents first"
    assert [w[0] for w in osd.writes()] == ["DELETE"] * 3
    assert all(w[1].startswith(f"/w/{wid}/api/saved_objects/") for w in osd.writes())
    assert osd.objects == {}
    osd.reset_counts()
    res = run("osd_saved_objects", {**base, "src": str(FIXTURE), "workspace_id": wid, "state": "absent"}, tmp_path)
    assert res["changed"] is False and osd.writes() == []


@pytest.mark.parametrize(
    ("module", "args"),
    [
        pytest.param("osd_workspace", {"name": "Claude Code"}, id="osd_workspace-double"),
        pytest.param("osd_saved_objects", {"src": str(FIXTURE)}, id="osd_saved_objects-double"),
    ],
)
def test_wrong_credentials_double(module, args, osd, tmp_path):
    osd.reset_counts()
    res = run(module, {**conn(osd.url), **args, "password": "wrong-" + PASSWORD}, tmp_path)
    assert res["failed"]
    assert "HTTP 401" in res["msg"] and "check the user/password or token" in res["msg"], res["msg"]
    assert osd.url in res["msg"] and "wrong-" not in json.dumps(res)
    assert len(osd.requests) == 1 and osd.writes() == [], "a 401 is an answer, not a reason to retry"


@pytest.mark.parametrize(
    ("module", "args"),
    [
        pytest.param("osd_workspace", {"name": "Claude Code"}, id="osd_workspace"),
        pytest.param("osd_saved_objects", {"src": str(FIXTURE)}, id="osd_saved_objects"),
    ],
)
def test_unreachable_url(module, args, tmp_path):
    port = procs.free_port()
    res = run(module, {**conn(f"http://127.0.0.1:{port}"), **args}, tmp_path)
    assert res["failed"]
    assert f"http://127.0.0.1:{port}/" in res["msg"]
    assert "Connection refused" in res["msg"] and "check the url option" in res["msg"], res["msg"]


def test_modules_document_and_run_through_ansible(osd, tmp_path):
    """ansible-doc renders both modules; ansible runs one by its FQCN, against the double."""
    names = ["claude_code.observability.osd_workspace", "claude_code.observability.osd_saved_objects"]
    venv_bin = Path(sys.executable).parent
    proc = subprocess.run(
        [str(venv_bin / "ansible-doc"), "--json", *names],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=ENV,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    assert set(docs) == set(names)
    for name in names:
        doc = docs[name]["doc"]
        assert {"url", "user", "password", "validate_certs", "ca_path", "timeout"} <= set(doc["options"])
        assert docs[name]["examples"] and docs[name]["return"]
        assert doc["attributes"]["check_mode"]["support"] == "full"
    proc = subprocess.run(
        [
            str(venv_bin / "ansible"),
            "localhost",
            "-m",
            names[0],
            "-a",
            json.dumps({"url": osd.url, "user": USER, "password": PASSWORD, "name": "via-ansible"}),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
        env={**ENV, "ANSIBLE_STDOUT_CALLBACK": "json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result["changed"] is True and result["id"] in osd.workspaces and PASSWORD not in proc.stdout
