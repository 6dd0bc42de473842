"""The server stack on this machine's Docker, through site.yml, with the test
bed's stand-in images: the real Collector and the real Prometheus under the
collection's own compose project."""

from __future__ import annotations

import math
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml
from helpers import load, otlp, playbook, procs

pytestmark = pytest.mark.slow(seconds=70)  # the conftest starts the longest first


def _stack_vars(testbed, tmp_path, name):
    ports = {k: procs.free_port() for k in ("grpc", "http", "health", "prom")}
    return {
        "stack_project_name": name,
        "stack_flavour": "none",  # metrics only: Loki and Grafana have no image here
        "stack_project_dir": str(tmp_path / name),
        "stack_pull": "never",
        "otel_collector_image": testbed["OTELCOL_IMAGE"],
        "prometheus_image": testbed["PROMETHEUS_IMAGE"],
        "otel_collector_otlp_grpc_port": ports["grpc"],
        "otel_collector_otlp_http_port": ports["http"],
        "otel_collector_health_port": ports["health"],
        "prometheus_port": ports["prom"],
        "prometheus_scrape_interval": "1s",
        "prometheus_evaluation_interval": "1s",
    }


def _down(name, project_dir):
    subprocess.run(
        ["docker", "compose", "-p", name, "--project-directory", project_dir, "down", "-v"],
        capture_output=True,
        check=False,
    )
    subprocess.run(["docker", "volume", "rm", "-f", f"{name}-otelcol-queue"], capture_output=True, check=False)


