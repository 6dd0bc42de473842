"""The Grafana flavour with a Loki and a Grafana of your own: the stack runs the
real collector and Prometheus; events go to stack_loki_url. Loki and Grafana
are CONTRACT DOUBLES here (tests/doubles/loki_double.py, grafana_double.py),
never the real servers: this checks what the collector sends to Loki's
documented OTLP endpoint and what the operations playbooks ask of Loki's
documented query API, nothing about a real Loki."""

from __future__ import annotations

import json
import re
import subprocess
import uuid

import pytest
from doubles.grafana_double import GrafanaDouble
from doubles.loki_double import LokiDouble
from helpers import deploy, multihost, otlp, playbook, privacy, procs

pytestmark = pytest.mark.slow(seconds=75)  # the conftest starts the longest first

TOKEN = "glsa_double_token_0123456789"


@pytest.fixture(scope="module")
def own(testbed, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ownloki")
    # On the bridge address: the collector container sends to it.
    loki = LokiDouble(index_labels=["machine.name"], host=multihost.bridge_address())
    loki_url = loki.start()
    grafana = GrafanaDouble("admin", "Gr4fana-admin-pw", tokens={TOKEN: "Admin"})
    grafana_url = grafana.start()
    extra = deploy.stack_vars(
        testbed,
        tmp,
        "ownloki",
        {
            "stack_flavour": "grafana",
            "stack_grafana_mode": "existing",
            "grafana_url": grafana_url,
            "grafana_api_token": TOKEN,
            "stack_loki_url": loki_url + "/",
        },
    )
    try:
        proc, _recap = playbook.run("site.yml", extra)
        yield {"extra": extra, "loki": loki, "loki_url": loki_url, "grafana": grafana, "stdout": proc.stdout}
    finally:
        deploy.down(extra)
        loki.stop()
        grafana.stop()


def test_stack_runs_no_loki_and_points_grafana_at_yours(own):
    out = subprocess.run(
        ["docker", "compose", "-p", own["extra"]["stack_project_name"], "ps", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    services = {json.loads(line)["Service"] for line in out.stdout.splitlines()}
    assert services == {"otel-collector", "prometheus", "jaeger"}
    assert f"Loki: {own['loki_url']} (yours)" in own["stdout"]
    assert own["grafana"].raw_datasource("claude-code-loki")["url"] == own["loki_url"]
    # Your own Grafana gets the traces too, at the port published here, each span linked to its session's events.
    jaeger = own["grafana"].raw_datasource("claude-code-jaeger")
    assert jaeger["type"] == "jaeger" and jaeger["url"].startswith("http://127.0.0.1:")
    link = jaeger["jsonData"]["tracesToLogsV2"]
    assert link["datasourceUid"] == "claude-code-loki" and '${__span.tags["session.id"]}' in link["query"]
    _proc, recap = playbook.run("site.yml", own["extra"])
    assert recap["localhost"]["changed"] == 0


def test_events_reach_loki_over_otlp_with_labels_and_metadata(own):
    http = f"http://127.0.0.1:{own['extra']['otel_collector_otlp_http_port']}"
    sent = []
    for signal, payload in otlp.session_payloads("error-session"):
        assert otlp.post(http, signal, payload) == 200
        if signal == "logs":
            sent += list(otlp.log_records(payload))
    session = otlp.events("error-session", "api_error")[0]["session.id"]
    loki = own["loki"]
    got = procs.wait_for(
        lambda: (e := [x for x in loki.entries if x[1].get("session_id") == session]) and len(e) >= len(sent) and e,
        timeout=60,
        what=f"{len(sent)} events of the session in Loki",
    )
    assert len(got) == len(sent)
    assert {p["content_type"] for p in loki.pushes} == {"application/x-protobuf"}
    stream, meta, _ns, line = next(x for x in got if x[1].get("event_name") == "api_error")
    assert stream == {"service_name": "claude-code", "machine_name": "ci-box"}
    assert line == "claude_code.api_error" and meta["project"] == "demo"


def test_verify_and_status_read_loki(own):
    proc, _recap = playbook.run("playbooks/verify.yml", own["extra"])
    assert "is in Jaeger, Loki, Prometheus." in proc.stdout, proc.stdout[-3000:]
    session = re.search(r"Session (verify-localhost-\d+) ", proc.stdout)[1]
    entries = [x for x in own["loki"].entries if x[1].get("session_id") == session]
    assert len(entries) == 1 and entries[0][1]["cost_usd"] == "0.0123"
    proc, _recap = playbook.run("playbooks/status.yml", own["extra"])
    assert f"Loki: {own['loki_url'].rstrip('/')} (yours)" in proc.stdout
    assert re.search(r"last Claude Code data in Loki: 20\d\d-\d\d-\d\d ", proc.stdout), proc.stdout[-2000:]


def test_status_sees_events_of_the_desktop_app(own):
    """With only the Desktop app's events in Loki, status still finds the newest one."""
    loki = own["loki"]
    kept = list(loki.entries)
    try:
        loki.entries[:] = [
            ({**stream, "service_name": "claude-code-desktop"}, meta, ns, line) for stream, meta, ns, line in kept
        ]
        assert loki.entries, "the earlier tests of this module put events into Loki"
        proc, _recap = playbook.run("playbooks/status.yml", own["extra"])
        assert re.search(r"last Claude Code data in Loki: 20\d\d-\d\d-\d\d ", proc.stdout), proc.stdout[-2000:]
    finally:
        loki.entries[:] = kept


def test_privacy_controls_apply_before_loki_stores_anything(own):
    """The same session as the OpenSearch flavour's privacy test: what reaches Loki holds no prompt,
    answer, tool input, email or account id, only their placeholders and hashes."""
    session = f"privacy-{uuid.uuid4()}"
    payloads = privacy.session_payloads(session)
    sent = privacy.records(payloads)
    http = f"http://127.0.0.1:{own['extra']['otel_collector_otlp_http_port']}"
    for signal, payload in payloads:
        assert otlp.post(http, signal, payload) == 200
    loki = own["loki"]
    got = procs.wait_for(
        lambda: (e := [x for x in loki.entries if x[1].get("session_id") == session]) and len(e) >= len(sent) and e,
        timeout=60,
        what="the privacy session's events in Loki",
    )
    assert len(got) == len(sent)
    raw = json.dumps([[stream, meta, line] for stream, meta, _ns, line in got])
    for secret in privacy.SECRETS:
        assert secret not in raw, secret
    metas = [meta for _stream, meta, _ns, _line in got]
    assert all(m["user_email"] == privacy.sha256(privacy.EMAIL) for m in metas)
    assert all(m["user_account_uuid"] == privacy.sha256(privacy.ACCOUNT) for m in metas)
    assert all(m["organization_id"] == privacy.ORGANIZATION for m in metas)
    assert [m["prompt"] for m in metas if m["event_name"] == "user_prompt"] == ["<REDACTED>"]
    assert all(m["tool_input"] == "<REDACTED>" for m in metas if "tool_input" in m)
