# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the otel_collector role derives from its typed options (otel_collector__opts, set by
the role_options action): TLS, the certificate's names, the published ports, the files'
places, the endpoints it publishes and the options of otel_collector_config."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

# Paths inside the collector's container.
SECRETS_DIR = "/etc/otelcol-contrib/secrets"
TLS_DIR = "/etc/otelcol-contrib/tls"
# Addresses that are not a name a client uses.
ANY = ("0.0.0.0", "::", "")


def _san(name):
    """A subjectAltName entry: IP: for an address, DNS: for a name."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return "DNS:%s" % name
    return "IP:%s" % name


def otel_collector_plan(opts, inventory_hostname="", ansible_host=""):
    """The collector's derived values from `opts` (the role's typed options), on the host named
    `inventory_hostname` (reached at `ansible_host`)."""
    if not isinstance(opts, Mapping):
        raise AnsibleFilterError(
            "otel_collector_plan expects the typed options (otel_collector__opts), got %s" % type(opts).__name__
        )

    def opt(name):
        return opts["otel_collector_%s" % name]

    tls_generated = bool(opt("tls_generate")) and not opt("tls_cert_file")
    tls = bool(opt("tls_cert_file")) or tls_generated
    project = opt("project_dir")
    home = "%s/otel-collector" % project
    pki = "%s/pki" % home
    bind = opt("otlp_bind_address")

    sans = ["DNS:localhost", "IP:127.0.0.1", "DNS:%s" % inventory_hostname]
    if ansible_host:
        sans.append(_san(ansible_host))
    if bind not in ANY + ("127.0.0.1",):
        sans.append(_san(bind))
    sans += list(opt("tls_sans"))

    ports = [
        "%s:%d:4317" % (bind, opt("otlp_grpc_port")),
        "%s:%d:4318" % (bind, opt("otlp_http_port")),
        "%s:%d:13133" % (opt("health_bind_address"), opt("health_port")),
    ]
    if opt("metrics_bind_address"):
        ports.append("%s:%d:%d" % (opt("metrics_bind_address"), opt("telemetry_port"), opt("telemetry_port")))

    health = opt("health_bind_address")
    return {
        "dir": home,
        "pki": pki,
        "secrets_dir": SECRETS_DIR,
        "tls": tls,
        "tls_generated": tls_generated,
        "tls_cert_src": "%s/server.crt" % pki if tls_generated else opt("tls_cert_file"),
        "tls_key_src": "%s/server.key" % pki if tls_generated else opt("tls_key_file"),
        # Names clients may use to reach the collector; the certificate covers each.
        "tls_sans": list(dict.fromkeys(sans)),
        "tls_ca_file": "%s/ca.crt" % pki if tls_generated else "",
        "ports": ports,
        "volume_label_args": ["--label=%s=%s" % (k, v) for k, v in opt("volume_labels").items()],
        "otlp_grpc_endpoint": "%s:%d" % (bind, opt("otlp_grpc_port")),
        "otlp_http_endpoint": "%s://%s:%d" % ("https" if tls else "http", bind, opt("otlp_http_port")),
        "health_url": "http://%s:%d/" % ("127.0.0.1" if health in ANY else health, opt("health_port")),
        # What plugins/filter/otel_collector_config.py builds the config from.
        "config_options": {
            "metrics_endpoint": opt("metrics_endpoint"),
            "metrics_headers": opt("metrics_headers"),
            "metrics_basic_auth_file": "%s/prometheus_basic" % SECRETS_DIR if opt("metrics_user") else "",
            "metrics_ca_file": "%s/prometheus-ca.crt" % TLS_DIR if opt("metrics_ca_pem") else "",
            "telemetry_port": opt("telemetry_port"),
            "tls_cert_file": "%s/server.crt" % TLS_DIR if tls else "",
            "tls_key_file": "%s/server.key" % TLS_DIR if tls else "",
            "bearer_token_file": "%s/bearer_token" % SECRETS_DIR if opt("bearer_token") else "",
            "queue_size": opt("queue_size"),
            "queue_consumers": opt("queue_consumers"),
            "memory_limit_mib": opt("memory_limit_mib"),
            "batch_timeout": opt("batch_timeout"),
            "batch_size": opt("batch_size"),
            "rename_type_to_kind": opt("rename_type_to_kind"),
            "resource_to_labels": opt("resource_to_labels"),
            "cumulative_max_staleness": opt("cumulative_max_staleness"),
            "spanmetrics": opt("spanmetrics"),
            "debug": opt("debug"),
            "exporters": opt("exporters"),
            "logs_exporters": opt("logs_exporters"),
            "traces_exporters": opt("traces_exporters"),
            "logs_processors": opt("logs_processors"),
            "store_prompts": opt("store_prompts"),
            "store_tool_details": opt("store_tool_details"),
            "store_raw_api_bodies": opt("store_raw_api_bodies"),
            "attributes": opt("attributes"),
        },
    }


class FilterModule(object):
    def filters(self):
        return {"otel_collector_plan": otel_collector_plan}
