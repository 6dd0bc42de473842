"""The opensearch_* modules, each main() run in this process as Ansible would run it, talking HTTP.

opensearch_component_template, opensearch_index_template and opensearch_index run
against the REAL OpenSearch of the test bed, through a counting reverse proxy that
also adds basic auth (tests/doubles/counting_proxy.py), so a test can prove that a
second run made no write at all.

opensearch_ism_policy and opensearch_datasource run against the CONTRACT DOUBLE of
the ISM and SQL plugin APIs (tests/doubles/opensearch_plugins_double.py): those
plugin zips cannot be obtained here. Test names of those say "double".
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
from doubles.counting_proxy import CountingProxy
from doubles.opensearch_plugins_double import PluginsDouble
from helpers import module_runner, procs

pytestmark = pytest.mark.slow(seconds=85)  # the conftest starts the longest first

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "plugins" / "modules"
USER, PASSWORD = "admin", "Sup3r-secret-pw"
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "collections"), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}


def run(module: str, args: dict, tmp_path: Path, check: bool = False, diff: bool = True) -> dict:
    """Run one module's main() in this process, as Ansible would (its args, check and diff mode), against
    the server its url names; return its JSON result plus rc."""
    result = module_runner.run(module, args, module_runner.LIVE, check=check, diff=diff)
    return result


@pytest.fixture(scope="module")
def proxy(opensearch):
    p = CountingProxy(opensearch, USER, PASSWORD)
    url = p.start()
    p.url = url
    yield p
    p.stop()


@pytest.fixture
def double():
    d = PluginsDouble(USER, PASSWORD)
    d.url = d.start()
    yield d
    d.stop()


def conn(url: str, **extra) -> dict:
    return {"url": url, "user": USER, "password": PASSWORD, "retries": 1, **extra}


def assert_clean(result: dict) -> None:
    """No secret ever appears in a module result."""
    text = json.dumps(result)
    assert PASSWORD not in text
    assert "prom-secret-pw" not in text


# ----------------------------------------------------------------------------------------
# The shared lifecycle: create, idempotent rerun, update with diff, check mode, absent.
# ----------------------------------------------------------------------------------------
CT_NAME = "claude-code-test-ct"
IT_NAME = "claude-code-test-it"

CT_CREATE = {
    "name": CT_NAME,
    "template": {
        "settings": {"number_of_replicas": 0, "index": {"refresh_interval": "5s"}},
        "mappings": {
            "dynamic": False,
            "properties": {
                "event.name": {"type": "keyword"},
                "cost_usd": {"type": "double"},
                "tool_result.duration_ms": {"type": "long", "ignore_malformed": True},
            },
        },
        "aliases": {"claude-code-test-all": {}},
    },
    "meta": {"managed_by": "claude_code.observability", "revision": 1},
}
CT_UPDATE = {
    **CT_CREATE,
    "template": {
        **CT_CREATE["template"],
        "mappings": {
            "dynamic": False,
            "properties": {**CT_CREATE["template"]["mappings"]["properties"], "machine.name": {"type": "keyword"}},
        },
    },
}
IT_CREATE = {
    "name": IT_NAME,
    "index_patterns": ["claude-code-test-it-*"],
    "priority": 150,
    "template": {"settings": {"index.number_of_shards": 1}, "mappings": {"properties": {"a": {"type": "keyword"}}}},
    "data_stream": {},
}
IT_UPDATE = {**IT_CREATE, "priority": 160}

POLICY = {
    "description": "Delete Claude Code event indices after 30 days",
    "default_state": "hot",
    "states": [
        {
            "name": "hot",
            "actions": [{"rollover": {"min_index_age": "1d"}}],
            "transitions": [{"state_name": "delete", "conditions": {"min_index_age": "30d"}}],
        },
        {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
    ],
    "ism_template": [{"index_patterns": ["claude-code*"], "priority": 100}],
}
POLICY_UPDATE = {
    **POLICY,
    "states": [
        {**POLICY["states"][0], "transitions": [{"state_name": "delete", "conditions": {"min_index_age": "14d"}}]},
        POLICY["states"][1],
    ],
}
DS_CREATE = {
    "name": "claude_code_prometheus",
    "properties": {"prometheus.uri": "http://prometheus:9090", "prometheus.auth.type": "basicauth"},
    "secret_properties": {"prometheus.auth.username": "reader", "prometheus.auth.password": "prom-secret-pw"},
    "description": "Claude Code metrics",
}
DS_UPDATE = {**DS_CREATE, "properties": {**DS_CREATE["properties"], "prometheus.uri": "http://prometheus:9091"}}

LIFECYCLES = {
    "opensearch_component_template": (CT_CREATE, CT_UPDATE, "machine", "_component_template/" + CT_NAME),
    "opensearch_index_template": (IT_CREATE, IT_UPDATE, '"priority": 160', "_index_template/" + IT_NAME),
    "opensearch_ism_policy": (
        {"policy_id": "claude-code-retention", "policy": POLICY},
        {"policy_id": "claude-code-retention", "policy": POLICY_UPDATE},
        '"min_index_age": "14d"',
        "_plugins/_ism/policies/claude-code-retention",
    ),
    "opensearch_datasource": (
        DS_CREATE,
        DS_UPDATE,
        "prometheus:9091",
        "_plugins/_query/_datasources/" + DS_CREATE["name"],
    ),
}


def server_for(module: str, request):
    """Real OpenSearch (through the proxy) for core APIs; the plugins double for ISM and data sources."""
    if module in ("opensearch_ism_policy", "opensearch_datasource"):
        return request.getfixturevalue("double")
    return request.getfixturevalue("proxy")


def fetch(server, path: str):
    try:
        return procs.http_json(f"{server.url}/{path}", headers=_auth_header())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def _auth_header() -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}


@pytest.mark.parametrize(
    "module",
    [
        "opensearch_component_template",
        "opensearch_index_template",
        pytest.param("opensearch_ism_policy", id="opensearch_ism_policy-double"),
        pytest.param("opensearch_datasource", id="opensearch_datasource-double"),
    ],
)
def test_lifecycle(module, request, tmp_path):
    create, update, diff_marker, path = LIFECYCLES[module]
    server = server_for(module, request)
    base = conn(server.url)

    # check mode on a missing object: reports the creation, writes nothing
    server.reset_counts()
    res = run(module, {**base, **create}, tmp_path, check=True)
    assert res["changed"] is True and server.writes() == []
    assert fetch(server, path) is None

    # create: one write
    server.reset_counts()
    res = run(module, {**base, **create}, tmp_path)
    assert res["changed"] is True, res
    assert len(server.writes()) == 1, server.writes()
    assert fetch(server, path) is not None
    assert_clean(res)

    # second run: exactly one read and no write
    server.reset_counts()
    res = run(module, {**base, **create}, tmp_path)
    assert res["changed"] is False, res
    assert server.writes() == []
    assert [r[0] for r in server.requests] == ["GET"], server.requests
    assert "diff" not in res

    # check mode on an update: changed, a diff, nothing written, server unchanged
    stored = fetch(server, path)
    server.reset_counts()
    res = run(module, {**base, **update}, tmp_path, check=True)
    assert res["changed"] is True and server.writes() == []
    assert diff_marker in res["diff"]["after"] and diff_marker not in res["diff"]["before"], res["diff"]
    assert _without_times(fetch(server, path)) == _without_times(stored)

    # update: one write, the diff shows the change, the server has it
    server.reset_counts()
    res = run(module, {**base, **update}, tmp_path)
    assert res["changed"] is True and len(server.writes()) == 1, server.writes()
    assert diff_marker in res["diff"]["after"] and diff_marker not in res["diff"]["before"]
    assert_clean(res)
    server.reset_counts()
    assert run(module, {**base, **update}, tmp_path)["changed"] is False
    assert server.writes() == []

    # absent (check mode first), then absent again: no write
    ident = {k: v for k, v in update.items() if k in ("name", "policy_id")}
    server.reset_counts()
    assert run(module, {**base, **ident, "state": "absent"}, tmp_path, check=True)["changed"] is True
    assert server.writes() == [] and fetch(server, path) is not None
    assert run(module, {**base, **ident, "state": "absent"}, tmp_path)["changed"] is True
    assert fetch(server, path) is None
    server.reset_counts()
    assert run(module, {**base, **ident, "state": "absent"}, tmp_path)["changed"] is False
    assert server.writes() == []


def _without_times(obj):
    """Compare stored objects ignoring what a GET itself may refresh."""
    return json.loads(json.dumps(obj).replace("last_updated_time", "t"))


INVALID = {
    "opensearch_component_template": (
        {"name": "claude-code-bad", "template": {"mappings": {"properties": {"a": {"type": "bogus"}}}}},
        "No handler for type [bogus]",
        "_component_template/claude-code-bad",
    ),
    "opensearch_index_template": (
        {
            "name": "claude-code-bad",
            "index_patterns": ["claude-code-bad-*"],
            "template": {"mappings": {"properties": {"a": {"type": "bogus"}}}},
        },
        "No handler for type [bogus]",
        "_index_template/claude-code-bad",
    ),
    "opensearch_index": (
        {"name": "claude-code-bad", "mappings": {"properties": {"a": {"type": "bogus"}}}},
        "No handler for type [bogus]",
        "claude-code-bad",
    ),
    "opensearch_ism_policy": (
        {"policy_id": "bad", "policy": {**POLICY, "default_state": "nowhere"}},
        "default state [nowhere] does not exist",
        "_plugins/_ism/policies/bad",
    ),
    "opensearch_datasource": (
        {"name": "bad_prometheus", "properties": {"prometheus.auth.type": "basicauth"}},
        "Missing [prometheus.auth.password, prometheus.auth.username, prometheus.uri] fields",
        "_plugins/_query/_datasources/bad_prometheus",
    ),
}
ALL = [
    "opensearch_component_template",
    "opensearch_index_template",
    "opensearch_index",
    pytest.param("opensearch_ism_policy", id="opensearch_ism_policy-double"),
    pytest.param("opensearch_datasource", id="opensearch_datasource-double"),
]


@pytest.mark.parametrize("module", ALL)
def test_invalid_body_surfaces_server_reason(module, request, tmp_path):
    args, reason, path = INVALID[module]
    server = server_for(module, request)
    res = run(module, {**conn(server.url), **args}, tmp_path)
    assert res["failed"] and res["rc"] == 1
    assert reason in res["msg"], res["msg"]
    assert "HTTP 400" in res["msg"] and server.url in res["msg"]
    assert res["error"]["status"] == 400
    assert fetch(server, path) is None, "an invalid body must leave nothing behind"


@pytest.mark.parametrize("module", ALL)
def test_wrong_credentials(module, request, tmp_path):
    """Real OpenSearch: basic auth is enforced by the counting proxy; ISM/data sources: by the double."""
    args = INVALID[module][0]
    server = server_for(module, request)
    server.reset_counts()
    res = run(module, {**conn(server.url), **args, "password": "wrong-" + PASSWORD}, tmp_path)
    assert res["failed"]
    assert "HTTP 401" in res["msg"] and "check the user/password or token" in res["msg"], res["msg"]
    assert "GET " in res["msg"] and server.url in res["msg"]
    assert "wrong-" not in json.dumps(res)
    assert server.writes() == []
    assert len(server.requests) == 1, "a 401 is an answer, not a reason to retry"


@pytest.mark.parametrize("module", ALL)
def test_unreachable_url(module, tmp_path):
    port = procs.free_port()
    args = INVALID[module][0]
    res = run(module, {**conn(f"http://127.0.0.1:{port}"), **args}, tmp_path)
    assert res["failed"]
    assert f"http://127.0.0.1:{port}/" in res["msg"]
    assert "Connection refused" in res["msg"] and "check the url option" in res["msg"], res["msg"]
    assert PASSWORD not in json.dumps(res)


# ----------------------------------------------------------------------------------------
# opensearch_index (real OpenSearch): create, in-place changes, what cannot change in place.
# ----------------------------------------------------------------------------------------
def test_index_lifecycle_real(proxy, tmp_path):
    name = "claude-code-test-000001"
    base = conn(proxy.url, name=name)
    create = {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {"dynamic": False, "properties": {"event.name": {"type": "keyword"}}},
        "aliases": {"claude-code-test-write": {"is_write_index": True}},
    }
    proxy.reset_counts()
    res = run("opensearch_index", {**base, **create}, tmp_path)
    assert res["changed"] and len(proxy.writes()) == 1
    assert res["index"]["aliases"] == {"claude-code-test-write": {"is_write_index": True}}
    assert res["index"]["mappings"]["properties"]["event"]["properties"]["name"] == {"type": "keyword"}
    assert res["index"]["settings"]["index"]["number_of_shards"] == "1"

    proxy.reset_counts()
    res = run("opensearch_index", {**base, **create}, tmp_path)
    assert res["changed"] is False and proxy.writes() == [], proxy.requests
    assert len(proxy.requests) == 1

    # in place: a dynamic setting, a new field, a new alias
    update = {
        "settings": {"index": {"refresh_interval": "2s"}, "number_of_replicas": 0},
        "mappings": {"properties": {"machine.name": {"type": "keyword"}}},
        "aliases": {"claude-code-test-write": {"is_write_index": True}, "claude-code-test-read": {}},
    }
    proxy.reset_counts()
    res = run("opensearch_index", {**base, **update}, tmp_path, check=True)
    assert res["changed"] and proxy.writes() == []
    assert res["changes"] == {
        "settings": {"index.refresh_interval": "2s"},
        "mappings": ["properties.machine"],
        "aliases": ["claude-code-test-read"],
    }
    proxy.reset_counts()
    res = run("opensearch_index", {**base, **update}, tmp_path)
    assert res["changed"]
    assert [w[0] for w in proxy.writes()] == ["PUT", "PUT", "POST"], proxy.writes()
    assert '"index.refresh_interval": "2s"' in res["diff"]["after"]
    assert '"index.refresh_interval": null' in res["diff"]["before"]
    assert res["index"]["settings"]["index"]["refresh_interval"] == "2s"
    assert res["index"]["mappings"]["properties"]["machine"] == {"properties": {"name": {"type": "keyword"}}}
    assert set(res["index"]["aliases"]) == {"claude-code-test-write", "claude-code-test-read"}
    proxy.reset_counts()
    assert run("opensearch_index", {**base, **update}, tmp_path)["changed"] is False
    assert proxy.writes() == []

    # not in place: static settings and a field type change fail before any write
    proxy.reset_counts()
    res = run(
        "opensearch_index",
        {
            **base,
            "settings": {"number_of_shards": 3, "codec": "best_compression", "refresh_interval": "9s"},
            "mappings": {"properties": {"event.name": {"type": "text"}}},
        },
        tmp_path,
    )
    assert res["failed"] and proxy.writes() == []
    for text in (
        "cannot be changed in place",
        "setting index.number_of_shards: 1 -> 3",
        "setting index.codec",
        "field event.name: type keyword -> text",
        "reindex",
        "Nothing was changed",
    ):
        assert text in res["msg"], res["msg"]
    assert fetch(proxy, name + "/_settings")[name]["settings"]["index"]["refresh_interval"] == "2s"

    # a mapping change the server refuses is reported with its reason
    res = run(
        "opensearch_index",
        {**base, "mappings": {"properties": {"event.name": {"type": "keyword", "index": False}}}},
        tmp_path,
    )
    assert res["failed"] and "HTTP 400" in res["msg"] and "event" in res["msg"], res["msg"]

    # an alias is not an index: refuse to manage or delete through it
    res = run("opensearch_index", {**conn(proxy.url), "name": "claude-code-test-read", "state": "absent"}, tmp_path)
    assert res["failed"] and "alias" in res["msg"] and fetch(proxy, name) is not None

    proxy.reset_counts()
    assert run("opensearch_index", {**base, "state": "absent"}, tmp_path)["changed"] is True
    assert [w[0] for w in proxy.writes()] == ["DELETE"] and fetch(proxy, name) is None
    assert run("opensearch_index", {**base, "state": "absent"}, tmp_path)["changed"] is False


# ----------------------------------------------------------------------------------------
# Module-specific behaviour
# ----------------------------------------------------------------------------------------
def test_ism_policy_update_uses_seq_no_double(double, tmp_path):
    args = {**conn(double.url), "policy_id": "p1", "policy": POLICY}
    run("opensearch_ism_policy", args, tmp_path)
    seq = double.policies["p1"]["_seq_no"]
    double.reset_counts()
    res = run("opensearch_ism_policy", {**args, "policy": POLICY_UPDATE}, tmp_path)
    assert res["changed"]
    (method, target) = double.writes()[0]
    assert method == "PUT" and f"if_seq_no={seq}" in target and "if_primary_term=1" in target
    assert res["seq_no"] == double.policies["p1"]["_seq_no"] != seq
    # the plugin-added fields are in the returned policy, and ignored by the comparison
    assert res["policy"]["states"][0]["actions"][0]["retry"] == {"count": 3, "backoff": "exponential", "delay": "1m"}
    assert "last_updated_time" in res["policy"]["ism_template"][0]


def test_ism_policy_concurrent_change_is_not_overwritten_double(double, tmp_path):
    args = {**conn(double.url), "policy_id": "p2", "policy": POLICY}
    run("opensearch_ism_policy", args, tmp_path)

    def other_writer(d, method, path):
        if method == "GET" and path.endswith("/p2"):
            d.concurrent_policy_write("p2")
            d.hooks.clear()

    double.hooks.append(other_writer)
    res = run("opensearch_ism_policy", {**args, "policy": POLICY_UPDATE}, tmp_path)
    assert res["failed"] and "changed by someone else" in res["msg"] and "nothing was written" in res["msg"]
    assert double.policies["p2"]["policy"]["states"][0]["transitions"][0]["conditions"]["min_index_age"] == "30d"
    assert run("opensearch_ism_policy", {**args, "policy": POLICY_UPDATE}, tmp_path)["changed"] is True


def test_ism_policy_removed_field_is_a_change_double(double, tmp_path):
    args = {**conn(double.url), "policy_id": "p3", "policy": POLICY}
    run("opensearch_ism_policy", args, tmp_path)
    without_template = {k: v for k, v in POLICY.items() if k != "ism_template"}
    res = run("opensearch_ism_policy", {**args, "policy": without_template}, tmp_path)
    assert res["changed"] and double.policies["p3"]["policy"]["ism_template"] is None


def test_datasource_secrets_double(double, tmp_path):
    args = {**conn(double.url), **DS_CREATE}
    res = run("opensearch_datasource", args, tmp_path)
    assert res["changed"] and res["secrets_sent"] is True
    stored = double.raw_datasource(DS_CREATE["name"])
    assert stored["properties"]["prometheus.auth.password"] == "prom-secret-pw"
    assert "prometheus.auth.password" not in res["datasource"]["properties"]
    assert_clean(res)
    # secrets cannot be compared: on_create leaves them alone ...
    double.reset_counts()
    new_secret = {**DS_CREATE["secret_properties"], "prometheus.auth.password": "prom-secret-pw2"}
    res = run("opensearch_datasource", {**args, "secret_properties": new_secret}, tmp_path)
    assert res["changed"] is False and double.writes() == []
    # ... always pushes them on every run
    res = run(
        "opensearch_datasource",
        {
            **args,
            "update_secret_properties": "always",
            "secret_properties": {**DS_CREATE["secret_properties"], "prometheus.auth.password": "prom-secret-pw2"},
        },
        tmp_path,
    )
    assert res["changed"] and res["secrets_sent"]
    assert double.raw_datasource(DS_CREATE["name"])["properties"]["prometheus.auth.password"] == "prom-secret-pw2"
    assert "prom-secret-pw2" not in json.dumps(res)
    # a credential given in properties is still treated as secret
    res = run(
        "opensearch_datasource",
        {
            **conn(double.url),
            "name": "other",
            "properties": {
                "prometheus.uri": "http://prometheus:9090",
                "prometheus.auth.type": "basicauth",
                "prometheus.auth.username": "u",
                "prometheus.auth.password": "prom-secret-pw",
            },
        },
        tmp_path,
    )
    assert res["changed"] and "prom-secret-pw" not in json.dumps(res)
    again = run(
        "opensearch_datasource",
        {
            **conn(double.url),
            "name": "other",
            "properties": {
                "prometheus.uri": "http://prometheus:9090",
                "prometheus.auth.type": "basicauth",
                "prometheus.auth.username": "u",
                "prometheus.auth.password": "prom-secret-pw",
            },
        },
        tmp_path,
    )
    assert again["changed"] is False


def test_datasource_status_and_connector_double(double, tmp_path):
    args = {**conn(double.url), "name": "prom", "properties": {"prometheus.uri": "http://prometheus:9090"}}
    run("opensearch_datasource", args, tmp_path)
    res = run("opensearch_datasource", {**args, "status": "disabled"}, tmp_path)
    assert res["changed"] and res["datasource"]["status"] == "DISABLED"
    res = run("opensearch_datasource", {**args, "connector": "s3glue"}, tmp_path)
    assert (
        res["failed"] and "cannot be changed" in res["msg"] and double.datasources["prom"]["connector"] == "PROMETHEUS"
    )


def test_modules_document_and_resolve_through_ansible(tmp_path, proxy):
    """ansible-doc renders every module; ansible runs one by its FQCN."""
    names = [
        f"claude_code.observability.opensearch_{m}"
        for m in ("component_template", "index_template", "ism_policy", "index", "datasource")
    ]
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
        assert {"url", "user", "password", "token", "validate_certs", "ca_path", "timeout"} <= set(doc["options"])
        assert docs[name]["examples"] and docs[name]["return"]
    proc = subprocess.run(
        [
            str(venv_bin / "ansible"),
            "localhost",
            "-m",
            names[0],
            "--check",
            "-a",
            json.dumps(
                {
                    "url": proxy.url,
                    "user": USER,
                    "password": PASSWORD,
                    "name": "via-ansible",
                    "template": {"settings": {"number_of_replicas": 0}},
                }
            ),
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
    assert result["changed"] is True and PASSWORD not in proc.stdout


@pytest.mark.parametrize(
    ("module", "plugin"),
    [("opensearch_ism_policy", "opensearch-index-management"), ("opensearch_datasource", "opensearch-sql")],
)
def test_plugin_modules_on_real_opensearch_without_the_plugin(module, plugin, proxy, tmp_path):
    """The real OpenSearch here has no ISM/SQL plugin: the module must say so, not pretend."""
    args = LIFECYCLES[module][0]
    proxy.reset_counts()
    res = run(module, {**conn(proxy.url), **args}, tmp_path)
    assert res["failed"] and "no handler found for uri" in res["msg"], res["msg"]
    assert f"install the {plugin}" in res["msg"]
    assert proxy.writes() == []
