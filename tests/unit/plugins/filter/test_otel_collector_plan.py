"""What the otel_collector role derives from its typed options (otel_collector_plan)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter.otel_collector_config import (  # noqa: E402
    otel_collector_config,
)
from ansible_collections.claude_code.observability.plugins.filter.otel_collector_plan import (  # noqa: E402
    otel_collector_plan,
)
from ansible_collections.claude_code.observability.plugins.plugin_utils.role_options import role_options  # noqa: E402

pytestmark = pytest.mark.unit


def plan(host="obs1", ansible_host="", **given):
    return otel_collector_plan(role_options("otel_collector", given), host, ansible_host)


def test_the_defaults():
    got = plan()
    assert got["dir"] == "/opt/claude-observability/otel-collector"
    assert not got["tls"] and not got["tls_generated"] and got["tls_ca_file"] == ""
    assert got["ports"] == ["127.0.0.1:4317:4317", "127.0.0.1:4318:4318", "127.0.0.1:13133:13133"]
    assert got["otlp_grpc_endpoint"] == "127.0.0.1:4317"
    assert got["otlp_http_endpoint"] == "http://127.0.0.1:4318"
    assert got["health_url"] == "http://127.0.0.1:13133/"
    assert got["volume_label_args"] == []
    options = got["config_options"]
    assert options["store_prompts"] is False and options["tls_cert_file"] == "" and options["bearer_token_file"] == ""
    assert otel_collector_config(options)["receivers"]["otlp"]["protocols"]["http"] == {"endpoint": "0.0.0.0:4318"}


def test_switches_from_the_command_line_mean_what_they_say():
    off = plan(otel_collector_store_prompts="false", otel_collector_spanmetrics="no", otel_collector_debug="0")
    on = plan(otel_collector_store_prompts="true", otel_collector_spanmetrics="yes", otel_collector_debug="on")
    assert (off["config_options"]["store_prompts"], on["config_options"]["store_prompts"]) == (False, True)
    redacted = otel_collector_config(off["config_options"])["processors"]["attributes/privacy"]["actions"]
    assert len([a for a in redacted if a.get("value") == "<REDACTED>"]) == 7
    assert "connectors" not in otel_collector_config(off["config_options"])
    assert "connectors" in otel_collector_config(on["config_options"])


def test_tls_given_or_generated():
    given = plan(otel_collector_tls_cert_file="/etc/x.crt", otel_collector_tls_key_file="/etc/x.key")
    assert given["tls"] and not given["tls_generated"]
    assert (given["tls_cert_src"], given["tls_key_src"]) == ("/etc/x.crt", "/etc/x.key")
    assert given["otlp_http_endpoint"] == "https://127.0.0.1:4318"
    assert given["config_options"]["tls_cert_file"] == "/etc/otelcol-contrib/tls/server.crt"
    made = plan(otel_collector_tls_generate="yes", otel_collector_project_dir="/srv/obs")
    assert made["tls"] and made["tls_generated"]
    assert made["tls_cert_src"] == "/srv/obs/otel-collector/pki/server.crt"
    assert made["tls_ca_file"] == "/srv/obs/otel-collector/pki/ca.crt"
    # A certificate of one's own wins over generating one.
    assert not plan(
        otel_collector_tls_generate=True, otel_collector_tls_cert_file="/x", otel_collector_tls_key_file="/y"
    )["tls_generated"]
    assert not plan(otel_collector_tls_generate="false")["tls"]


def test_the_certificate_covers_every_name_clients_use():
    got = plan("obs1", "192.168.1.10", otel_collector_otlp_bind_address="otel.lan", otel_collector_tls_sans=["DNS:x"])
    assert got["tls_sans"] == ["DNS:localhost", "IP:127.0.0.1", "DNS:obs1", "IP:192.168.1.10", "DNS:otel.lan", "DNS:x"]
    got = plan("obs1", "fd00::10", otel_collector_otlp_bind_address="0.0.0.0", otel_collector_tls_sans=["DNS:obs1"])
    assert got["tls_sans"] == ["DNS:localhost", "IP:127.0.0.1", "DNS:obs1", "IP:fd00::10"]
    assert plan("obs1", "nas.lan")["tls_sans"][-1] == "DNS:nas.lan"


def test_ports_endpoints_and_labels():
    got = plan(
        otel_collector_otlp_bind_address="0.0.0.0",
        otel_collector_otlp_grpc_port="14317",
        otel_collector_otlp_http_port="14318",
        otel_collector_health_bind_address="::",
        otel_collector_health_port=23133,
        otel_collector_metrics_bind_address="10.0.0.5",
        otel_collector_volume_labels={"team": "obs"},
    )
    assert got["ports"] == ["0.0.0.0:14317:4317", "0.0.0.0:14318:4318", ":::23133:13133", "10.0.0.5:8888:8888"]
    assert got["health_url"] == "http://127.0.0.1:23133/"
    assert got["otlp_grpc_endpoint"] == "0.0.0.0:14317"
    assert got["volume_label_args"] == ["--label=team=obs"]


def test_secrets_become_files_in_the_container():
    got = plan(otel_collector_bearer_token="t", otel_collector_metrics_user="u", otel_collector_metrics_ca_pem="PEM")
    options = got["config_options"]
    assert options["bearer_token_file"] == "/etc/otelcol-contrib/secrets/bearer_token"
    assert options["metrics_basic_auth_file"] == "/etc/otelcol-contrib/secrets/prometheus_basic"
    assert options["metrics_ca_file"] == "/etc/otelcol-contrib/tls/prometheus-ca.crt"


def test_the_plan_wants_the_typed_options():
    with pytest.raises(AnsibleFilterError, match="otel_collector__opts"):
        otel_collector_plan(None)
