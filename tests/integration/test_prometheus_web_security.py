"""prometheus_web_security and alertmanager_web_security on the real
Prometheus, Alertmanager and collector: the web ports ask for basic auth over
TLS from the host's own CA, and the stack's own clients (the collector's push,
Prometheus' self-scrape and its alerts, status.yml) log in, so the numbers
still arrive exactly and alerts still reach Alertmanager."""

from __future__ import annotations

import base64
import http.client
import json
import math
import ssl
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from helpers import deploy, otlp, playbook, procs

pytestmark = pytest.mark.slow(seconds=100)  # the conftest starts the longest first


@pytest.fixture(scope="module")
def secured(testbed, tmp_path_factory):
    secure = {
        "prometheus_web_security": True,
        "stack_alertmanager": True,
        "alertmanager_web_security": True,
        "alertmanager_port": procs.free_port(),
    }
    extra = deploy.stack_vars(testbed, tmp_path_factory.mktemp("websec"), "websec", secure)
    try:
        proc, recap = playbook.run("site.yml", extra)
        extra["_stdout"], extra["_recap"] = proc.stdout, recap
        yield extra
    finally:
        deploy.down(extra)


def _dir(stack) -> Path:
    return Path(stack["stack_project_dir"])


def _get(stack, path, user=None, password=None, ca=True, port=None, method="GET"):
    context = ssl.create_default_context(cafile=str(_dir(stack) / "pki" / "ca.crt")) if ca else None
    headers = {}
    if user is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    port = port or stack["prometheus_port"]
    request = urllib.request.Request(f"https://127.0.0.1:{port}{path}", headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _password(stack, component="prometheus") -> str:
    return (_dir(stack) / component / "secrets" / "web-password").read_text()


def _query(stack, expr):
    path = "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    status, body = _get(stack, path, "claude-code", _password(stack))
    assert status == 200, body
    return json.loads(body)["data"]["result"]


def test_the_web_port_asks_for_the_login_over_tls(secured):
    assert f"Prometheus: https://127.0.0.1:{secured['prometheus_port']}" in secured["_stdout"]
    password = _password(secured)
    assert len(password) == 32
    assert (_dir(secured) / "prometheus" / "secrets" / "web-password").stat().st_mode & 0o077 == 0
    # The web config holds the hash only.
    web = yaml.safe_load((_dir(secured) / "prometheus" / "web.yml").read_text())
    assert password not in json.dumps(web) and web["basic_auth_users"]["claude-code"].startswith("$2")
    assert _get(secured, "/api/v1/status/buildinfo")[0] == 401
    assert _get(secured, "/api/v1/status/buildinfo", "claude-code", "wrong")[0] == 401
    assert _get(secured, "/api/v1/status/buildinfo", "claude-code", password)[0] == 200
    # The certificate is the host CA's, for the address it is reached at.
    with pytest.raises(urllib.error.URLError):
        _get(secured, "/-/ready", "claude-code", password, ca=False)
    # Plain HTTP gets nothing.
    with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
        urllib.request.urlopen(f"http://127.0.0.1:{secured['prometheus_port']}/-/ready", timeout=10)
    # Prometheus scrapes itself through the same login.
    procs.wait_for(lambda: _query(secured, 'up{job="prometheus"} == 1'), timeout=60, what="Prometheus' own scrape")


def test_the_collector_logs_in_and_every_number_arrives(secured):
    http = f"http://127.0.0.1:{secured['otel_collector_otlp_http_port']}"
    for signal, payload in otlp.session_payloads("tool-session"):
        assert otlp.post(http, signal, payload) == 200
    expected = math.fsum(float(e["cost_usd"]) for e in otlp.events("tool-session", "api_request"))

    def cost():
        result = _query(secured, "sum(sum_over_time(claude_code_cost_usage_USD[1h]))")
        return result and abs(float(result[0]["value"][1]) - expected) < 1e-9

    procs.wait_for(cost, timeout=90, what="the session's cost in the secured Prometheus")
    config = yaml.safe_load((_dir(secured) / "otel-collector" / "config.yaml").read_text())
    exporter = config["exporters"]["otlphttp/prometheus"]
    assert exporter["metrics_endpoint"].startswith("https://prometheus:9090/")
    assert exporter["auth"] == {"authenticator": "bearertokenauth/prometheus"}
    # The password reaches the collector only as a file it reads.
    assert _password(secured) not in (_dir(secured) / "otel-collector" / "config.yaml").read_text()
    assert _password(secured) not in (_dir(secured) / "otel-collector" / "secrets.env").read_text()


def test_alerts_reach_the_secured_alertmanager(secured):
    port = secured["alertmanager_port"]
    password = _password(secured, "alertmanager")
    assert _password(secured) != password  # one password per component
    assert _get(secured, "/api/v2/status", port=port)[0] == 401
    assert _get(secured, "/api/v2/status", "claude-code", password, port=port)[0] == 200
    # A rule that always fires, next to the collection's, and a reload.
    rule = {"groups": [{"name": "websec", "rules": [{"alert": "WebSecProbe", "expr": "vector(1)"}]}]}
    (_dir(secured) / "prometheus" / "rules" / "websec.yml").write_text(yaml.safe_dump(rule))
    status, _body = _get(secured, "/-/reload", "claude-code", _password(secured), method="POST")
    assert status == 200

    def delivered():
        status, body = _get(secured, "/api/v2/alerts", "claude-code", password, port=port)
        return status == 200 and any(a["labels"]["alertname"] == "WebSecProbe" for a in json.loads(body))

    procs.wait_for(delivered, timeout=90, what="Prometheus' alert in the secured Alertmanager")
    (_dir(secured) / "prometheus" / "rules" / "websec.yml").unlink()
    _get(secured, "/-/reload", "claude-code", _password(secured), method="POST")


def test_a_second_run_changes_nothing_and_status_logs_in(secured):
    _proc, recap = playbook.run("site.yml", deploy.ansible_vars(secured))
    assert recap["localhost"]["changed"] == 0, recap
    before = (_dir(secured) / "prometheus" / "web.yml").read_text()
    proc, _recap = playbook.run("playbooks/status.yml", deploy.ansible_vars(secured))
    # Logged in: the query answered (a refused login reads "NOT answering (... 401 ...)"; a bare "401"
    # would also match a port number).
    assert "last Claude Code data in Prometheus:" in proc.stdout, proc.stdout[-3000:]
    assert "NOT answering" not in proc.stdout, proc.stdout[-3000:]
    assert (_dir(secured) / "prometheus" / "web.yml").read_text() == before


def test_turning_it_off_serves_plain_http_again(secured):
    off = {"prometheus_web_security": False, "alertmanager_web_security": False}
    playbook.run("site.yml", {**deploy.ansible_vars(secured), **off})
    for port in (secured["prometheus_port"], secured["alertmanager_port"]):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=10) as resp:
            assert resp.status == 200


