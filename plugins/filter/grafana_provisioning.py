# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the grafana role provisions, built as data: data sources and spend alert rules.

Filter ``grafana_datasources(options)``

Options (a dict; the grafana role passes ``grafana__datasource_options``):
  prometheus_uid, prometheus_url  the Prometheus data source (always there,
                                  the default one)
  prometheus_user, prometheus_password_file, prometheus_ca_file
                                  a Prometheus behind basic auth and TLS: the
                                  user, and the files (in Grafana's container)
                                  of its password and of the CA of its
                                  certificate; the user and the password file
                                  go together
  loki                            whether to add the Loki data source (a bool)
  loki_uid, loki_url              the Loki data source
  tempo_uid, tempo_url            the Tempo data source, added when tempo_url
                                  is not empty
  extra                           more data sources (name, uid, type, url, jsonData...), as
                                  other component roles publish them (docs/components.md)

Example::

  {{ grafana__datasource_options | claude_code.observability.grafana_datasources
     | to_nice_yaml(indent=2, sort_keys=false) }}

Returns Grafana's data source provisioning document, ``{'apiVersion': 1,
'datasources': [...]}``: Prometheus, then Loki, then Tempo.

Filter ``grafana_alert_rules(rules, datasource_uid, pending_period)``

rules           list of ``{'uid', 'title', 'expr', 'threshold', 'summary'}``
                (the role's ``grafana_spend_rules``)
datasource_uid  uid of the Prometheus data source the queries run on
pending_period  how long a rule's condition holds before it fires ("for")

Example::

  grafana_alert_rules: >-
    {{ grafana_spend_rules | claude_code.observability.grafana_alert_rules(grafana_prometheus_uid, grafana_alert_for) }}

Returns the list of Grafana alert rules, in the shape both Grafana's file
provisioning and its provisioning API take: A runs ``expr`` on Prometheus,
B keeps its last value, C fires when B is above ``threshold`` (a float).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common._collections_compat import Mapping, Sequence
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.module_utils.six import string_types

DATASOURCE_DEFAULTS = {
    "prometheus_uid": "claude-code-prometheus",
    "prometheus_url": "http://prometheus:9090",
    # A Prometheus behind basic auth and TLS: the user, and the files (in
    # Grafana's container) of the password and of the CA of its certificate.
    "prometheus_user": "",
    "prometheus_password_file": "",
    "prometheus_ca_file": "",
    "loki": True,
    "loki_uid": "claude-code-loki",
    "loki_url": "http://loki:3100",
    "tempo_uid": "claude-code-tempo",
    "tempo_url": "",
    "extra": [],
}

RULE_KEYS = ("uid", "title", "expr", "threshold", "summary")
EXPR = {"type": "__expr__", "uid": "__expr__"}


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


def _escape_dollars(value):
    if isinstance(value, string_types):
        return value.replace("$", "$$")
    if isinstance(value, Mapping):
        return dict((k, _escape_dollars(v)) for k, v in value.items())
    if isinstance(value, Sequence):
        return [_escape_dollars(v) for v in value]
    return value


def grafana_datasources(spec):
    """Grafana's data source provisioning document (see the module's docstring)."""
    opts = _options("grafana_datasources", spec, DATASOURCE_DEFAULTS)
    try:
        with_loki = boolean(opts["loki"], strict=True)
    except TypeError:
        raise AnsibleFilterError("grafana_datasources: loki must be a boolean, got %r" % (opts["loki"],)) from None
    datasources = [
        {
            "name": "Prometheus (Claude Code)",
            "uid": opts["prometheus_uid"],
            "type": "prometheus",
            "access": "proxy",
            "url": opts["prometheus_url"],
            "isDefault": True,
            "editable": False,
            "jsonData": {"httpMethod": "POST", "timeInterval": "15s"},
        }
    ]
    prometheus = datasources[0]
    if bool(opts["prometheus_user"]) != bool(opts["prometheus_password_file"]):
        raise AnsibleFilterError("grafana_datasources: prometheus_user and prometheus_password_file go together")
    secure = {}
    if opts["prometheus_user"]:
        # Grafana reads $__file{...} when it provisions: the password is
        # never in the provisioning file.
        prometheus.update({"basicAuth": True, "basicAuthUser": opts["prometheus_user"]})
        secure["basicAuthPassword"] = "$__file{%s}" % opts["prometheus_password_file"]
    if opts["prometheus_ca_file"]:
        prometheus["jsonData"]["tlsAuthWithCACert"] = True
        secure["tlsCACert"] = "$__file{%s}" % opts["prometheus_ca_file"]
    if secure:
        prometheus["secureJsonData"] = secure
    if with_loki:
        datasources.append(
            {
                "name": "Loki (Claude Code)",
                "uid": opts["loki_uid"],
                "type": "loki",
                "access": "proxy",
                "url": opts["loki_url"],
                "editable": False,
                "jsonData": {"maxLines": 1000},
            }
        )
    if opts["tempo_url"]:
        datasources.append(
            {
                "name": "Tempo (Claude Code)",
                "uid": opts["tempo_uid"],
                "type": "tempo",
                "access": "proxy",
                "url": opts["tempo_url"],
                "editable": False,
            }
        )
    extra = opts["extra"] or []
    if isinstance(extra, string_types) or not isinstance(extra, Sequence):
        raise AnsibleFilterError("grafana_datasources: extra must be a list of data sources, got %r" % (extra,))
    for source in extra:
        if not isinstance(source, Mapping) or not {"name", "uid", "type", "url"} <= set(source):
            raise AnsibleFilterError(
                "grafana_datasources: each extra data source needs name, uid, type and url, got %r" % (source,)
            )
        taken = [d["uid"] for d in datasources]
        if source["uid"] in taken:
            raise AnsibleFilterError("grafana_datasources: two data sources have the uid %s" % source["uid"])
        # Grafana expands $NAME and ${NAME} in provisioning files from its
        # environment; $$ keeps a $ (a data link's ${__span.tags...}).
        datasources.append(_escape_dollars(dict({"access": "proxy", "editable": False}, **source)))
    return {"apiVersion": 1, "datasources": datasources}


def _threshold(rule):
    value = rule["threshold"]
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        return float(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError(
            "grafana_alert_rules: threshold of %s must be a number, got %r" % (rule["uid"], value)
        ) from None


def _rule(rule, datasource_uid, pending_period):
    if not isinstance(rule, Mapping):
        raise AnsibleFilterError("grafana_alert_rules: a rule must be a dict, got %r" % (rule,))
    missing = [key for key in RULE_KEYS if key not in rule]
    if missing:
        raise AnsibleFilterError(
            "grafana_alert_rules: rule %s lacks %s" % (rule.get("uid") or rule.get("title") or "?", ", ".join(missing))
        )
    return {
        "uid": rule["uid"],
        "title": rule["title"],
        "condition": "C",
        "for": pending_period,
        "labels": {"severity": "warning"},
        "annotations": {"summary": rule["summary"]},
        "noDataState": "OK",
        "execErrState": "Error",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": 600, "to": 0},
                "datasourceUid": datasource_uid,
                "model": {"refId": "A", "expr": rule["expr"], "instant": True, "range": False},
            },
            {
                "refId": "B",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "B",
                    "type": "reduce",
                    "expression": "A",
                    "reducer": "last",
                    "datasource": dict(EXPR),
                },
            },
            {
                "refId": "C",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "C",
                    "type": "threshold",
                    "expression": "B",
                    "conditions": [{"evaluator": {"type": "gt", "params": [_threshold(rule)]}}],
                    "datasource": dict(EXPR),
                },
            },
        ],
    }


def grafana_alert_rules(rules, datasource_uid, pending_period):
    """Grafana alert rules of the spend group (see the module's docstring)."""
    if rules is None:
        rules = []
    if isinstance(rules, (string_types, Mapping)) or not isinstance(rules, Sequence):
        raise AnsibleFilterError("grafana_alert_rules expects a list of rules, got %r" % (rules,))
    return [_rule(rule, datasource_uid, pending_period) for rule in rules]


class FilterModule(object):
    def filters(self):
        return {
            "grafana_datasources": grafana_datasources,
            "grafana_alert_rules": grafana_alert_rules,
        }
