# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The collector's configuration, built as data from the otel_collector role's options.

The Compose flavour (roles/otel_collector) and the Kubernetes target both call
this filter, so the collector runs the same pipelines wherever it is deployed.
docs/metrics.md explains the metrics path this builds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os

import yaml
from ansible.errors import AnsibleFilterError
from ansible.module_utils.common._collections_compat import Mapping
from ansible_collections.claude_code.observability.plugins.plugin_utils.components import plain

DEFAULTS = {
    # Where Prometheus' OTLP receiver answers (…/api/v1/otlp/v1/metrics).
    "metrics_endpoint": "",
    # Extra HTTP headers of the metrics push (e.g. an Authorization for a
    # Prometheus behind a proxy); values may reference ${file:...}.
    "metrics_headers": {},
    # A Prometheus behind basic auth and TLS (its web.config.file): the file
    # that holds base64(user:password), and the CA that signed its certificate.
    "metrics_basic_auth_file": "",
    "metrics_ca_file": "",
    "grpc_port": 4317,
    "http_port": 4318,
    "health_port": 13133,
    "telemetry_port": 8888,
    # Paths inside the collector's filesystem.
    "tls_cert_file": "",
    "tls_key_file": "",
    "bearer_token_file": "",
    # Where the sending queues are persisted; empty keeps them in memory.
    "queue_directory": "/var/lib/otelcol/queue",
    "queue_size": 5000,
    "queue_consumers": 4,
    "memory_limit_mib": 512,
    "batch_timeout": "1s",
    "batch_size": 1024,
    "rename_type_to_kind": True,
    "resource_to_labels": True,
    # How long a cumulative sender's last value is kept to turn its next one
    # into a delta (only clients that chose cumulative temporality need it).
    "cumulative_max_staleness": "2h",
    "spanmetrics": True,
    "debug": False,
    # Storage roles' exporters: name -> config; each gets the persisted queue.
    "exporters": {},
    "logs_exporters": [],
    "traces_exporters": [],
    # Extra processors of the logs pipeline, name -> config, in order.
    "logs_processors": {},
    # What is stored of what clients send, whatever they send (docs/privacy.md):
    # prompt and response text, tool input; and per identity attribute keep,
    # hash or drop, over IDENTITY.
    "store_prompts": False,
    "store_tool_details": False,
    "store_raw_api_bodies": False,
    "attributes": {},
}

# Attributes that hold what a user typed or Claude answered (OTEL_LOG_USER_PROMPTS
# on the client), and tool input such as file paths and commands
# (OTEL_LOG_TOOL_DETAILS). Unless the server allows them, their value is
# replaced: the event and its lengths stay, the text does not.
PROMPT_ATTRIBUTES = ("prompt", "prompt_text", "user_prompt", "response")
TOOL_DETAIL_ATTRIBUTES = ("tool_input", "tool_parameters", "file_path")
REDACTED = "<REDACTED>"
# Who a record is from, by default: an email is hashed (still one value per
# person for counting), account ids too; the rest is kept.
IDENTITY = {"user.email": "hash", "user.account_uuid": "hash", "organization.id": "keep"}
ACTIONS = {"keep": None, "hash": "hash", "drop": "delete"}
PRIVACY = "attributes/privacy"
ALLOWLIST = "transform/privacy"
# The allow-list of Claude Code's attributes, shipped with the otel_collector role
# (docs/privacy.md): each switch names the attributes it lets through.
ALLOWLIST_FILE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles", "otel_collector", "files", "privacy.yml"
)
SWITCHES = ("store_prompts", "store_tool_details", "store_raw_api_bodies")
CLASSES = ("safe",) + SWITCHES
# What makes a record Claude Code's: its instrumentation scope, or its service name.
CLAUDE_CODE_LOGS = (
    'instrumentation_scope.name == "com.anthropic.claude_code.events"'
    ' or resource.attributes["service.name"] == "claude-code"'
)
CLAUDE_CODE_SPANS = (
    'instrumentation_scope.name == "com.anthropic.claude_code.tracing"'
    ' or resource.attributes["service.name"] == "claude-code"'
    ' or IsMatch(span.name, "^claude_code\\\\.")'
)
KEPT = "privacy_kept"
# A Claude Code event's body is its name (claude_code.user_prompt); any other body is replaced.
EVENT_BODY = "^claude_code\\.[A-Za-z0-9_.]+$"
# Every string value, whole (multi-line too); numbers and booleans are not strings.
ANY_STRING = "(?s)^.*$"

