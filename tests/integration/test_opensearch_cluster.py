"""The opensearch role's scale path: three inventory hosts form one cluster.

The three hosts are this machine (local connection), each with its own
compose project, data volume, node name and ports, running the test bed's
OpenSearch 3.6.0 build. They use the host's network with every address on
loopback: a node reachable on any other address runs OpenSearch's production
bootstrap checks, and this machine's Docker daemon caps open files at 20000
where those checks want 65535, so a non-loopback cluster cannot start here.
The rules for LAN clusters (security, the insecure opt-in) are checked on what
the role renders."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml
from helpers import deploy, playbook, procs

pytestmark = pytest.mark.slow(seconds=320)  # the conftest starts the longest first

CLUSTER_PLAY = "tests/integration/playbooks/opensearch_cluster.yml"
ROLE_PLAY = "tests/integration/playbooks/opensearch_role.yml"
BOOTSTRAP_PLAY = "tests/integration/playbooks/opensearch_bootstrap.yml"
NODES = ("osn-a", "osn-b", "osn-c")
MAP_COUNT_TASK = "Fail when vm.max_map_count is too low for a cluster node"


def _docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def _teardown(base: Path, projects: dict[str, str]) -> None:
    for node, project in projects.items():
        compose = base / node / "compose.yaml"
        files = ["-f", str(compose)] if compose.exists() else []
        _docker("compose", *files, "-p", project, "down", "-v", "--remove-orphans", "--timeout", "5")
        # Whatever compose could not name without its file.
        ids = _docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}").stdout.split()
        if ids:
            _docker("rm", "-f", *ids)
        _docker("volume", "rm", "-f", f"{project}_opensearch-data")
        _docker("network", "rm", f"{project}_default")
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(testbed):
    tag = uuid.uuid4().hex[:6]
    # Outside pytest's tmp dir, like the compose projects of a real host.
    base = Path(tempfile.mkdtemp(prefix=f"cco-osc-{tag}-"))
    projects = {node: f"cco-osc-{tag}-{node}" for node in NODES}
    hosts = {}
    for node in NODES:
        (base / node).mkdir()
        hosts[node] = {
            "opensearch_project_dir": str(base / node),
            "opensearch_compose_project": projects[node],
            "opensearch_port": procs.free_port(),
            "opensearch_transport_port": procs.free_port(),
            "opensearch_publish_host": "127.0.0.1",
        }
    inventory = {
        "all": {
            "children": {
                "opensearch_nodes": {
                    "hosts": hosts,
                    "vars": {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                        "opensearch_cluster_group": "opensearch_nodes",
                        "opensearch_cluster_name": f"cco-osc-{tag}",
                        "opensearch_deploy": True,
                        "opensearch_network_mode": "host",
                        "opensearch_bind_address": "127.0.0.1",
                        "opensearch_transport_bind_address": "127.0.0.1",
                        "opensearch_image": testbed["OPENSEARCH_IMAGE"],
                        "opensearch_pull": "never",
                        "opensearch_heap_size": "256m",
                        "opensearch_java_opts": deploy.JAVA_OPTS,
                        "opensearch_memory_limit_mib": 1024,
                        "opensearch_wait_timeout": 240,
                    },
                }
            }
        }
    }
    inv = base / "inventory.yml"
    inv.write_text(yaml.safe_dump(inventory))
    try:
        proc, recap = playbook.run(CLUSTER_PLAY, {}, "-i", str(inv))
        urls = {node: f"http://127.0.0.1:{hosts[node]['opensearch_port']}" for node in NODES}
        yield {"inventory": inv, "hosts": hosts, "urls": urls, "stdout": proc.stdout, "recap": recap, "base": base}
    finally:
        _teardown(base, projects)


def _published(cluster, node: str) -> dict:
    return json.loads((cluster["base"] / node / "published.json").read_text())


def test_three_hosts_form_a_green_cluster(cluster):
    assert all(cluster["recap"][node]["changed"] > 0 for node in NODES), cluster["recap"]
    for url in cluster["urls"].values():
        health = procs.http_json(
            f"{url}/_cluster/health?wait_for_status=green&wait_for_nodes=3&timeout=60s", timeout=70
        )
        assert health["status"] == "green", health
        assert health["number_of_nodes"] == 3, health
    names = {n["name"] for n in procs.http_json(f"{cluster['urls']['osn-a']}/_nodes")["nodes"].values()}
    assert names == set(NODES)
    # Seed hosts and first cluster managers come from the inventory group.
    transports = sorted(f"127.0.0.1:{cluster['hosts'][n]['opensearch_transport_port']}" for n in NODES)
    for node in NODES:
        env = _published(cluster, node)["compose"]["services"]["opensearch"]["environment"]
        assert sorted(env["discovery.seed_hosts"].split(",")) == transports
        assert env["cluster.initial_cluster_manager_nodes"] == ",".join(NODES)
        assert env["node.name"] == node
        assert env["transport.publish_port"] == str(cluster["hosts"][node]["opensearch_transport_port"])
        assert "discovery.type" not in env
    # The role itself read vm.max_map_count on every node before starting it.
    out = cluster["stdout"]
    assert out.count(f"{MAP_COUNT_TASK}") == 1
    current = Path("/proc/sys/vm/max_map_count").read_text().strip()
    assert out.count(f'"msg": "vm.max_map_count is {current}"') == 3


def test_second_run_changes_nothing(cluster):
    _proc, recap = playbook.run(CLUSTER_PLAY, {}, "-i", str(cluster["inventory"]))
    assert {node: recap[node]["changed"] for node in NODES} == dict.fromkeys(NODES, 0)


def _settled_state(url: str) -> dict:
    procs.http_json(
        f"{url}/_cluster/health?wait_for_status=green&wait_for_no_initializing_shards=true"
        "&wait_for_no_relocating_shards=true&wait_for_events=languid&timeout=60s",
        timeout=70,
    )
    state = procs.http_json(f"{url}/_cluster/state/version")
    stats = procs.http_json(f"{url}/_stats/indexing?expand_wildcards=all")["_all"]["total"]["indexing"]
    return {"version": state["version"], "index_total": stats["index_total"], "delete_total": stats["delete_total"]}


def test_bootstrap_through_one_node_is_idempotent_and_replicated(cluster):
    url_a, url_c = cluster["urls"]["osn-a"], cluster["urls"]["osn-c"]
    extra = {"opensearch_bootstrap_url": url_a, "opensearch_bootstrap_replicas": 1}
    _first, recap1 = playbook.run(BOOTSTRAP_PLAY, extra)
    assert recap1["localhost"]["changed"] > 0
    before = _settled_state(url_c)
    second, recap2 = playbook.run(BOOTSTRAP_PLAY, extra)
    assert recap2["localhost"]["changed"] == 0, second.stdout[-4000:]
    # No write of any kind: the cluster state (templates, data streams,
    # settings) kept its version and no document was indexed or deleted.
    assert _settled_state(url_c) == before
    # The events data stream's backing index has its replica on another node.
    shards = procs.http_json(f"{url_c}/_cat/shards/.ds-claude-code-*?format=json")
    assert len(shards) == 2, shards
    assert {s["prirep"] for s in shards} == {"p", "r"}
    assert {s["state"] for s in shards} == {"STARTED"}
    assert len({s["node"] for s in shards}) == 2, shards
    assert {s["node"] for s in shards} <= set(NODES)


def _render(tmp_path, check: bool = True, **extra):
    facts = tmp_path / "facts.json"
    proc, _recap = playbook.run(
        ROLE_PLAY,
        {"opensearch_project_dir": str(tmp_path), "opensearch_facts_out": str(facts), **extra},
        check=check,
    )
    return proc, (json.loads(facts.read_text()) if facts.exists() else None)


LAN_CLUSTER = {
    "opensearch_seed_hosts": ["10.0.0.5:9300", "10.0.0.6:9300", "10.0.0.7:9300"],
    "opensearch_initial_cluster_manager_nodes": ["os1", "os2", "os3"],
    "opensearch_node_name": "os1",
    "opensearch_publish_host": "10.0.0.5",
    "opensearch_transport_bind_address": "10.0.0.5",
}


def test_lan_cluster_keeps_security_unless_trusted_network_opted_in(tmp_path):
    # Each node would otherwise generate its own, and only one can win the cluster-wide security index.
    proc, facts = _render(tmp_path / "nopassword", check=False, **LAN_CLUSTER)
    assert proc.returncode != 0 and facts is None
    assert "needs the same opensearch_admin_password on every node" in " ".join(proc.stdout.split())
    _proc, facts = _render(tmp_path / "secure", opensearch_admin_password="Cluster-Shared-Pw-42", **LAN_CLUSTER)
    svc = facts["compose"]["services"]["opensearch"]
    # The REST API stays on loopback, but the transport port faces the LAN.
    assert svc["ports"] == ["127.0.0.1:9200:9200", "10.0.0.5:9300:9300"]
    assert "DISABLE_SECURITY_PLUGIN" not in svc["environment"]
    assert svc["env_file"] == ["./opensearch/secrets.env"]
    assert facts["url"] == "https://127.0.0.1:9200"
    assert svc["environment"]["discovery.seed_hosts"] == "10.0.0.5:9300,10.0.0.6:9300,10.0.0.7:9300"
    assert svc["environment"]["network.publish_host"] == "10.0.0.5"

    _proc, facts = _render(tmp_path / "trusted", opensearch_allow_insecure_cluster=True, **LAN_CLUSTER)
    svc = facts["compose"]["services"]["opensearch"]
    assert svc["environment"]["DISABLE_SECURITY_PLUGIN"] == "true"
    assert svc["env_file"] == []
    assert facts["url"] == "http://127.0.0.1:9200"

    # The opt-in names one private network; every interface or a public address is refused.
    for address in ("0.0.0.0", "203.0.113.5"):
        proc, facts = _render(
            tmp_path / address,
            check=False,
            opensearch_allow_insecure_cluster=True,
            **{**LAN_CLUSTER, "opensearch_transport_bind_address": address},
        )
        assert proc.returncode != 0 and facts is None
        assert (
            "opensearch_transport_bind_address on one private address "
            f"(10/8, 172.16/12, 192.168/16, fc00::/7), not '{address}'" in " ".join(proc.stdout.split())
        )


def test_single_host_group_stays_single_node(tmp_path):
    # The default inventory's observability_servers holds this host only.
    _proc, facts = _render(tmp_path, opensearch_cluster_group="observability_servers")
    env = facts["compose"]["services"]["opensearch"]["environment"]
    assert env["discovery.type"] == "single-node"
    assert env["node.name"] == "opensearch"
    assert "discovery.seed_hosts" not in env
    assert facts["compose"]["services"]["opensearch"]["ports"] == ["127.0.0.1:9200:9200"]


def test_cluster_node_refuses_a_low_max_map_count(tmp_path):
    current = int(Path("/proc/sys/vm/max_map_count").read_text())
    proc, facts = _render(
        tmp_path,
        check=False,
        opensearch_max_map_count=current + 1,
        opensearch_allow_insecure_cluster=True,
        **LAN_CLUSTER,
    )
    assert proc.returncode != 0 and facts is None
    out = " ".join(proc.stdout.split())
    assert f"vm.max_map_count is {current} on localhost; an OpenSearch cluster node needs at least {current + 1}" in out
    assert "docker_engine_set_max_map_count=true" in out
