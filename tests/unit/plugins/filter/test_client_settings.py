"""What the client role writes, from its typed options and the server's (client_settings,
client_profiles): the endpoint derivation, the environment, the CA, the targets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import client_settings as cs  # noqa: E402
from ansible_collections.claude_code.observability.plugins.plugin_utils.role_options import role_options  # noqa: E402

pytestmark = pytest.mark.unit

COLLECTOR = {"host": "obs-a", "address": "10.20.30.40"}
SERVER_NAMES = [
    "otel_collector_otlp_grpc_port",
    "otel_collector_otlp_http_port",
    "otel_collector_tls_cert_file",
    "otel_collector_tls_generate",
    "otel_collector_bearer_token",
]


def opts(**given):
    """The client role's options typed as its first task types them (spec defaults underneath)."""
    return role_options("client", {"client_resource_attributes": {"machine.name": "laptop"}, **given})


def server(**given):
    typed = role_options("otel_collector", given, SERVER_NAMES)
    typed.update(role_options("stack", given, ["stack_project_dir"]))
    return typed


def settings(client=None, srv=None, **kwargs):
    return cs.client_settings(client or opts(), COLLECTOR, server(**(srv or {})), **kwargs)


@pytest.mark.parametrize(
    ("given", "srv", "endpoint"),
    [
        ({"client_otlp_protocol": "grpc"}, {}, "http://10.20.30.40:4317"),
        ({"client_otlp_protocol": "http/json", "client_otlp_tls": "true"}, {}, "https://10.20.30.40:4318"),
        ({"client_otlp_port": "14318"}, {}, "http://10.20.30.40:14318"),
        ({"client_otlp_endpoint": "https://otel.example.org"}, {}, "https://otel.example.org"),
        ({"client_otlp_host": "fd00::1"}, {}, "http://[fd00::1]:4318"),
        ({"client_otlp_host": "[fd00::1]"}, {}, "http://[fd00::1]:4318"),
        (
            {},
            {"otel_collector_otlp_http_port": "24318", "otel_collector_tls_cert_file": "/x.pem"},
            "https://10.20.30.40:24318",
        ),
        ({"client_otlp_protocol": "grpc"}, {"otel_collector_otlp_grpc_port": 24317}, "http://10.20.30.40:24317"),
        ({}, {"otel_collector_tls_generate": "yes"}, "https://10.20.30.40:4318"),
        ({}, {"otel_collector_tls_generate": "false"}, "http://10.20.30.40:4318"),
        ({"client_otlp_tls": "no"}, {"otel_collector_tls_cert_file": "/x.pem"}, "http://10.20.30.40:4318"),
    ],
)
def test_the_endpoint_comes_from_the_first_server_and_the_protocols_port_unless_given(given, srv, endpoint):
    assert settings(opts(**given), srv)["endpoint"] == endpoint


def test_no_collector_known_means_no_endpoint():
    assert cs.client_settings(opts(), {"host": "", "address": ""}, server())["endpoint"] == ""
    assert cs.client_settings(opts(client_otlp_host="otel.lan"), None, None)["endpoint"] == "http://otel.lan:4318"


def test_the_probe_is_the_endpoints_host_and_port():
    got = settings(opts(client_otlp_endpoint="https://otel.example.org"))
    assert (got["probe_host"], got["probe_port"]) == ("otel.example.org", 443)
    got = settings(opts(client_otlp_host="fd00::1"))
    assert (got["probe_host"], got["probe_port"]) == ("fd00::1", 4318)


def test_the_env_as_the_command_line_gives_it():
    env = settings(
        opts(
            client_log_user_prompts="false",
            client_log_tool_details="yes",
            client_telemetry_enabled="off",
            client_include_session_id="no",
            client_include_version="1",
            client_metric_export_interval="30000",
        )
    )["env"]
    assert env == {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "0",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_TRACES_EXPORTER": "none",
        "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "0",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://10.20.30.40:4318",
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
        "OTEL_METRIC_EXPORT_INTERVAL": "30000",
        "OTEL_LOGS_EXPORT_INTERVAL": "5000",
        "OTEL_LOG_USER_PROMPTS": "0",
        "OTEL_LOG_TOOL_DETAILS": "1",
        "OTEL_METRICS_INCLUDE_SESSION_ID": "false",
        "OTEL_METRICS_INCLUDE_VERSION": "true",
        "OTEL_METRICS_INCLUDE_ACCOUNT_UUID": "true",
        "OTEL_METRICS_INCLUDE_REPOSITORY": "true",
        "OTEL_RESOURCE_ATTRIBUTES": "machine.name=laptop",
    }
    assert list(env) == list(settings()["env"])  # the order files are written in does not move


