# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Where each component of the stack runs when the server hosts split them up."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import OrderedDict

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.six import string_types

COMPONENTS = ("otel_collector", "prometheus", "alertmanager", "opensearch", "loki", "grafana")

# Who connects to whom. The collector pushes to the storages, Prometheus
# included; Prometheus pulls the collector's own metrics (the reverse
# direction, handled as "scrapes") and pushes alerts to Alertmanager; Grafana
# queries Prometheus and Loki.
NEEDS = {
    "otel_collector": ("opensearch", "loki", "prometheus"),
    "prometheus": ("alertmanager",),
    "grafana": ("prometheus", "loki"),
}

# Published ports of each component, as (variable, default of its role): a
# host's inventory may change them. tests/unit checks these defaults against
# the roles' defaults/main.yml.
PORTS = {
    "otel_collector": ("otel_collector_otlp_http_port", 4318),
    "prometheus": ("prometheus_port", 9090),
    "alertmanager": ("alertmanager_port", 9093),
    "opensearch": ("opensearch_port", 9200),
    "loki": ("loki_port", 3100),
    "grafana": ("grafana_port", 3000),
}
TELEMETRY_PORT = ("otel_collector_telemetry_port", 8888)


def _port(hostvars, host, spec):
    if not host:
        return 0
    return int(_vars(hostvars, host).get(spec[0], spec[1]))


def _target(hostvars, host, local, spec):
    return "%s:%d" % ("otel-collector" if local else _address(hostvars, host), _port(hostvars, host, spec))


def _vars(hostvars, host):
    try:
        return hostvars[host]
    except KeyError:
        raise AnsibleFilterError("stack_placement: %s is not in the inventory" % host) from None


def _components(hostvars, host):
    value = _vars(hostvars, host).get("stack_components", ["all"])
    if isinstance(value, string_types) or not isinstance(value, (list, tuple)):
        raise AnsibleFilterError(
            "stack_components of %s must be a list (e.g. [prometheus, opensearch]), got %r" % (host, value)
        )
    names = [to_text(name) for name in value]
    unknown = sorted(set(names) - set(COMPONENTS) - {"all"})
    if unknown:
        raise AnsibleFilterError(
            "stack_components of %s names %s; known components: all, %s"
            % (host, ", ".join(unknown), ", ".join(COMPONENTS))
        )
    return set(COMPONENTS) if "all" in names else set(names)


def _address(hostvars, host):
    if not host:
        return ""
    hv = _vars(hostvars, host)
    return to_text(hv.get("stack_advertise_address") or hv.get("ansible_host") or host)


def stack_placement(hostvars, servers, here=None):
    """For each component: the host `here` uses (its own when it runs it, else
    the first of `servers` that does), that host's address, and the other
    server hosts that use this host's copy. `scrape_collectors` lists the
    collector hosts a Prometheus here scrapes."""
    servers = [to_text(h) for h in (servers or [])]
    here = to_text(here) if here else ""
    runs = OrderedDict((h, _components(hostvars, h)) for h in servers)
    if here and here not in runs:
        # A host outside the group runs what it lists for itself.
        runs[here] = _components(hostvars, here)

    def first(component):
        return next((h for h in servers if component in runs[h]), "")

    def uses(host, component):
        return host if component in runs.get(host, ()) else first(component)

    placement = {}
    for component in COMPONENTS:
        host = uses(here, component)
        consumers = []
        if host == here and here:
            consumers = [
                h
                for h in servers
                if h != here and uses(h, component) == here and any(component in NEEDS.get(own, ()) for own in runs[h])
            ]
        placement[component] = {
            "host": host,
            "address": _address(hostvars, host),
            "local": bool(here) and host == here,
            "consumers": consumers,
            "port": _port(hostvars, host, PORTS[component]),
        }
    scrapes = []
    if here and "prometheus" in runs.get(here, ()):
        scrapes = [h for h in runs if "otel_collector" in runs[h] and uses(h, "prometheus") == here]
    placement["advertise_address"] = _address(hostvars, here)
    # A collector of this host is scraped in the compose network by its
    # service name, the others at their published ports.
    placement["scrape_collectors"] = [
        {
            "host": h,
            "telemetry_target": _target(hostvars, h, h == here, TELEMETRY_PORT),
        }
        for h in scrapes
    ]
    return placement


class FilterModule(object):
    def filters(self):
        return {"stack_placement": stack_placement}
