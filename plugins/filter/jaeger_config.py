# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Jaeger v2's configuration and its Grafana data source, built as data from the jaeger role's options.

Filter ``jaeger_config(options)``

Options (a dict; the jaeger role passes ``jaeger__config_options``):
  storage           ``badger`` (on disk, kept across restarts; the default) or ``memory``
  retention         how long badger keeps a span, a Go duration (``168h``)
  max_traces        how many traces the memory storage holds (the oldest go first)
  data_dir          where badger writes, inside the container
  memory_limit_mib  the container's memory limit; the collector pipeline's
                    memory_limiter refuses spans at 80 % of it
  log_level         ``debug``, ``info``, ``warn`` or ``error``

Returns the whole Jaeger v2 configuration (an OpenTelemetry Collector
configuration with Jaeger's extensions): OTLP gRPC and HTTP receivers on
0.0.0.0:4317/4318 in the container, memory_limiter and batch, the storage
exporter, the query service (API and UI) on 0.0.0.0:16686, and the
healthcheckv2 extension on 127.0.0.1:13133 for the container's own health
check (its answer holds the pipeline's internals, so it is not published).

Filter ``jaeger_datasource(options)``

Options:
  uid, name, url    the data source (url: Jaeger's query service as Grafana reaches it)
  loki_uid          the Loki data source a span links to (its session's events); empty: no link
  logs_query        the LogQL of that link, as typed in Grafana (``${__span.tags["session.id"]}``)
  time_shift        how far before the span's start and after its end the events are looked for

Returns the data source as Grafana's API and provisioning file take it; the
grafana role escapes ``$`` for its provisioning file (Grafana expands
``${NAME}`` there from its environment).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common._collections_compat import Mapping
from ansible.module_utils.six import string_types

# Ports inside the container: the official image's (cmd/jaeger/Dockerfile);
# the compose service maps the published ones onto them.
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
QUERY_HTTP_PORT = 16686
QUERY_GRPC_PORT = 16685
HEALTH_ENDPOINT = "127.0.0.1:13133"
# The storage backend's name in jaeger_storage, referenced by the query
# service and the exporter.
STORE = "claude_code"

CONFIG_DEFAULTS = {
    "storage": "badger",
    "retention": "168h",
    "max_traces": 100000,
    # Under /tmp: the official image declares it a volume and makes it
    # writable for its user (10001), so a named volume mounted there is too.
    "data_dir": "/tmp/jaeger",
    "memory_limit_mib": 1024,
    "log_level": "info",
}
STORAGES = ("badger", "memory")
LOG_LEVELS = ("debug", "info", "warn", "error")
# A Go duration as time.ParseDuration reads it, e.g. 168h, 1h30m, 90m.
DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")

DATASOURCE_DEFAULTS = {
    "uid": "claude-code-jaeger",
    "name": "Jaeger (Claude Code)",
    "url": "http://jaeger:%d" % QUERY_HTTP_PORT,
    "loki_uid": "claude-code-loki",
    "logs_query": '{service_name=~"claude-code.*"} | session_id="${__span.tags["session.id"]}"',
    "time_shift": "5m",
}


def _options(name, spec, defaults):
    if not isinstance(spec, Mapping):
        raise AnsibleFilterError("%s expects a dict of options, got %s" % (name, type(spec).__name__))
    unknown = sorted(set(spec) - set(defaults))
    if unknown:
        raise AnsibleFilterError(
            "%s: unknown option(s) %s; known: %s" % (name, ", ".join(unknown), ", ".join(sorted(defaults)))
        )
    opts = dict(defaults)
    opts.update(spec)
    return opts


def _whole(name, key, value, least):
    """A whole number of at least `least`; Ansible may hand numbers over as text."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < least:
        raise AnsibleFilterError("%s: %s must be a whole number, at least %d (got %r)" % (name, key, least, value))
    return int(text)


def _duration(name, key, value):
    text = str(value).strip() if isinstance(value, string_types) else ""
    if not DURATION.match(text) or not re.search(r"[1-9]", text):
        raise AnsibleFilterError(
            "%s: %s must be a Go duration above zero such as 168h or 90m (got %r)" % (name, key, value)
        )
    return text


def _storage(opts):
    if opts["storage"] == "memory":
        return {"memory": {"max_traces": opts["max_traces"]}}
    data = opts["data_dir"].rstrip("/")
    return {
        "badger": {
            # Keys and values in separate directories, as Jaeger's own examples do.
            "directories": {"keys": data + "/keys", "values": data + "/values"},
            "ephemeral": False,
            "ttl": {"spans": opts["retention"]},
        }
    }


def jaeger_config(spec):
    """Return Jaeger v2's configuration for the options in `spec` (see CONFIG_DEFAULTS)."""
    name = "jaeger_config"
    opts = _options(name, spec, CONFIG_DEFAULTS)
    if opts["storage"] not in STORAGES:
        raise AnsibleFilterError(
            "%s: storage must be one of %s (got %r)" % (name, ", ".join(STORAGES), opts["storage"])
        )
    if opts["log_level"] not in LOG_LEVELS:
        raise AnsibleFilterError(
            "%s: log_level must be one of %s (got %r)" % (name, ", ".join(LOG_LEVELS), opts["log_level"])
        )
    opts["max_traces"] = _whole(name, "max_traces", opts["max_traces"], 1)
    opts["memory_limit_mib"] = _whole(name, "memory_limit_mib", opts["memory_limit_mib"], 64)
    opts["retention"] = _duration(name, "retention", opts["retention"])
    if not isinstance(opts["data_dir"], string_types) or not opts["data_dir"].startswith("/"):
        raise AnsibleFilterError("%s: data_dir must be an absolute path (got %r)" % (name, opts["data_dir"]))
    limit = opts["memory_limit_mib"]
    return {
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": "0.0.0.0:%d" % OTLP_GRPC_PORT},
                    "http": {"endpoint": "0.0.0.0:%d" % OTLP_HTTP_PORT},
                }
            }
        },
        "processors": {
            "memory_limiter": {
                "check_interval": "1s",
                "limit_mib": limit * 8 // 10,
                "spike_limit_mib": limit * 2 // 10,
            },
            "batch": {},
        },
        "exporters": {"jaeger_storage_exporter": {"trace_storage": STORE}},
        "extensions": {
            "healthcheckv2": {"use_v2": True, "http": {"endpoint": HEALTH_ENDPOINT}},
            "jaeger_storage": {"backends": {STORE: _storage(opts)}},
            "jaeger_query": {
                "storage": {"traces": STORE},
                # On by default in v2: the query service would trace its own
                # requests into the same storage, next to Claude Code's.
                "enable_tracing": False,
                "http": {"endpoint": "0.0.0.0:%d" % QUERY_HTTP_PORT},
                "grpc": {"endpoint": "0.0.0.0:%d" % QUERY_GRPC_PORT},
            },
        },
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "batch"],
                    "exporters": ["jaeger_storage_exporter"],
                }
            },
            "telemetry": {"logs": {"level": opts["log_level"]}},
        },
    }


