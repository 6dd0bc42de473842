"""Operations playbooks against a real stack: status, verify, upgrade (data kept), teardown."""

from __future__ import annotations

import re
import subprocess
import uuid

import pytest
from helpers import deploy, otlp, playbook, procs


@pytest.fixture(scope="module")
def stack(testbed, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ops")
    extra = deploy.stack_vars(testbed, tmp, "ops")
    playbook.run("site.yml", extra)
    yield extra
    deploy.down(extra)


def _volumes(name):
    out = subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True, text=True, check=True).stdout
    return {v for v in out.split() if v.startswith(name)}


def test_status_reports_services_and_last_data(stack):
    proc, recap = playbook.run("playbooks/status.yml", stack)
    assert recap["localhost"]["failed"] == 0
    assert "otel-collector: Up" in proc.stdout and "prometheus: Up" in proc.stdout
    assert "collector health: ok" in proc.stdout


def test_verify_sends_a_session_and_finds_it(stack):
    proc, _recap = playbook.run("playbooks/verify.yml", stack)
    assert "is in prometheus." in proc.stdout  # metrics only: no event backend in this flavour
    assert f"127.0.0.1:{stack['prometheus_port']}/graph" in proc.stdout
    session = re.search(r"Session (verify-localhost-\d+) \(cost 0.0123 USD\)", proc.stdout)[1]
    expr = f'sum(sum_over_time(claude_code_cost_usage_USD{{session_id="{session}"}}[1h]))'
    got = procs.prom_scalar(f"http://127.0.0.1:{stack['prometheus_port']}", expr)
    assert got is not None and abs(got - 0.0123) < 1e-12


def test_status_fails_clearly_when_a_service_is_down(stack):
    name = stack["stack_project_name"]
    subprocess.run(["docker", "compose", "-p", name, "stop", "prometheus"], check=True, capture_output=True)
    try:
        proc, _recap = playbook.run("playbooks/status.yml", stack, check=False)
        assert proc.returncode != 0
        assert "Some of the stack is down" in proc.stdout
    finally:
        subprocess.run(["docker", "compose", "-p", name, "start", "prometheus"], check=True, capture_output=True)
        procs.wait_http(f"http://127.0.0.1:{stack['prometheus_port']}/-/ready", timeout=60)


def test_upgrade_keeps_data(stack, testbed):
    prom = f"http://127.0.0.1:{stack['prometheus_port']}"
    http = f"http://127.0.0.1:{stack['otel_collector_otlp_http_port']}"
    for signal, payload in otlp.session_payloads("tool-session"):
        otlp.post(http, signal, payload)
    expr = 'sum(sum_over_time(claude_code_cost_usage_USD{project="demo"}[1h]))'
    before = procs.wait_for(lambda: procs.prom_scalar(prom, expr), timeout=30, what="cost before the upgrade")
    assert before >= 0.002512 - 1e-9
    # A "new release": the same software under a new tag.
    new_tag = testbed["PROMETHEUS_IMAGE"].rsplit(":", 1)[0] + ":upgrade-" + uuid.uuid4().hex[:6]
    subprocess.run(["docker", "tag", testbed["PROMETHEUS_IMAGE"], new_tag], check=True)
    try:
        proc, recap = playbook.run("playbooks/upgrade.yml", {**stack, "prometheus_image": new_tag})
        assert recap["localhost"]["changed"] > 0
        image = subprocess.run(
            ["docker", "compose", "-p", stack["stack_project_name"], "images", "prometheus", "--format", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert new_tag.rsplit(":", 1)[1] in image
        # The samples stored before the upgrade are still there.
        got = procs.prom_scalar(prom, expr)
        assert got is not None and abs(got - before) < 1e-9
    finally:
        playbook.run("site.yml", stack)  # back to the original tag for the other tests
        subprocess.run(["docker", "rmi", new_tag], capture_output=True, check=False)


def test_teardown_keeps_then_deletes_data(stack):
    name = stack["stack_project_name"]
    playbook.run("playbooks/teardown.yml", stack)
    assert (
        subprocess.run(
            ["docker", "compose", "-p", name, "ps", "-q"], capture_output=True, text=True, check=True
        ).stdout.strip()
        == ""
    )
    assert {f"{name}_prometheus-data", f"{name}-otelcol-queue"} <= _volumes(name)
    proc, _recap = playbook.run("playbooks/status.yml", stack, check=False)
    assert proc.returncode != 0 and "no stack is deployed here" in proc.stdout
    playbook.run("playbooks/teardown.yml", {**stack, "teardown_delete_data": True})
    assert _volumes(name) == set()