QUEUE_STORAGE = "file_storage/queue"
METRICS_EXPORTER = "otlphttp/prometheus"
METRICS_AUTH = "bearertokenauth/prometheus"

# Claude Code names the token kind, the lines kind and the active-time kind
# `type`; some Prometheus consumers fail on a label of that name.
TYPE_TO_KIND = [
    'set(datapoint.attributes["kind"], datapoint.attributes["type"]) where datapoint.attributes["type"] != nil',
    'delete_key(datapoint.attributes, "type")',
]
# Resource attributes (service.version, os.type, host.arch, what
# OTEL_RESOURCE_ATTRIBUTES adds) become labels of every sample; a datapoint's
# own attribute of the same name wins.
RESOURCE_TO_LABELS = ['merge_maps(datapoint.attributes, resource.attributes, "insert")']
# Each delta is stored as it was reported: one sample whose value is the
# amount of that export. Totals are sum_over_time over any window, and no
# process holds a running sum that a restart could lose.
DELTAS_TO_SAMPLES = [
    "convert_sum_to_gauge() where metric.type == METRIC_DATA_TYPE_SUM"
    " and metric.aggregation_temporality == AGGREGATION_TEMPORALITY_DELTA",
]


def _options(spec):
    if not isinstance(spec, Mapping):
        raise AnsibleFilterError("otel_collector_config expects a dict of options, got %s" % type(spec).__name__)
    unknown = sorted(set(spec) - set(DEFAULTS))
    if unknown:
        raise AnsibleFilterError(
            "otel_collector_config: unknown option(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(DEFAULTS)))
        )
    opts = copy.deepcopy(DEFAULTS)
    opts.update(plain(spec))
    if not opts["metrics_endpoint"]:
        raise AnsibleFilterError(
            "otel_collector_config: metrics_endpoint is empty; give the URL of Prometheus' OTLP receiver "
            "(http://<prometheus>:9090/api/v1/otlp/v1/metrics)"
        )
    if bool(opts["tls_cert_file"]) != bool(opts["tls_key_file"]):
        raise AnsibleFilterError("otel_collector_config: tls_cert_file and tls_key_file go together")
    for key, least in (("memory_limit_mib", 64), ("queue_size", 1), ("queue_consumers", 1)):
        opts[key] = _whole(key, opts[key], least)
    if not isinstance(opts["attributes"], Mapping):
        raise AnsibleFilterError("otel_collector_config: attributes must be a dict of attribute -> keep|hash|drop")
    for key, action in opts["attributes"].items():
        if key in PROMPT_ATTRIBUTES + TOOL_DETAIL_ATTRIBUTES or key in content_attributes():
            raise AnsibleFilterError(
                "otel_collector_config: %s holds content; store it with otel_collector_store_prompts or "
                "otel_collector_store_tool_details or otel_collector_store_raw_api_bodies instead of "
                "otel_collector_attributes" % key
            )
        if action not in ACTIONS:
            raise AnsibleFilterError(
                "otel_collector_config: attribute %s: %r is not one of keep, hash, drop (otel_collector_attributes)"
                % (key, action)
            )
    for name in list(opts["logs_exporters"]) + list(opts["traces_exporters"]):
        if name not in opts["exporters"]:
            raise AnsibleFilterError("otel_collector_config: pipeline exporter %s has no entry in exporters" % name)
    return opts


