"""The opensearch role: what it renders on loopback and on a LAN address, the
generated admin password, and its compose service running the test bed's
OpenSearch build (stand-in image for opensearchproject/opensearch)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess

import yaml
from helpers import playbook, procs

PLAYBOOK = "tests/integration/playbooks/opensearch_role.yml"


def render(tmp_path, **extra):
    facts = tmp_path / "facts.json"
    proc, recap = playbook.run(
        PLAYBOOK, {"opensearch_project_dir": str(tmp_path), "opensearch_facts_out": str(facts), **extra}, "-v"
    )
    return json.loads(facts.read_text()), proc.stdout, recap["localhost"]


def test_loopback_disables_security_and_binds_locally(tmp_path):
    facts, _out, _recap = render(tmp_path)
    svc = facts["compose"]["services"]["opensearch"]
    assert svc["ports"] == ["127.0.0.1:9200:9200"]
    assert svc["environment"]["DISABLE_SECURITY_PLUGIN"] == "true"
    assert svc["environment"]["discovery.type"] == "single-node"
    assert svc["environment"]["OPENSEARCH_JAVA_OPTS"] == "-Xms1g -Xmx1g"
    assert svc["env_file"] == []
    assert svc["volumes"] == ["opensearch-data:/usr/share/opensearch/data"]
    assert facts["url"] == "http://127.0.0.1:9200"
    assert facts["exporter"]["name"] == "opensearch/events"
    assert facts["exporter"]["config"]["http"] == {"endpoint": "http://opensearch:9200"}
    assert facts["exporter"]["config"]["logs_index"] == "claude-code"
    assert facts["traces_index"] == "ss4o_traces-claude_code-default"
    assert not (tmp_path / "opensearch" / "admin-password").exists()


def test_lan_address_enables_security_with_a_persistent_password(tmp_path):
    facts, out1, _recap = render(tmp_path, opensearch_bind_address="192.0.2.10", opensearch_heap_size="2g")
    svc = facts["compose"]["services"]["opensearch"]
    assert svc["ports"] == ["192.0.2.10:9200:9200"]
    assert "DISABLE_SECURITY_PLUGIN" not in svc["environment"]
    assert svc["environment"]["OPENSEARCH_JAVA_OPTS"] == "-Xms2g -Xmx2g"
    assert svc["env_file"] == ["./opensearch/secrets.env"]
    assert facts["url"] == "https://192.0.2.10:9200"
    assert facts["exporter"]["config"]["http"]["endpoint"] == "https://opensearch:9200"
    assert facts["exporter_env_keys"] == ["OPENSEARCH_AUTHORIZATION"]
    pw_file = tmp_path / "opensearch" / "admin-password"
    secrets = tmp_path / "opensearch" / "secrets.env"
    for path in (pw_file, secrets):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    password = pw_file.read_text().strip()
    # OpenSearch refuses a weak initial admin password.
    assert len(password) >= 16 and all(re.search(p, password) for p in ("[a-z]", "[A-Z]", "[0-9]", "[^A-Za-z0-9]"))
    assert secrets.read_text() == f"OPENSEARCH_INITIAL_ADMIN_PASSWORD={password}\n"
    facts2, out2, recap2 = render(tmp_path, opensearch_bind_address="192.0.2.10", opensearch_heap_size="2g")
    assert pw_file.read_text().strip() == password
    assert recap2["changed"] == 0, out2[-3000:]
    assert facts2["compose"] == facts["compose"]
    for out in (out1, out2):
        assert password not in out


def test_compose_service_becomes_healthy_with_the_test_bed_build(tmp_path, testbed):
    """The rendered service (image swapped for the test bed's build) starts and passes its own healthcheck."""
    port = procs.free_port()
    facts, _out, _recap = render(
        tmp_path, opensearch_port=port, opensearch_heap_size="512m", opensearch_java_opts="-XX:TieredStopAtLevel=1"
    )
    compose = {"name": f"cco-os-{os.getpid()}", **facts["compose"]}
    # The extra JVM options follow the heap, where the node's start script reads them.
    assert facts["compose"]["services"]["opensearch"]["environment"]["OPENSEARCH_JAVA_OPTS"] == (
        "-Xms512m -Xmx512m -XX:TieredStopAtLevel=1"
    )
    compose["services"]["opensearch"]["image"] = testbed["OPENSEARCH_IMAGE"]
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(compose))
    base = ["docker", "compose", "-f", str(tmp_path / "compose.yaml")]
    try:
        up = subprocess.run(
            [*base, "up", "-d", "--wait", "--wait-timeout", "180"], check=False, capture_output=True, text=True
        )
        assert up.returncode == 0, up.stdout + up.stderr
        health = procs.http_json(f"http://127.0.0.1:{port}/_cluster/health")
        assert health["status"] in ("green", "yellow")
        assert health["cluster_name"] == "claude-observability"
    finally:
        subprocess.run([*base, "down", "-v"], capture_output=True, check=False)
