"""One server, several client machines: site.yml brings up the stack on the
server, client.yml configures every laptop (containers reached through the
community.docker.docker connection), each laptop sends what its Claude Code
settings say, and every machine.name shows up in Prometheus."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from helpers import multihost, playbook, procs

pytestmark = pytest.mark.slow(seconds=100)  # the conftest starts the longest first

SENDER = Path(__file__).resolve().parents[1] / "multihost" / "send_like_claude.py"


@pytest.fixture(scope="module", params=["plain", "tls-token"])
def homelab(request, testbed, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("homelab")
    server = multihost.bridge_address()
    clients = multihost.start_clients(testbed["CLIENT_HOST_IMAGE"], 3)
    name = f"cco-lab-{uuid.uuid4().hex[:6]}"
    extra = {
        "stack_project_name": name,
        "stack_project_dir": str(tmp / name),
        "stack_pull": "never",
        "stack_flavour": "none",
        "stack_otlp_bind_address": server,  # the LAN address, as in inventories/example
        "otel_collector_image": testbed["OTELCOL_IMAGE"],
        "prometheus_image": testbed["PROMETHEUS_IMAGE"],
        "otel_collector_otlp_grpc_port": procs.free_port(),
        "otel_collector_otlp_http_port": procs.free_port(),
        "otel_collector_health_port": procs.free_port(),
        "prometheus_port": procs.free_port(),
        "prometheus_scrape_interval": "1s",
        "client_otlp_protocol": "http/json",
        "client_unreachable_action": "fail",
    }
    if request.param == "tls-token":  # one variable each: a generated CA + certificate, and a token
        extra |= {
            "otel_collector_tls_generate": True,
            "otel_collector_bearer_token": "lab-" + uuid.uuid4().hex,
            "client_otlp_ca_cert_path": "/etc/claude-code/claude-observability-ca.pem",
        }
    inv = multihost.inventory(tmp / "inventory.json", server, clients)
    try:
        playbook.run("site.yml", extra, "-i", str(inv))
        proc, recap = playbook.run("client.yml", extra, "-i", str(inv))
        yield {"extra": extra, "inv": inv, "clients": clients, "recap": recap, "secure": request.param != "plain"}
    finally:
        multihost.remove_clients(clients)
        subprocess.run(["docker", "compose", "-p", name, "down", "-v"], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", "-f", f"{name}-otelcol-queue"], capture_output=True, check=False)


def test_every_client_configured_once(homelab):
    for client in homelab["clients"]:
        assert homelab["recap"][client]["changed"] > 0 and homelab["recap"][client]["failed"] == 0
    _proc, recap = playbook.run("client.yml", homelab["extra"], "-i", str(homelab["inv"]))
    assert all(recap[c]["changed"] == 0 for c in homelab["clients"]), recap


def test_every_machine_reaches_prometheus(homelab):
    expected = {}
    for i, client in enumerate(homelab["clients"], start=1):
        subprocess.run(["docker", "cp", str(SENDER), f"{client}:/tmp/send.py"], check=True, capture_output=True)
        cost = 0.01 * i
        out = subprocess.run(
            ["docker", "exec", client, "python3", "/tmp/send.py", str(cost)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 0 and out.stdout.strip() == "200", out.stdout + out.stderr
        expected[client] = cost
    prom = f"http://127.0.0.1:{homelab['extra']['prometheus_port']}"

    def by_machine():
        res = procs.prom_query(prom, "sum by (machine_name) (sum_over_time(claude_code_cost_usage_USD[1h]))")
        got = {r["metric"]["machine_name"]: float(r["value"][1]) for r in res}
        return got if set(got) >= set(expected) else None

    got = procs.wait_for(by_machine, timeout=60, what="every machine_name in Prometheus")
    for machine, cost in expected.items():
        assert abs(got[machine] - cost) < 1e-9


def test_unauthenticated_and_plain_text_sends_are_refused(homelab):
    if not homelab["secure"]:
        assert homelab["extra"].get("otel_collector_bearer_token") is None
        return
    client = homelab["clients"][0]
    subprocess.run(["docker", "cp", str(SENDER), f"{client}:/tmp/send.py"], check=True, capture_output=True)
    env = subprocess.run(
        [
            "docker",
            "exec",
            client,
            "python3",
            "-c",
            "import json;print(json.load(open('/root/.claude/settings.json'))['env']['OTEL_EXPORTER_OTLP_ENDPOINT'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert env.stdout.startswith("https://")
    for mode, refused in (("no-token", "401"), ("plain-text", None)):
        out = subprocess.run(
            ["docker", "exec", client, "python3", "/tmp/send.py", "0.5", mode],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        assert out != "200", f"{mode} send was accepted"
        if refused:
            assert out == refused, out
