"""The summary site.yml ends with (plugins/filter/stack_summary.py)."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter.stack_summary import stack_summary  # noqa: E402

pytestmark = pytest.mark.unit

GRAFANA = {
    "project": "claude-observability",
    "flavour": "grafana",
    "otel_collector": {"otlp_http": "http://10.0.0.5:4318", "otlp_grpc": "http://10.0.0.5:4317"},
    "prometheus": {"url": "http://127.0.0.1:9090"},
    "loki": {"url": "http://127.0.0.1:3100"},
    "grafana": {"url": "http://127.0.0.1:3000", "password_file": "/opt/claude-observability/grafana/admin_password"},
}
OPENSEARCH = {
    "project": "claude-observability",
    "flavour": "opensearch",
    "opensearch": {
        "url": "https://127.0.0.1:9200",
        "user": "admin",
        "password_file": "/srv/obs/opensearch/admin-password",
        "events_index": "claude-code-events",
    },
}


def _slurped(record):
    return {"content": base64.b64encode(json.dumps(record).encode()).decode()}


def test_grafana_host_gives_url_login_password_file_and_the_checks():
    lines = stack_summary({"obs": {"site_endpoints": _slurped(GRAFANA)}}, ["obs"], ["obs", "laptop"])
    text = "\n".join(lines)
    assert "Dashboards: Grafana http://127.0.0.1:3000" in text
    assert "Login: admin, password kept on obs in /opt/claude-observability/grafana/admin_password" in text
    assert "Claude Code sends to: http://10.0.0.5:4318 (OTLP/HTTP)" in text
    assert "Claude Code configured on: obs, laptop" in text
    (query_line,) = [line for line in lines if "/graph?g0.expr=" in line]
    assert query_line.split("http://127.0.0.1:9090/graph?g0.expr=")[1] and unquote(query_line.split("=", 1)[1]) == (
        "sum(sum_over_time(claude_code_cost_usage_USD[1h]))"
    )
    assert lines[-1].lstrip().startswith("3. ansible-playbook playbooks/status.yml")


def test_opensearch_and_a_host_without_a_record():
    hostvars = {"os1": {"site_endpoints": _slurped(OPENSEARCH)}, "idle": {"site_endpoints": {"failed": True}}}
    text = "\n".join(stack_summary(hostvars, ["os1", "idle"], []))
    assert "Login: admin, password kept on os1 in /srv/obs/opensearch/admin-password" in text
    assert "idle: runs no component of the stack" in text
    assert "Claude Code configured on: no host" in text
    assert "/graph?" not in text  # no Prometheus in the records: no link to one
    checked = "\n".join(stack_summary(hostvars, ["idle"], [], check_mode=True))
    assert "idle: nothing deployed yet (check mode)" in checked


def test_a_broken_record_or_unknown_host_is_named():
    with pytest.raises(AnsibleFilterError, match="endpoints record of obs is not JSON"):
        stack_summary({"obs": {"site_endpoints": {"content": base64.b64encode(b"{oops").decode()}}}, ["obs"], [])
    with pytest.raises(AnsibleFilterError, match="ghost is not in the inventory"):
        stack_summary({}, ["ghost"], [])


def test_a_secured_prometheus_and_alertmanager_say_how_to_log_in():
    record = dict(
        GRAFANA,
        prometheus={
            "url": "https://127.0.0.1:9090",
            "user": "claude-code",
            "password_file": "/srv/obs/prometheus/secrets/web-password",
            "ca_file": "/srv/obs/pki/ca.crt",
        },
        alertmanager={"url": "http://127.0.0.1:9093"},
    )
    text = "\n".join(stack_summary({"obs": {"site_endpoints": _slurped(record)}}, ["obs"], []))
    assert (
        "Prometheus: https://127.0.0.1:9090 (user claude-code, password kept on obs in "
        "/srv/obs/prometheus/secrets/web-password; CA /srv/obs/pki/ca.crt)" in text
    )
    assert "Alertmanager: http://127.0.0.1:9093 (no login)" in text
    assert "Prometheus: https://127.0.0.1:9090 (no login)" not in text
