"""Two server hosts split the stack: one runs storage (Prometheus, OpenSearch),
the other the collector. Addresses come from the inventory only; a client
configured by client.yml finds the collector host although it is not the first
server; data sent there is queryable on the storage host; status and verify
work across both. Prometheus asks for basic auth over TLS
(prometheus_web_security): the collector on the other host logs in with what
it read from the storage host. Both "hosts" are this machine's Docker, each with its own
compose project, reaching each other at the host's bridge address."""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from helpers import deploy, multihost, otlp, playbook, procs

pytestmark = pytest.mark.slow(seconds=400)  # the conftest starts the longest first

SENDER = Path(__file__).resolve().parents[1] / "multihost" / "send_like_claude.py"


def _inventory(path: Path, servers: dict, group_vars: dict, clients: list[str] = ()) -> Path:
    return multihost.inventory(path, "", list(clients), servers=servers, group_vars=group_vars)


_local = multihost.local_host


@pytest.fixture(scope="module")
def split(testbed, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("split")
    bridge = multihost.bridge_address()
    tag = uuid.uuid4().hex[:6]
    store = {
        "stack_components": ["prometheus", "opensearch"],
        "stack_project_name": f"cco-store-{tag}",
        "stack_project_dir": str(tmp / "store"),
        "prometheus_port": procs.free_port(),
        "opensearch_port": procs.free_port(),
        # Plain HTTP on the bridge's private address: the test bed's OpenSearch has no security plugin.
        "opensearch_allow_insecure_http": True,
        "opensearch_heap_size": "512m",
        "opensearch_java_opts": deploy.JAVA_OPTS,
        "prometheus_web_security": True,
    }
    ingest = {
        "stack_components": ["otel_collector"],
        "stack_project_name": f"cco-ingest-{tag}",
        "stack_project_dir": str(tmp / "ingest"),
        "stack_otlp_bind_address": bridge,
        "otel_collector_otlp_grpc_port": procs.free_port(),
        "otel_collector_otlp_http_port": procs.free_port(),
        "otel_collector_health_port": procs.free_port(),
        "otel_collector_telemetry_port": procs.free_port(),
    }
    group_vars = {
        "ansible_host": bridge,
        "stack_flavour": "opensearch",
        "stack_pull": "never",
        "otel_collector_image": testbed["OTELCOL_IMAGE"],
        "prometheus_image": testbed["PROMETHEUS_IMAGE"],
        "opensearch_image": testbed["OPENSEARCH_IMAGE"],
        # No OpenSearch Dashboards image can be had here.
        "opensearch_dashboards_enabled": False,
        "prometheus_scrape_interval": "1s",
        "client_otlp_protocol": "http/json",
        "client_unreachable_action": "fail",
    }
    clients = multihost.start_clients(testbed["CLIENT_HOST_IMAGE"], 1, prefix=f"cco-split-{tag}")
    # store comes first: the client must still find the collector on ingest.
    servers = {"store": _local(**store), "ingest": _local(**ingest)}
    inv = _inventory(tmp / "inventory.json", servers, group_vars, clients)
    try:
        proc, recap = playbook.run("site.yml", {}, "-i", str(inv))
        yield {"inv": inv, "store": store, "ingest": ingest, "bridge": bridge, "clients": clients, "out": proc.stdout}
    finally:
        multihost.remove_clients(clients)
        for project in (store["stack_project_name"], ingest["stack_project_name"]):
            subprocess.run(["docker", "compose", "-p", project, "down", "-v"], capture_output=True, check=False)
        subprocess.run(
            ["docker", "volume", "rm", "-f", f"{ingest['stack_project_name']}-otelcol-queue"],
            capture_output=True,
            check=False,
        )


def _services(project: str) -> set[str]:
    out = subprocess.run(
        ["docker", "compose", "-p", project, "ps", "--format", "json"], capture_output=True, text=True, check=True
    )
    return {json.loads(line)["Service"] for line in out.stdout.splitlines() if line.strip()}


def test_each_host_runs_only_its_components_and_converges(split):
    assert _services(split["store"]["stack_project_name"]) == {"prometheus", "opensearch"}
    assert _services(split["ingest"]["stack_project_name"]) == {"otel-collector"}
    # Only what the other host needs leaves loopback: OpenSearch and Prometheus'
    # OTLP receiver (the collector pushes to both) and the collector's own
    # metrics (Prometheus scrapes them).
    store_ports = _published(split["store"]["stack_project_name"])
    assert store_ports["prometheus"] == {(split["bridge"], split["store"]["prometheus_port"])}
    assert store_ports["opensearch"] == {(split["bridge"], split["store"]["opensearch_port"])}
    ingest_ports = _published(split["ingest"]["stack_project_name"])["otel-collector"]
    assert (split["bridge"], split["ingest"]["otel_collector_telemetry_port"]) in ingest_ports
    config = yaml.safe_load((Path(split["ingest"]["stack_project_dir"]) / "otel-collector" / "config.yaml").read_text())
    assert config["exporters"]["otlphttp/prometheus"]["metrics_endpoint"] == (
        f"https://{split['bridge']}:{split['store']['prometheus_port']}/api/v1/otlp/v1/metrics"
    )
    # What the collector logs in with and trusts came from store.
    store_dir, ingest_dir = Path(split["store"]["stack_project_dir"]), Path(split["ingest"]["stack_project_dir"])
    password = (store_dir / "prometheus" / "secrets" / "web-password").read_text()
    basic = (ingest_dir / "otel-collector" / "secrets" / "prometheus_basic").read_text()
    assert base64.b64decode(basic).decode() == f"claude-code:{password}"
    ca = (ingest_dir / "otel-collector" / "tls" / "prometheus-ca.crt").read_text()
    assert ca == (store_dir / "pki" / "ca.crt").read_text()
    assert "Prometheus: on store" in split["out"] and "Collector: on ingest" in split["out"]
    _proc, recap = playbook.run("site.yml", {}, "-i", str(split["inv"]))
    assert recap["store"]["changed"] == 0 and recap["ingest"]["changed"] == 0, recap


def _published(project: str) -> dict[str, set]:
    out = subprocess.run(
        ["docker", "compose", "-p", project, "ps", "--format", "json"], capture_output=True, text=True, check=True
    )
    ports = {}
    for line in out.stdout.splitlines():
        svc = json.loads(line)
        ports[svc["Service"]] = {(p["URL"], p["PublishedPort"]) for p in svc["Publishers"] if p["PublishedPort"]}
    return ports


def test_prometheus_on_store_scrapes_the_collector_on_ingest(split):
    # Published on the bridge address: the collector on ingest pushes to it.
    prom = f"https://{split['bridge']}:{split['store']['prometheus_port']}"
    target = f"{split['bridge']}:{split['ingest']['otel_collector_telemetry_port']}"
    auth = procs.login(split["store"]["stack_project_dir"])
    up = procs.wait_for(
        lambda: procs.prom_scalar(prom, f'up{{job="otel-collector", instance="{target}"}}', auth=auth) == 1,
        timeout=60,
        what=f"Prometheus scraping {target}",
    )
    assert up


def test_events_sent_to_ingest_land_in_opensearch_on_store(split):
    http = f"http://{split['bridge']}:{split['ingest']['otel_collector_otlp_http_port']}"
    sent = 0
    for signal, payload in otlp.session_payloads("tool-session"):
        assert otlp.post(http, signal, payload) == 200
        if signal == "logs":
            sent += len(list(otlp.log_records(payload)))
    base = f"http://{split['bridge']}:{split['store']['opensearch_port']}"
    session = otlp.events("tool-session", "api_request")[0]["session.id"]
    query = {"query": {"match_phrase": {"attributes.session_id": session}}}
    count = procs.wait_for(
        lambda: (c := procs.http_json(f"{base}/claude-code/_count", "POST", query)["count"]) >= sent and c,
        timeout=60,
        what=f"{sent} events of the session in OpenSearch on store",
    )
    assert count == sent


def test_a_client_finds_the_collector_host_and_reaches_prometheus(split):
    client = split["clients"][0]
    playbook.run("client.yml", {}, "-i", str(split["inv"]))
    settings = subprocess.run(
        ["docker", "exec", client, "cat", "/root/.claude/settings.json"], capture_output=True, text=True, check=True
    )
    endpoint = json.loads(settings.stdout)["env"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert endpoint == f"http://{split['bridge']}:{split['ingest']['otel_collector_otlp_http_port']}"
    subprocess.run(["docker", "cp", str(SENDER), f"{client}:/tmp/send.py"], check=True, capture_output=True)
    out = subprocess.run(
        ["docker", "exec", client, "python3", "/tmp/send.py", "0.0375"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0 and out.stdout.strip() == "200", out.stdout + out.stderr
    # Published on the bridge address: the collector on ingest pushes to it.
    prom = f"https://{split['bridge']}:{split['store']['prometheus_port']}"
    expr = f'sum(sum_over_time(claude_code_cost_usage_USD{{machine_name="{client}"}}[1h]))'
    auth = procs.login(split["store"]["stack_project_dir"])
    got = procs.wait_for(
        lambda: (v := procs.prom_scalar(prom, expr, auth=auth)) is not None and abs(v - 0.0375) < 1e-9 and v,
        timeout=60,
        what=f"{client}'s cost in Prometheus on store",
    )
    assert abs(got - 0.0375) < 1e-9


def test_verify_and_status_follow_the_split(split):
    proc, recap = playbook.run("playbooks/verify.yml", {}, "-i", str(split["inv"]))
    assert "is in OpenSearch, Prometheus." in proc.stdout
    assert "Prometheus (on store)" in proc.stdout and "OpenSearch (on store)" in proc.stdout
    proc, recap = playbook.run("playbooks/status.yml", {}, "-i", str(split["inv"]))
    assert "last Claude Code data in Prometheus: 20" in proc.stdout
    assert "last Claude Code data in OpenSearch: 20" in proc.stdout
    assert "Collector health: ok" in proc.stdout


# Rendering only, on an address nothing listens on: nothing is started.
RENDER_ONLY = {"ansible_host": "192.168.77.10", "stack_flavour": "opensearch", "stack_deploy": False}


def _render_only_hosts(tmp_path: Path) -> dict:
    tag = uuid.uuid4().hex[:6]
    return {
        "store": _local(
            stack_components=["prometheus", "opensearch"],
            stack_project_dir=str(tmp_path / "s"),
            stack_project_name=f"cco-rstore-{tag}",
        ),
        "ingest": _local(
            stack_components=["otel_collector"],
            stack_project_dir=str(tmp_path / "i"),
            stack_project_name=f"cco-ringest-{tag}",
        ),
    }


def _remove_queue_volumes(hosts: dict) -> None:
    for host in hosts.values():
        name = f"{host['stack_project_name']}-otelcol-queue"
        subprocess.run(["docker", "volume", "rm", "-f", name], capture_output=True, check=False)


@pytest.mark.parametrize(
    ("store_extra", "ingest_extra", "message"),
    [
        # OpenSearch must be reachable from the collector host: not on loopback.
        ({"ansible_host": "127.0.0.1"}, {}, "set stack_advertise_address"),
        # Docker publishes ports on IP addresses, not names.
        ({"ansible_host": "nas.lan"}, {}, "Docker publishes ports on IP addresses only"),
        # Nobody runs Prometheus.
        ({"stack_components": ["opensearch"]}, {}, "runs prometheus: add it to the"),
    ],
)
def test_a_split_that_cannot_work_is_refused_clearly(tmp_path, store_extra, ingest_extra, message):
    hosts = _render_only_hosts(tmp_path)
    hosts["store"] |= store_extra
    hosts["ingest"] |= ingest_extra
    inv = _inventory(tmp_path / "inventory.json", hosts, RENDER_ONLY)
    try:
        proc, _recap = playbook.run("site.yml", {}, "-i", str(inv), check=False)
        assert proc.returncode != 0
        assert message in proc.stdout, proc.stdout[-3000:]
        assert not (tmp_path / "s" / "compose.yaml").exists()  # nothing rendered on the host that was refused
    finally:
        _remove_queue_volumes(hosts)


def test_secured_opensearch_elsewhere_gets_the_collector_its_password(tmp_path):
    """Rendering only (the test bed's OpenSearch has no security plugin): with
    OpenSearch on a network address, the storage host generates and keeps an
    admin password, and the collector host sends over HTTPS with exactly it."""
    hosts = _render_only_hosts(tmp_path)
    inv = _inventory(tmp_path / "inventory.json", hosts, RENDER_ONLY)
    try:
        _check_secured_render(tmp_path, inv)
    finally:
        _remove_queue_volumes(hosts)


def _check_secured_render(tmp_path: Path, inv: Path) -> None:
    _proc, recap = playbook.run("site.yml", {}, "-i", str(inv), "--check")
    assert recap["store"]["changed"] > 0 and recap["ingest"]["changed"] > 0  # announced...
    assert not (tmp_path / "s" / "opensearch").exists()  # ...and nothing written
    playbook.run("site.yml", {}, "-i", str(inv))
    config = yaml.safe_load((tmp_path / "i" / "otel-collector" / "config.yaml").read_text())
    http = config["exporters"]["opensearch/events"]["http"]
    assert http["endpoint"] == "https://192.168.77.10:9200"
    assert http["headers"] == {"Authorization": "${env:OPENSEARCH_AUTHORIZATION}"}
    password = (tmp_path / "s" / "opensearch" / "admin-password").read_text().strip()
    env = dict(
        line.split("=", 1)
        for line in (tmp_path / "i" / "otel-collector" / "secrets.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert base64.b64decode(env["OPENSEARCH_AUTHORIZATION"].removeprefix("Basic ")).decode() == f"admin:{password}"
    assert oct((tmp_path / "i" / "otel-collector" / "secrets.env").stat().st_mode & 0o777) == "0o600"
    compose = yaml.safe_load((tmp_path / "s" / "compose.yaml").read_text())
    assert compose["services"]["opensearch"]["ports"] == ["192.168.77.10:9200:9200"]