def _whole(key, value, least):
    """A whole number of at least `least`; Ansible may hand numbers over as text."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = None
    if isinstance(value, bool) or number is None or number < least or str(number) != str(value).strip():
        raise AnsibleFilterError(
            "otel_collector_config: %s must be a whole number, at least %d (got %r)" % (key, least, value)
        )
    return number


def privacy_allowlist(path=ALLOWLIST_FILE):
    """The allow-list as data: {common, events, spans}, each entry class -> attribute names."""
    with open(path) as handle:
        data = yaml.safe_load(handle)
    for kind in ("events", "spans"):
        for name, entry in data[kind].items():
            unknown = sorted(set(entry) - set(CLASSES))
            if unknown:
                raise AnsibleFilterError("%s: %s %s: unknown class(es) %s" % (path, kind, name, ", ".join(unknown)))
    return data


def content_attributes(data=None):
    """Every attribute some switch guards, anywhere in the allow-list."""
    data = data if data is not None else privacy_allowlist()
    names = set()
    for entry in [data["common"]] + list(data["events"].values()) + list(data["spans"].values()):
        for switch in SWITCHES:
            names.update(entry.get(switch) or [])
    return names


def _allowed(opts, *entries):
    keys = []
    for entry in entries:
        for cls in CLASSES:
            if cls == "safe" or opts[cls]:
                keys += [k for k in entry.get(cls) or [] if k not in keys]
    return keys


def _quoted(text):
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def _keep(target, keys):
    return "keep_keys(%s, [%s])" % (target, ", ".join(_quoted(k) for k in keys))


def _allowlist_statements(opts, ctx, key, named, common):
    """OTTL of one context: copy the attributes aside, keep there only the allowed ones of the
    record's event or span, replace every string attribute with the placeholder, merge the kept
    ones back."""
    kept = "%s.cache[%s]" % (ctx, _quoted(KEPT))
    attributes = "%s.attributes" % ctx
    statements = ["set(%s, %s)" % (kept, attributes)]
    known = []
    for name in sorted(named):
        test = "%s == %s" % (key, _quoted(name))
        known.append("%s != %s" % (key, _quoted(name)))
        statements.append("%s where %s" % (_keep(kept, _allowed(opts, common, named[name])), test))
    # An event or span the list does not know: only what every record carries.
    # (A record without event.name is one of them: nil differs from every name.)
    unknown = " and ".join(known) or "true"
    statements.append("%s where %s" % (_keep(kept, _allowed(opts, common)), unknown))
    statements += [
        'replace_all_patterns(%s, "value", %s, %s)' % (attributes, _quoted(ANY_STRING), _quoted(REDACTED)),
        'merge_maps(%s, %s, "upsert")' % (attributes, kept),
        "delete_key(%s.cache, %s)" % (ctx, _quoted(KEPT)),
    ]
    return statements


def _allowlist_processor(opts):
    """The transform processor that keeps of each Claude Code record and span only the attributes
    known safe or allowed by a switch; every other string attribute becomes the placeholder."""
    data = privacy_allowlist()
    common = dict(data["common"])
    # What the server's owner keeps or hashes by name (otel_collector_attributes: e.g. a team=...
    # the clients add to OTEL_RESOURCE_ATTRIBUTES) is theirs to keep on every record too.
    named = [k for k, action in sorted(opts["attributes"].items()) if action in ("keep", "hash")]
    common["safe"] = list(common.get("safe") or []) + [k for k in named if k not in (common.get("safe") or [])]
    return {
        "error_mode": "ignore",
        "log_statements": [
            {
                "context": "log",
                "conditions": [CLAUDE_CODE_LOGS],
                "statements": _allowlist_statements(opts, "log", 'log.attributes["event.name"]', data["events"], common)
                + [
                    "set(log.body, %s) where not IsMatch(log.body.string, %s)"
                    % (_quoted(REDACTED), _quoted(EVENT_BODY))
                ],
            }
        ],
        "trace_statements": [
            {
                "context": "span",
                "conditions": [CLAUDE_CODE_SPANS],
                "statements": _allowlist_statements(opts, "span", "span.name", data["spans"], common),
            },
            {
                # Span events (gen_ai.request.attempt) carry numbers; no string of theirs is known safe.
                "context": "spanevent",
                "conditions": [CLAUDE_CODE_SPANS],
                "statements": [
                    'replace_all_patterns(spanevent.attributes, "value", %s, %s)'
                    % (_quoted(ANY_STRING), _quoted(REDACTED))
                ],
            },
        ],
    }


def _privacy_actions(opts):
    """The attributes processor's actions that apply the privacy options to every record."""
    actions = []
    hidden = () if opts["store_prompts"] else PROMPT_ATTRIBUTES
    hidden += () if opts["store_tool_details"] else TOOL_DETAIL_ATTRIBUTES
    # update: only a record that carries the attribute gets the placeholder.
    actions += [{"key": key, "action": "update", "value": REDACTED} for key in hidden]
    identity = dict(IDENTITY)
    identity.update(opts["attributes"])
    for key in sorted(identity):
        if ACTIONS[identity[key]]:
            actions.append({"key": key, "action": ACTIONS[identity[key]]})
    return actions


