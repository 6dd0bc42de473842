# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The summary site.yml ends with: where to look, how to log in, how to tell that data arrives.

Filter ``stack_summary(hostvars, servers, clients, check_mode=False, record='site_endpoints')``

hostvars    the play's hostvars
servers     the server hosts; each has the ``slurp`` result of the endpoints
            record site.yml wrote there (``endpoints.json``) in the variable
            ``record``, failed when none was written (nothing runs there, or
            a check run before the first real one)
clients     the hosts whose Claude Code the run configured ([] when none)
check_mode  the run changed nothing

Returns the summary as a list of lines.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common._collections_compat import Mapping
from ansible.module_utils.six.moves.urllib.parse import quote

# Every total reads sum_over_time of the reported deltas (docs/metrics.md).
COST_QUERY = "sum(sum_over_time(claude_code_cost_usage_USD[1h]))"


def _web_login(host, web):
    """How to log in to a web port that basic auth and TLS may secure (its endpoints record)."""
    if not web.get("user"):
        return " (no login)"
    return " (user %s, password kept on %s in %s; CA %s)" % (
        web["user"],
        host,
        web.get("password_file", "?"),
        web.get("ca_file", "?"),
    )


def _dashboard_lines(host, record):
    lines = []
    grafana = record.get("grafana")
    if grafana:
        lines.append("  Dashboards: Grafana %s" % grafana["url"])
        lines.append(
            "  Login: admin, password kept on %s in %s (sudo cat it; it stays the same on every run)"
            % (host, grafana["password_file"])
        )
    opensearch = record.get("opensearch")
    if opensearch:
        lines.append("  Events: OpenSearch %s, index %s" % (opensearch["url"], opensearch["events_index"]))
        if opensearch.get("user"):
            lines.append(
                "  Login: %s, password kept on %s in %s" % (opensearch["user"], host, opensearch["password_file"])
            )
        else:
            lines.append("  Login: none (security plugin off)")
    for key, title in (("prometheus", "Prometheus"), ("alertmanager", "Alertmanager")):
        web = record.get(key)
        if web:
            lines.append("  %s: %s%s" % (title, web["url"], _web_login(host, web)))
    loki = record.get("loki")
    if loki:
        lines.append("  Loki: %s%s" % (loki["url"], " (yours)" if loki.get("external") else ""))
    return lines


def _record(hostvars, host, name):
    """The endpoints record of a host, or None when it has none."""
    try:
        slurped = hostvars[host].get(name) or {}
    except KeyError:
        raise AnsibleFilterError("stack_summary: %s is not in the inventory" % host) from None
    content = slurped.get("content") if isinstance(slurped, Mapping) else None
    if not content:
        return None
    try:
        return json.loads(base64.b64decode(content).decode("utf-8"))
    except ValueError as exc:
        raise AnsibleFilterError("stack_summary: the endpoints record of %s is not JSON (%s)" % (host, exc)) from None


def stack_summary(hostvars, servers, clients, check_mode=False, record="site_endpoints"):
    lines = []
    prometheus = None
    for host in servers:
        endpoints = _record(hostvars, host, record)
        if not endpoints:
            lines.append(
                "%s: %s"
                % (host, "nothing deployed yet (check mode)" if check_mode else "runs no component of the stack")
            )
            continue
        lines.append("%s: project %s, flavour %s" % (host, endpoints.get("project"), endpoints.get("flavour")))
        lines.extend(_dashboard_lines(host, endpoints))
        if endpoints.get("otel_collector"):
            lines.append(
                "  Claude Code sends to: %s (OTLP/HTTP), %s (OTLP/gRPC)"
                % (endpoints["otel_collector"]["otlp_http"], endpoints["otel_collector"]["otlp_grpc"])
            )
        if endpoints.get("prometheus"):
            prometheus = prometheus or endpoints["prometheus"]["url"]
    if clients:
        lines.append(
            "Claude Code configured on: %s (new shells and new Claude Code sessions send telemetry; "
            "docs/client.md)" % ", ".join(clients)
        )
    else:
        lines.append("Claude Code configured on: no host (the inventory's claude_clients group; or run client.yml)")
    lines.append("Check that data arrives:")
    lines.append("  1. start Claude Code in a new shell and ask it anything")
    if prometheus:
        lines.append("  2. its cost of the last hour: %s/graph?g0.expr=%s" % (prometheus, quote(COST_QUERY, safe="")))
    lines.append(
        "  %d. ansible-playbook playbooks/status.yml (health and the last data point of each backend); "
        "playbooks/verify.yml sends a test session that no total counts" % (3 if prometheus else 2)
    )
    return lines


class FilterModule(object):
    def filters(self):
        return {"stack_summary": stack_summary}
