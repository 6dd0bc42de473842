# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the client role writes, worked out from its typed options (client__opts, set by the
role_options action) and the server's typed options: the endpoint, the environment, the
secret environment, the CA, where each target is written and which shells' profiles."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError
from ansible_collections.claude_code.observability.plugins.filter.otel_env import otel_headers, otel_key_values

KNOWN_SHELLS = ["bash", "zsh", "fish"]
MANAGED_SETTINGS = {
    "Darwin": "/Library/Application Support/ClaudeCode/managed-settings.json",
    "": "/etc/claude-code/managed-settings.json",
}
# What the client needs of the server's collector and stack: the options the client reads with
# the role_options filter (their defaults are the server roles' own).
SERVER_DEFAULTS = {
    "otel_collector_otlp_grpc_port": 4317,
    "otel_collector_otlp_http_port": 4318,
    "otel_collector_tls_cert_file": "",
    "otel_collector_tls_generate": False,
    "otel_collector_bearer_token": "",
    "stack_project_dir": "/opt/claude-observability",
}


def _flag(value):
    return "1" if value else "0"


def _word(value):
    return "true" if value else "false"


def client_settings(opts, collector=None, server=None, unreachable=False, system=""):
    """Everything the client role writes and decides, from `opts` (the role's typed options),
    `collector` (stack_placement's otel_collector entry: the server host and its address),
    `server` (that server's typed options, see SERVER_DEFAULTS), whether the collector was found
    unreachable with client_unreachable_action=disable, and the OS (ansible_facts.system)."""
    if not isinstance(opts, Mapping):
        raise AnsibleFilterError(
            "client_settings expects the typed options (client__opts), got %s" % type(opts).__name__
        )
    collector = collector or {}
    srv = dict(SERVER_DEFAULTS)
    srv.update(server or {})

    server_tls_generated = bool(srv["otel_collector_tls_generate"]) and not srv["otel_collector_tls_cert_file"]
    server_tls = bool(srv["otel_collector_tls_cert_file"]) or server_tls_generated
    # A null option is derived from the server, as the role's argument spec says.
    tls = server_tls if opts["client_otlp_tls"] is None else opts["client_otlp_tls"]
    ca_fetch = server_tls_generated if opts["client_otlp_ca_cert_fetch"] is None else opts["client_otlp_ca_cert_fetch"]
    ca_cert = opts["client_otlp_ca_cert"] or (opts["client_otlp_ca_cert_path"] if ca_fetch else "")

    host = opts["client_otlp_host"] or collector.get("address") or ""
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host
    port = opts["client_otlp_port"]
    if port <= 0:
        grpc = opts["client_otlp_protocol"] == "grpc"
        port = srv["otel_collector_otlp_grpc_port" if grpc else "otel_collector_otlp_http_port"]
    endpoint = opts["client_otlp_endpoint"]
    if not endpoint and host:
        endpoint = "%s://%s:%d" % ("https" if tls else "http", host, port)
    parts = urlsplit(endpoint) if endpoint else None

    disabled = not opts["client_telemetry_enabled"] or bool(unreachable)
    beta = opts["client_enhanced_telemetry_beta"]
    if beta is None:
        beta = opts["client_traces_exporter"] != "none"
    attributes = dict(opts["client_resource_attributes"] or {})
    attributes.update(opts["client_resource_attributes_extra"] or {})
    env = {
        "CLAUDE_CODE_ENABLE_TELEMETRY": _flag(not disabled),
        "OTEL_METRICS_EXPORTER": opts["client_metrics_exporter"],
        "OTEL_LOGS_EXPORTER": opts["client_logs_exporter"],
        "OTEL_TRACES_EXPORTER": opts["client_traces_exporter"],
        "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": _flag(beta),
        "OTEL_EXPORTER_OTLP_PROTOCOL": opts["client_otlp_protocol"],
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": opts["client_metrics_temporality"],
        "OTEL_METRIC_EXPORT_INTERVAL": "%d" % opts["client_metric_export_interval"],
        "OTEL_LOGS_EXPORT_INTERVAL": "%d" % opts["client_logs_export_interval"],
        "OTEL_LOG_USER_PROMPTS": _flag(opts["client_log_user_prompts"]),
        "OTEL_LOG_TOOL_DETAILS": _flag(opts["client_log_tool_details"]),
        "OTEL_METRICS_INCLUDE_SESSION_ID": _word(opts["client_include_session_id"]),
        "OTEL_METRICS_INCLUDE_VERSION": _word(opts["client_include_version"]),
        "OTEL_METRICS_INCLUDE_ACCOUNT_UUID": _word(opts["client_include_account_uuid"]),
        "OTEL_METRICS_INCLUDE_REPOSITORY": _word(opts["client_include_repository"]),
        "OTEL_RESOURCE_ATTRIBUTES": otel_key_values(attributes),
    }
    if ca_cert:
        env["OTEL_EXPORTER_OTLP_CERTIFICATE"] = ca_cert
    env.update(opts["client_extra_env"] or {})

    token = srv["otel_collector_bearer_token"]
    headers = opts["client_otlp_headers"] or ({"Authorization": "Bearer %s" % token} if token else {})
    secret_env = {"OTEL_EXPORTER_OTLP_HEADERS": otel_headers(headers)} if headers else {}

    present = opts["client_state"] == "present"
    targets = opts["client_targets"]
    return {
        "server": collector.get("host") or "",
        "server_ca": "%s/otel-collector/pki/ca.crt" % srv["stack_project_dir"],
        "tls": tls,
        "ca_fetch": ca_fetch,
        "ca_install": ca_fetch and not opts["client_otlp_ca_cert"],
        "endpoint": endpoint,
        "probe_host": parts.hostname if parts else "",
        "probe_port": (parts.port or (443 if parts.scheme == "https" else 80)) if parts else 0,
        "env": env if present else {},
        "secret_env": secret_env if present else {},
        "secret": bool(secret_env) and present,
        # Each user's home is needed for the user settings and the shell profiles; taking
        # back needs no target (the module's record says what it wrote).
        "homes": bool(set(targets) & {"user_settings", "shell_profiles"}),
        "user_settings_state": "present" if present and "user_settings" in targets else "absent",
        "user_settings": "user_settings" in targets or not present,
        "profiles_state": "present" if present and "shell_profiles" in targets else "absent",
        "profiles": "shell_profiles" in targets or not present,
        "managed": "managed_settings" in targets,
        "managed_settings_path": opts["client_managed_settings_path"]
        or MANAGED_SETTINGS.get(system or "", MANAGED_SETTINGS[""]),
    }


def client_profiles(opts, login_shell=""):
    """The shells whose profiles the block goes into (`shells`) and those whose profile is
    created when missing (`create`), for one user: with client_shells auto, every known shell
    whose profile exists plus the user's login shell; taking back looks at every known shell."""
    if not isinstance(opts, Mapping):
        raise AnsibleFilterError(
            "client_profiles expects the typed options (client__opts), got %s" % type(opts).__name__
        )
    present = opts["client_state"] == "present" and "shell_profiles" in opts["client_targets"]
    auto = opts["client_shells"] == "auto"
    shells = list(KNOWN_SHELLS) if not present or auto else list(opts["client_shells"])
    return {"shells": shells, "create": [login_shell] if auto else shells}


class FilterModule(object):
    def filters(self):
        return {"client_settings": client_settings, "client_profiles": client_profiles}