def _queued(config, opts):
    """An exporter config with the stack's sending queue and endless retries."""
    queue = {"enabled": True, "queue_size": opts["queue_size"], "num_consumers": opts["queue_consumers"]}
    if opts["queue_directory"]:
        queue["storage"] = QUEUE_STORAGE
    out = copy.deepcopy(config)
    out["sending_queue"] = dict(out.get("sending_queue") or {}, **queue)
    # Retry until the backend answers: the queue holds what arrives meanwhile.
    out["retry_on_failure"] = dict(out.get("retry_on_failure") or {}, enabled=True, max_elapsed_time="0s")
    return out


def _receivers(opts):
    protocols = {}
    for name, port in (("grpc", opts["grpc_port"]), ("http", opts["http_port"])):
        server = {"endpoint": "0.0.0.0:%d" % int(port)}
        if opts["tls_cert_file"]:
            server["tls"] = {"cert_file": opts["tls_cert_file"], "key_file": opts["tls_key_file"]}
        if opts["bearer_token_file"]:
            server["auth"] = {"authenticator": "bearertokenauth"}
        protocols[name] = server
    return {"otlp": {"protocols": protocols}}


def _extensions(opts):
    ext = {"health_check": {"endpoint": "0.0.0.0:%d" % int(opts["health_port"])}}
    if opts["queue_directory"]:
        # fsync: a sample the receiver accepted is on disk before the client
        # is told so, whatever happens to the process or the host next.
        ext[QUEUE_STORAGE] = {
            "directory": opts["queue_directory"],
            "create_directory": True,
            "timeout": "10s",
            "fsync": True,
        }
    if opts["bearer_token_file"]:
        # Read from a file: the token never passes through an env file or a shell.
        ext["bearertokenauth"] = {"filename": opts["bearer_token_file"]}
    if opts["metrics_basic_auth_file"]:
        # The same extension as a client: it sends "Basic <file>" and re-reads
        # the file when it changes.
        ext[METRICS_AUTH] = {"scheme": "Basic", "filename": opts["metrics_basic_auth_file"]}
    return ext