def test_the_managed_grafana_gets_the_login_as_files(testbed, tmp_path):
    """Rendered only: no Grafana image can be had here, so this says what Grafana is given, not what it does."""
    options = {"prometheus_web_security": True, "stack_flavour": "grafana", "stack_deploy": False}
    extra = deploy.stack_vars(testbed, tmp_path, "websecg", options)
    try:
        playbook.run("site.yml", extra)
        project = Path(extra["stack_project_dir"])
        sources = yaml.safe_load((project / "grafana" / "provisioning" / "datasources" / "claude.yml").read_text())
        prometheus = next(d for d in sources["datasources"] if d["type"] == "prometheus")
        assert prometheus["url"] == "https://prometheus:9090" and prometheus["basicAuthUser"] == "claude-code"
        assert prometheus["secureJsonData"] == {
            "basicAuthPassword": "$__file{/etc/grafana/secrets/prometheus-password}",
            "tlsCACert": "$__file{/etc/grafana/secrets/prometheus-ca.crt}",
        }
        secrets = project / "grafana" / "secrets"
        assert (secrets / "prometheus-password").read_text() == _password(extra)
        assert (secrets / "prometheus-ca.crt").read_text() == (project / "pki" / "ca.crt").read_text()
        assert (secrets / "prometheus-password").stat().st_mode & 0o077 == 0
        compose = yaml.safe_load((project / "compose.yaml").read_text())
        assert "./grafana/secrets:/etc/grafana/secrets:ro" in compose["services"]["grafana"]["volumes"]
    finally:
        deploy.down(extra)
