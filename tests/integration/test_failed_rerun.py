"""A bad value on a re-run never takes a healthy stack down. Each case re-runs site.yml on a running
stack with one bad variable and shows (a) a message that names the problem and the fix, (b) every
file of the project byte-identical afterwards (sha256), (c) the same containers still running
healthy, with the data sent before still there to 1e-9. Real Docker, Collector, Prometheus,
promtool and otelcol validate of the test bed's images."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
from pathlib import Path

import pytest
from helpers import deploy, otlp, playbook, procs

pytestmark = [pytest.mark.testbed, pytest.mark.slow(seconds=130)]

COST = 'sum(sum_over_time(claude_code_cost_usage_USD{project="demo"}[1h]))'


@pytest.fixture(scope="module")
def stack(testbed, tmp_path_factory):
    extra = deploy.stack_vars(testbed, tmp_path_factory.mktemp("rerun"), "rerun", {"stack_wait_timeout": 60})
    playbook.run("site.yml", extra)
    prom = f"http://127.0.0.1:{extra['prometheus_port']}"
    http = f"http://127.0.0.1:{extra['otel_collector_otlp_http_port']}"
    for signal, payload in otlp.session_payloads("tool-session"):
        otlp.post(http, signal, payload)
    extra["_cost"] = procs.wait_for(lambda: procs.prom_scalar(prom, COST), timeout=30, what="the session's cost")
    yield extra
    deploy.down(extra)


def _files(project_dir: str) -> dict[str, str]:
    """sha256 of every file of the project (the copy kept for rollbacks aside)."""
    root = Path(project_dir)
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".last-good" not in p.relative_to(root).parts
    }


def _containers(name: str) -> dict[str, tuple[str, str, str]]:
    out = subprocess.run(
        ["docker", "compose", "-p", name, "ps", "--all", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    entries = []
    for line in out.splitlines():
        if line.strip():
            parsed = json.loads(line)
            entries.extend(parsed if isinstance(parsed, list) else [parsed])
    return {e["Service"]: (e["ID"], e["State"], e.get("Health") or "") for e in entries}


def _healthy(stack) -> None:
    """Every service runs (healthy where it has a check), the collector answers, the data is there."""
    for service, (_cid, state, health) in _containers(stack["stack_project_name"]).items():
        assert state == "running" and health in ("", "healthy"), (service, state, health)
    procs.wait_http(f"http://127.0.0.1:{stack['otel_collector_health_port']}/", timeout=30)
    got = procs.prom_scalar(f"http://127.0.0.1:{stack['prometheus_port']}", COST)
    assert got is not None and abs(got - stack["_cost"]) <= 1e-9


def _failure_message(stdout: str) -> str:
    """The message of the task that failed the run (the last one), as the user reads it."""
    line = stdout[stdout.rindex("fatal: [") :].splitlines()[0]
    return json.loads(line.split("=> ", 1)[1])["msg"]


def _rerun_fails(stack, bad: dict, *expected: str, same_containers: bool = True) -> str:
    before_files = _files(stack["stack_project_dir"])
    before = _containers(stack["stack_project_name"])
    proc, _recap = playbook.run("site.yml", {**stack, **bad}, check=False)
    assert proc.returncode != 0, proc.stdout[-3000:]
    message = _failure_message(proc.stdout)
    for words in expected:
        assert words in message, (words, message)
    assert _files(stack["stack_project_dir"]) == before_files
    if same_containers:
        assert _containers(stack["stack_project_name"]) == before
    _healthy(stack)
    return message


def test_a_value_promtool_refuses_leaves_files_and_services_alone(stack):
    _rerun_fails(
        stack,
        {"prometheus_scrape_interval": "5x"},
        "promtool refused the rendered",
        "prometheus/prometheus.yml, so it was not written",
        '"5x"',
        "No running service was changed",
    )


def test_a_port_another_process_listens_on_is_refused_before_anything_stops(stack):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        _rerun_fails(
            stack,
            {"prometheus_port": port},
            f"port {port} (prometheus service, the prometheus role) is already taken on this host",
            "prometheus_*port",
        )


def test_the_same_port_for_two_services_is_refused(stack):
    _rerun_fails(
        stack,
        {"otel_collector_health_port": stack["prometheus_port"]},
        f"host port {stack['prometheus_port']} is published by both",
        "another port",
    )


def test_a_service_that_does_not_come_up_is_rolled_back_with_its_own_words(stack):
    """A bad flag no config checker sees: compose recreates Prometheus, which exits. The previous
    files and the previous Prometheus come back, with the data; the message quotes Prometheus."""
    out = _rerun_fails(
        stack,
        {"prometheus_retention_time": "90x"},
        "The prometheus service did not come up healthy (its settings are the prometheus_* variables)",
        'Error parsing command line arguments: unknown unit "x" in duration "90x"',
        "The files and services of the last healthy run are back",
        same_containers=False,
    )
    assert "data volumes were not touched" in out
    # The next good run changes nothing: the rollback left exactly the last healthy state.
    _proc, recap = playbook.run("site.yml", stack)
    assert recap["localhost"]["changed"] == 0, recap


# A typo in an enum or a number, or a path that is not there: refused before any file or service
# is touched, with the variable's name and what it takes. (id, variables, words of the message)
TYPOS = [
    ("flavour", {"stack_flavour": "grafna"}, ["stack_flavour", "grafana, opensearch, both, none"]),
    ("pull-policy", {"stack_pull": "sometimes"}, ["stack_pull", "always, missing, never, policy"]),
    ("memory-not-a-number", {"otel_collector_memory_limit_mib": "lots"}, ["otel_collector_memory_limit_mib", "int"]),
    ("memory-zero", {"otel_collector_memory_limit_mib": 0}, ["memory_limit_mib", "64"]),
    (
        "tls-cert-without-key",
        {"otel_collector_tls_cert_file": "/nonexistent/server.crt"},
        ["otel_collector_tls_cert_file and otel_collector_tls_key_file go together"],
    ),
    ("token-with-newline", {"otel_collector_bearer_token": "abc\nHTTP_PROXY=x"}, ["otel_collector_bearer_token"]),
]


@pytest.mark.parametrize(("variables", "words"), [c[1:] for c in TYPOS], ids=[c[0] for c in TYPOS])
def test_a_typo_is_refused_before_anything_is_touched(stack, variables, words):
    _rerun_fails(stack, variables, *words)


def test_an_upgrade_to_an_image_that_cannot_be_had_keeps_the_running_one(stack):
    """upgrade.yml to a tag no registry has: the pull fails, the image and its variable are named,
    and the stack runs on as before."""
    before_files = _files(stack["stack_project_dir"])
    before = _containers(stack["stack_project_name"])
    bad = {**stack, "stack_pull": "missing", "prometheus_image": "127.0.0.1:1/claude-obs/none:v0"}
    proc, _recap = playbook.run("playbooks/upgrade.yml", bad, check=False)
    assert proc.returncode != 0
    message = _failure_message(proc.stdout)
    assert "could not get the image 127.0.0.1:1/claude-obs/none:v0 of the prometheus service" in message, message
    assert "set prometheus_image" in message
    assert _files(stack["stack_project_dir"]) == before_files
    assert _containers(stack["stack_project_name"]) == before
    _healthy(stack)