@pytest.fixture(scope="module")
def stack(testbed, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stack")
    name = f"cco-core-{uuid.uuid4().hex[:6]}"
    extra = _stack_vars(testbed, tmp, name)
    t0 = time.monotonic()
    proc, recap = playbook.run("site.yml", extra)
    extra["_converge_seconds"] = time.monotonic() - t0
    extra["_first_recap"] = recap
    extra["_first_stdout"] = proc.stdout
    extra["_first_stderr"] = proc.stderr
    yield extra
    _down(name, extra["stack_project_dir"])


def _prom(stack):
    return f"http://127.0.0.1:{stack['prometheus_port']}"


def test_converge_reports_urls_and_check_mode_then_changes_nothing(stack):
    """A second plain run with changed=0 on this same inventory is molecule's idempotence step
    (molecule/stack, run by test_molecule_stack.py); here, check mode with diff on the converged stack."""
    assert stack["_first_recap"]["localhost"]["changed"] > 0
    assert f"127.0.0.1:{stack['prometheus_port']}" in stack["_first_stdout"]
    # A converge that works says nothing a user would have to look into.
    assert "[WARNING]" not in stack["_first_stderr"], stack["_first_stderr"]
    proc, recap = playbook.run("site.yml", stack, "--check", "--diff")
    assert recap["localhost"]["changed"] == 0, recap
    assert "[WARNING]" not in proc.stderr, proc.stderr


def test_check_mode_on_a_fresh_host_does_not_fail(testbed, tmp_path):
    name = f"cco-fresh-{uuid.uuid4().hex[:6]}"
    extra = _stack_vars(testbed, tmp_path, name)
    proc, recap = playbook.run("site.yml", extra, "--check")
    assert recap["localhost"]["failed"] == 0
    assert recap["localhost"]["changed"] > 0  # it tells what it would do
    assert not (tmp_path / name).exists()  # and does none of it
    assert (
        subprocess.run(
            ["docker", "volume", "inspect", f"{name}-otelcol-queue"], capture_output=True, check=False
        ).returncode
        != 0
    )


def test_services_bind_to_loopback_by_default(stack):
    out = subprocess.run(
        ["docker", "compose", "-p", stack["stack_project_name"], "ps", "--format", "{{.Ports}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    published = [p for p in out.replace(",", "\n").split() if "->" in p]
    assert published and all(p.startswith("127.0.0.1:") for p in published), out


def test_fixtures_and_generated_load_give_exact_sums(stack):
    prom = _prom(stack)
    http = f"http://127.0.0.1:{stack['otel_collector_otlp_http_port']}"
    grpc_ep = f"127.0.0.1:{stack['otel_collector_otlp_grpc_port']}"

    # The real fixtures over OTLP/HTTP JSON.
    for signal, payload in otlp.session_payloads("tool-session") + otlp.session_payloads("error-session"):
        assert otlp.post(http, signal, payload) == 200
    # Generated load: half over HTTP, half over gRPC.
    payloads, totals = load.generate(seed=7, users=4, machines=3, sessions=24, exports=3)
    half = len(payloads) // 2
    for payload in payloads[:half]:
        assert otlp.post(http, "metrics", payload) == 200
    load.send_grpc(grpc_ep, payloads[half:])

    fixture_cost = math.fsum(float(e["cost_usd"]) for e in otlp.events("tool-session", "api_request"))
    expected_cost = dict(totals.cost_by_model)
    expected_cost["claude-opus-5-5"] = expected_cost.get("claude-opus-5-5", 0) + fixture_cost

    def cost_by_model():
        res = procs.prom_query(prom, "sum by (model) (sum_over_time(claude_code_cost_usage_USD[1h]))")
        got = {r["metric"]["model"]: float(r["value"][1]) for r in res}
        return got if all(abs(got.get(m, -1) - c) < 1e-9 for m, c in expected_cost.items()) else None

    procs.wait_for(cost_by_model, timeout=60, what="cost by model in Prometheus")

    # Tokens by model and kind (the `type` attribute arrives renamed to `kind`).
    res = procs.prom_query(
        prom, "sum by (model, kind) (sum_over_time(claude_code_token_usage_tokens{project='load'}[1h]))"
    )
    got = {(r["metric"]["model"], r["metric"]["kind"]): int(float(r["value"][1])) for r in res}
    assert got == dict(totals.tokens_by_model_kind)
    assert procs.prom_query(prom, "count_over_time(claude_code_token_usage_tokens{kind!=''}[1h])")
    assert not procs.prom_query(prom, "count_over_time(claude_code_token_usage_tokens{type!=''}[1h])")

    # The recorded exact window totals (what dashboards and alerts use).
    def window_cost():
        res = procs.prom_query(prom, "model:claude_code_cost_usd:window1h")
        got = {r["metric"]["model"]: float(r["value"][1]) for r in res}
        return got if all(abs(got.get(m, -1) - c) < 1e-9 for m, c in expected_cost.items()) else None

    procs.wait_for(window_cost, timeout=30, what="recorded 1h window cost")

    # machine.name arrives as a label, encoded names intact.
    res = procs.prom_query(prom, "count by (machine_name) (count_over_time(claude_code_session_count[1h]))")
    assert {r["metric"]["machine_name"] for r in res} == totals.machines | {"ci-box"}
    sessions = procs.prom_scalar(prom, "sum(sum_over_time(claude_code_session_count{project='load'}[1h]))")
    assert sessions == totals.sessions


def test_prometheus_restart_loses_nothing(stack):
    prom = _prom(stack)
    http = f"http://127.0.0.1:{stack['otel_collector_otlp_http_port']}"
    name = stack["stack_project_name"]
    payloads, totals = load.generate(seed=99, users=2, machines=2, sessions=6, exports=4)
    tag = {"key": "project", "value": {"stringValue": "restart"}}
    for p in payloads:
        p["resourceMetrics"][0]["resource"]["attributes"] = [
            a for a in p["resourceMetrics"][0]["resource"]["attributes"] if a["key"] != "project"
        ] + [tag]
    half = len(payloads) // 2
    for payload in payloads[:half]:
        otlp.post(http, "metrics", payload)
    subprocess.run(["docker", "compose", "-p", name, "stop", "prometheus"], check=True, capture_output=True)
    for payload in payloads[half:]:  # sent while Prometheus is down
        otlp.post(http, "metrics", payload)
    subprocess.run(["docker", "compose", "-p", name, "start", "prometheus"], check=True, capture_output=True)
    procs.wait_http(prom + "/-/ready", timeout=60)
    expr = "sum(sum_over_time(claude_code_cost_usage_USD{project='restart'}[1h]))"
    got = procs.wait_for(
        lambda: (v := procs.prom_scalar(prom, expr)) is not None and abs(v - totals.cost) < 1e-9 and v,
        timeout=60,
        what="all cost after the restart",
    )
    assert abs(got - totals.cost) < 1e-9


def test_rendered_prometheus_files_pass_promtool(stack, testbed):
    base = f"{stack['stack_project_dir']}/prometheus"
    rules = subprocess.run(
        [testbed["PROMTOOL_BIN"], "check", "rules", f"{base}/rules/claude_code.yml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr
    groups = yaml.safe_load(Path(f"{base}/rules/claude_code.yml").read_text())["groups"]
    written = sum(len(g["rules"]) for g in groups)
    # promtool read every rule the file holds: window totals, budgets, spike, silent and service alerts.
    assert f"SUCCESS: {written} rules found" in rules.stdout
    alerts = {r["alert"] for g in groups for r in g["rules"] if "alert" in r}
    assert {"ClaudeCodeDailySpendPerUser", "ClaudeCodeSpendSpike", "ClaudeCodeMachineSilent"} <= alerts


def test_spans_become_span_metrics(stack):
    prom = _prom(stack)
    http = f"http://127.0.0.1:{stack['otel_collector_otlp_http_port']}"
    for signal, payload in otlp.session_payloads("tool-session"):
        if signal == "traces":
            for rs in payload["resourceSpans"]:  # apart from the spans other tests send
                for attr in rs["resource"]["attributes"]:
                    if attr["key"] == "project":
                        attr["value"] = {"stringValue": "spans"}
            assert otlp.post(http, signal, payload) == 200
    expr = (
        'sum by (span_name) (sum_over_time(traces_span_metrics_calls{service_name="claude-code", project="spans"}[1h]))'
    )

    def calls():
        got = {r["metric"]["span_name"]: float(r["value"][1]) for r in procs.prom_query(prom, expr)}
        return got if got.get("claude_code.llm_request") == 2 else None

    got = procs.wait_for(calls, timeout=60, what="span metrics in Prometheus")
    assert got["claude_code.tool"] == 1 and got["claude_code.interaction"] == 1