def otel_collector_config(spec):
    """Return the collector configuration for the options in `spec` (see DEFAULTS)."""
    opts = _options(spec)
    limit = opts["memory_limit_mib"]
    processors = {
        "memory_limiter": {"check_interval": "1s", "limit_mib": limit * 8 // 10, "spike_limit_mib": limit * 2 // 10},
        "batch": {"timeout": opts["batch_timeout"], "send_batch_size": int(opts["batch_size"])},
        # Only a client that chose cumulative temporality needs this; a delta
        # passes through untouched.
        "cumulativetodelta": {"initial_value": "auto", "max_staleness": opts["cumulative_max_staleness"]},
    }
    privacy = _privacy_actions(opts)
    first = ["memory_limiter"]
    if privacy:
        # Before anything else sees a record: nothing downstream holds what it removes.
        processors[PRIVACY] = {"actions": privacy}
        first.append(PRIVACY)
    metric_procs = list(first)
    # Then, on events and spans, the allow-list: what it does not know is not stored.
    processors[ALLOWLIST] = _allowlist_processor(opts)
    first.append(ALLOWLIST)
    datapoint_statements = []
    if opts["rename_type_to_kind"]:
        datapoint_statements += TYPE_TO_KIND
    if opts["resource_to_labels"]:
        datapoint_statements += RESOURCE_TO_LABELS
    if datapoint_statements:
        processors["transform/labels"] = {
            "error_mode": "ignore",
            "metric_statements": [{"context": "datapoint", "statements": datapoint_statements}],
        }
        metric_procs.append("transform/labels")
    processors["transform/deltas_to_samples"] = {
        "error_mode": "ignore",
        "metric_statements": [{"context": "metric", "statements": list(DELTAS_TO_SAMPLES)}],
    }
    # No batch processor on metrics: it would hold accepted data in memory,
    # where a killed process loses it. The persisted queue is the buffer.
    metric_procs += ["cumulativetodelta", "transform/deltas_to_samples"]
    processors.update(copy.deepcopy(opts["logs_processors"]))

    metrics_exporter = {"metrics_endpoint": opts["metrics_endpoint"]}
    if opts["metrics_headers"]:
        metrics_exporter["headers"] = dict(opts["metrics_headers"])
    if opts["metrics_basic_auth_file"]:
        metrics_exporter["auth"] = {"authenticator": METRICS_AUTH}
    if opts["metrics_ca_file"]:
        metrics_exporter["tls"] = {"ca_file": opts["metrics_ca_file"]}
    exporters = {METRICS_EXPORTER: _queued(metrics_exporter, opts)}
    for name, cfg in opts["exporters"].items():
        exporters[name] = _queued(cfg, opts)
    logs_exporters = list(opts["logs_exporters"])
    traces_exporters = list(opts["traces_exporters"])
    if opts["debug"] or not logs_exporters or not traces_exporters:
        exporters["debug"] = {"verbosity": "basic"}

    metric_receivers = ["otlp"]
    connectors = {}
    if opts["spanmetrics"]:
        # Delta temporality and no histogram: the calls per span arrive as
        # deltas like Claude Code's own metrics and take the same path.
        connectors["spanmetrics"] = {
            "metrics_flush_interval": "15s",
            "aggregation_temporality": "AGGREGATION_TEMPORALITY_DELTA",
            "histogram": {"disable": True},
            "dimensions": [{"name": "model"}, {"name": "tool_name"}],
        }
        metric_receivers.append("spanmetrics")
        traces_exporters.append("spanmetrics")

    extensions = _extensions(opts)
    pipelines = {
        "metrics": {
            "receivers": metric_receivers,
            "processors": metric_procs,
            "exporters": [METRICS_EXPORTER] + (["debug"] if opts["debug"] else []),
        },
        "logs": {
            "receivers": ["otlp"],
            "processors": first + list(opts["logs_processors"]) + ["batch"],
            "exporters": logs_exporters or ["debug"],
        },
        "traces": {
            "receivers": ["otlp"],
            "processors": first + ["batch"],
            "exporters": traces_exporters or ["debug"],
        },
    }
    config = {
        "receivers": _receivers(opts),
        "processors": processors,
        "exporters": exporters,
        "extensions": extensions,
        "service": {
            "extensions": list(extensions),
            "telemetry": {
                "metrics": {
                    "level": "normal",
                    "readers": [
                        {"pull": {"exporter": {"prometheus": {"host": "0.0.0.0", "port": int(opts["telemetry_port"])}}}}
                    ],
                }
            },
            "pipelines": pipelines,
        },
    }
    if connectors:
        config["connectors"] = connectors
    return config


class FilterModule(object):
    def filters(self):
        return {"otel_collector_config": otel_collector_config}