def jaeger_datasource(spec):
    """Return Grafana's provisioning entry of the Jaeger data source (see DATASOURCE_DEFAULTS)."""
    name = "jaeger_datasource"
    opts = _options(name, spec, DATASOURCE_DEFAULTS)
    for key in ("uid", "name", "url"):
        if not isinstance(opts[key], string_types) or not opts[key].strip():
            raise AnsibleFilterError("%s: %s must not be empty" % (name, key))
    if not re.match(r"^https?://[^/]+", opts["url"]):
        raise AnsibleFilterError(
            "%s: url must be http(s)://host:port of Jaeger's query service (got %r)" % (name, opts["url"])
        )
    source = {
        "name": opts["name"],
        "uid": opts["uid"],
        "type": "jaeger",
        "access": "proxy",
        "url": opts["url"].rstrip("/"),
        "editable": False,
        "jsonData": {},
    }
    if opts["loki_uid"]:
        if not isinstance(opts["logs_query"], string_types) or not opts["logs_query"].strip():
            raise AnsibleFilterError("%s: logs_query must not be empty while loki_uid is set" % name)
        shift = _duration(name, "time_shift", opts["time_shift"])
        source["jsonData"]["tracesToLogsV2"] = {
            "datasourceUid": opts["loki_uid"],
            "spanStartTimeShift": "-" + shift,
            "spanEndTimeShift": shift,
            "tags": [],
            "filterByTraceID": False,
            "filterBySpanID": False,
            "customQuery": True,
            "query": opts["logs_query"],
        }
    return source


class FilterModule(object):
    def filters(self):
        return {"jaeger_config": jaeger_config, "jaeger_datasource": jaeger_datasource}