def test_telemetry_is_switched_off_when_the_collector_was_unreachable():
    assert settings(unreachable=True)["env"]["CLAUDE_CODE_ENABLE_TELEMETRY"] == "0"
    assert settings(unreachable=False)["env"]["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"


def test_the_beta_follows_the_traces_unless_given():
    assert settings(opts(client_traces_exporter="otlp"))["env"]["CLAUDE_CODE_ENHANCED_TELEMETRY_BETA"] == "1"
    got = settings(opts(client_traces_exporter="otlp", client_enhanced_telemetry_beta="false"))
    assert got["env"]["CLAUDE_CODE_ENHANCED_TELEMETRY_BETA"] == "0"


def test_attributes_extra_env_and_the_ca():
    env = settings(
        opts(
            client_resource_attributes_extra={"team": "platform eng"},
            client_extra_env={"OTEL_TRACES_EXPORTER": "otlp", "MY_VAR": "x"},
            client_otlp_ca_cert="/etc/ssl/ca.pem",
        )
    )["env"]
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "machine.name=laptop,team=platform%20eng"
    assert env["OTEL_TRACES_EXPORTER"] == "otlp" and env["MY_VAR"] == "x"
    assert env["OTEL_EXPORTER_OTLP_CERTIFICATE"] == "/etc/ssl/ca.pem"


def test_a_generated_server_ca_is_fetched_and_used():
    got = settings(srv={"otel_collector_tls_generate": "on", "stack_project_dir": "/srv/obs"})
    assert got["ca_fetch"] and got["ca_install"] and got["tls"]
    assert got["server"] == "obs-a" and got["server_ca"] == "/srv/obs/otel-collector/pki/ca.crt"
    assert got["env"]["OTEL_EXPORTER_OTLP_CERTIFICATE"] == "/etc/claude-code/claude-observability-ca.pem"
    # A certificate of its own on the server wins over generating one: nothing to fetch.
    got = settings(srv={"otel_collector_tls_generate": True, "otel_collector_tls_cert_file": "/x.pem"})
    assert not got["ca_fetch"] and got["tls"] and "OTEL_EXPORTER_OTLP_CERTIFICATE" not in got["env"]
    got = settings(opts(client_otlp_ca_cert_fetch="no"), {"otel_collector_tls_generate": "yes"})
    assert not got["ca_install"]


def test_headers_or_the_servers_token():
    assert settings(srv={"otel_collector_bearer_token": "t0k"})["secret_env"] == {
        "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer t0k"
    }
    got = settings(opts(client_otlp_headers={"X-Key": "k"}), {"otel_collector_bearer_token": "t0k"})
    assert got["secret_env"] == {"OTEL_EXPORTER_OTLP_HEADERS": "X-Key=k"} and got["secret"]
    assert settings()["secret_env"] == {} and not settings()["secret"]


def test_taking_back_writes_nothing_and_looks_everywhere():
    got = settings(
        opts(client_state="absent", client_targets=["managed_settings"]), {"otel_collector_bearer_token": "t"}
    )
    assert got["env"] == {} and got["secret_env"] == {} and not got["secret"]
    assert got["user_settings"] and got["user_settings_state"] == "absent"
    assert got["profiles"] and got["profiles_state"] == "absent"


@pytest.mark.parametrize(
    ("targets", "homes", "user_settings", "profiles", "managed"),
    [
        (["user_settings"], True, "present", "absent", False),
        (["shell_profiles"], True, "absent", "present", False),
        (["managed_settings"], False, "absent", "absent", True),
    ],
)
def test_the_targets(targets, homes, user_settings, profiles, managed):
    got = settings(opts(client_targets=targets))
    assert (got["homes"], got["user_settings_state"], got["profiles_state"], got["managed"]) == (
        homes,
        user_settings,
        profiles,
        managed,
    )


def test_the_managed_settings_path():
    assert settings()["managed_settings_path"] == "/etc/claude-code/managed-settings.json"
    assert settings(system="Darwin")["managed_settings_path"] == (
        "/Library/Application Support/ClaudeCode/managed-settings.json"
    )
    assert settings(opts(client_managed_settings_path="/x.json"))["managed_settings_path"] == "/x.json"


def test_the_shells_of_a_user():
    auto = opts(client_targets=["shell_profiles"])
    assert cs.client_profiles(auto, "zsh") == {"shells": ["bash", "zsh", "fish"], "create": ["zsh"]}
    listed = opts(client_targets=["shell_profiles"], client_shells=["fish"])
    assert cs.client_profiles(listed, "zsh") == {"shells": ["fish"], "create": ["fish"]}
    # Taking back looks at every known shell.
    back = opts(client_state="absent", client_shells=["fish"])
    assert cs.client_profiles(back, "zsh")["shells"] == ["bash", "zsh", "fish"]


def test_the_filters_want_the_typed_options():
    with pytest.raises(AnsibleFilterError, match="client__opts"):
        cs.client_settings("client_state=present")
    with pytest.raises(AnsibleFilterError, match="client__opts"):
        cs.client_profiles(None)
