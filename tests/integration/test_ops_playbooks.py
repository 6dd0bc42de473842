"""Operations playbooks against a real stack: status, verify, upgrade (data kept), teardown."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from helpers import deploy, otlp, playbook, procs
from helpers import grafana_selectors as gs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from client_playbook import temp_users  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.claude_code.observability.plugins.filter import cost_report  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.verify_marker import (  # noqa: E402
    VERIFY_SERVICE,
)

pytestmark = pytest.mark.slow(seconds=115)  # the conftest starts the longest first

DASHBOARDS = ROOT / "roles" / "grafana" / "files" / "dashboards"
PROM_UID = "claude-code-prometheus"


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
    assert "Collector health: ok" in proc.stdout


def _totals(stack, at: float) -> dict[str, list]:
    """Every total a user reads, at one time: each rule of the rendered rule file (recording rules and
    alert expressions), each Prometheus panel of the dashboards over the dashboard's range with every
    value selected, and the cost report's query of each breakdown."""
    prom = f"http://127.0.0.1:{stack['prometheus_port']}"
    rules = yaml.safe_load((Path(stack["stack_project_dir"]) / "prometheus/rules/claude_code.yml").read_text())
    exprs = {
        rule.get("record") or rule["alert"]: rule["expr"]
        for group in rules["groups"]
        for rule in group["rules"]
        if "claude_code_" in rule["expr"]
    }
    for path in sorted(DASHBOARDS.glob("*.json")):
        dash = json.loads(path.read_text())
        values = {**gs.all_values(dash), "__range": "1h", "__interval": "1m", "__rate_interval": "1m"}
        for panel in dash["panels"]:
            for target in panel.get("targets", []):
                expr = target.get("expr", "")
                # Over the dashboard's range (1 h), not per interval: the same numbers a second later.
                prometheus = (target.get("datasource") or panel.get("datasource") or {}).get("uid") == PROM_UID
                if prometheus and "$__range" in expr and "$__interval" not in expr and "$__rate_interval" not in expr:
                    exprs[f"{dash['uid']}: {panel['title']}"] = gs.substitute(expr, values)
    for label in ("user_id", "project", "model", "machine_name"):
        exprs[f"report by {label}"] = cost_report.cost_report_query(label, "1h")
    assert len(exprs) > 30
    return {
        name: sorted((tuple(sorted(s["metric"].items())), float(s["value"][1])) for s in procs.prom_query(prom, e, at))
        for name, e in exprs.items()
    }


def test_verify_sends_a_session_and_finds_it_and_no_total_counts_it(stack):
    prom = f"http://127.0.0.1:{stack['prometheus_port']}"
    http = f"http://127.0.0.1:{stack['otel_collector_otlp_http_port']}"
    for signal, payload in otlp.session_payloads("tool-session"):
        otlp.post(http, signal, payload)
    procs.wait_for(
        lambda: procs.prom_scalar(prom, 'sum(sum_over_time(claude_code_cost_usage_USD{project="demo"}[1h]))'),
        timeout=60,
        what="the captured session in Prometheus",
    )
    time.sleep(3)  # the 1 s rule evaluation has recorded it
    before_at = time.time()
    before = _totals(stack, before_at)
    assert any(values for values in before.values())

    proc, _recap = playbook.run("playbooks/verify.yml", stack)
    assert "is in Prometheus." in proc.stdout  # metrics only: no event backend in this flavour
    assert f"127.0.0.1:{stack['prometheus_port']}/graph" in proc.stdout
    session = re.search(r"Session (verify-localhost-\d+) \(cost 0.0123 USD\)", proc.stdout)[1]
    expr = f'sum(sum_over_time(claude_code_cost_usage_USD{{session_id="{session}"}}[1h]))'
    got = procs.prom_scalar(prom, expr)
    assert got is not None and abs(got - 0.0123) < 1e-12
    # It is stored under its own app name, and nothing a user reads counts it.
    marked = f'sum(sum_over_time(claude_code_cost_usage_USD{{service_name="{VERIFY_SERVICE}"}}[1h]))'
    assert abs(procs.prom_scalar(prom, marked) - 0.0123) < 1e-12
    time.sleep(3)
    after = _totals(stack, time.time())
    for name, values in before.items():
        assert len(after[name]) == len(values), (name, values, after[name])
        for (labels, value), (labels_after, value_after) in zip(values, after[name], strict=True):
            assert labels == labels_after and abs(value - value_after) <= 1e-9, (name, values, after[name])


def test_site_configures_this_machines_claude_code_and_ends_with_one_summary(stack):
    """The local inventory's machine is server and client: site.yml points its Claude Code at the
    stack (a throw-away user stands in for the person at the keyboard) and ends with the summary."""
    with temp_users(1) as (user,):
        settings = Path(user.pw_dir) / ".claude" / "settings.json"
        proc, recap = playbook.run("site.yml", {**stack, "site_clients": True, "client_users": [user.pw_name]})
        assert recap["localhost"]["failed"] == 0
        env = json.loads(settings.read_text())["env"]
        assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith(f":{stack['otel_collector_otlp_http_port']}")
        summary = proc.stdout[proc.stdout.rindex("Where to look, how to log in") :]
        assert "Claude Code configured on: localhost" in summary
        assert f"Prometheus: http://127.0.0.1:{stack['prometheus_port']}" in summary
        assert "Check that data arrives" in summary and "playbooks/status.yml" in summary
        # Its last task is the summary: nothing prints after it but the recap.
        assert "TASK [" not in summary[summary.index("\n") :]
        # Left alone on request (the default of the tests' runs).
        settings.unlink()
        proc, _recap = playbook.run("site.yml", {**stack, "client_users": [user.pw_name]})
        assert not settings.exists()
        assert "Claude Code configured on: no host" in proc.stdout


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
    expr = 'sum(sum_over_time(claude_code_cost_usage_USD{project="demo"}[1h]))'
    earlier = procs.prom_scalar(prom, expr) or 0.0  # what the tests before this one sent
    for signal, payload in otlp.session_payloads("tool-session"):
        otlp.post(http, signal, payload)
    before = procs.wait_for(
        lambda: (procs.prom_scalar(prom, expr) or 0.0) >= earlier + 0.002512 - 1e-9 and procs.prom_scalar(prom, expr),
        timeout=60,
        what="cost before the upgrade",
    )
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
