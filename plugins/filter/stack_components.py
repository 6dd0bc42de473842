# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The stack's side of the component contract (docs/components.md).

stack_catalog       the catalog records of a flavour's components, the optional ones that are off left out
stack_context       what one component role is told on this host (the `component` variable)
stack_published     every role's `<role>_component`, checked and merged: compose parts, the
                    collector's exporters and pipelines, data sources, endpoints, health waits,
                    bootstraps and the report
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common._collections_compat import Mapping, Sequence
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.module_utils.six import string_types
from ansible_collections.claude_code.observability.plugins.plugin_utils.components import (
    CatalogError,
    load_catalog,
    plain,
    select,
    uses,
)

PUBLISHED_KEYS = ("compose", "otel", "datasources", "endpoints", "health", "bootstrap", "summary", "probe")
OTEL_KEYS = ("exporters", "pipelines", "processors", "env")
SIGNALS = ("logs", "traces")
LOOPBACK = re.compile(r"^(127\.|localhost$|::1$)")


def _catalog():
    try:
        return load_catalog()
    except CatalogError as exc:
        raise AnsibleFilterError(str(exc)) from None


def stack_catalog(names, enabled=None):
    """The catalog records of `names` in that order. `enabled` maps an optional
    component's switch variable (its catalog's `optional`) to its value; a
    component whose switch is off is left out; without `enabled` all are kept."""
    if isinstance(names, string_types) or not isinstance(names, Sequence):
        raise AnsibleFilterError("stack_catalog expects a list of component names, got %r" % (names,))
    try:
        records = select(_catalog(), list(names))
    except CatalogError as exc:
        raise AnsibleFilterError("stack_catalog: %s" % exc) from None
    out = []
    for record in records:
        switch = (record.get("optional") or {}).get("variable")
        if switch and enabled is not None:
            if switch not in enabled:
                raise AnsibleFilterError(
                    "stack_catalog: %s is optional: give the value of %s in its second argument"
                    % (record["name"], switch)
                )
            try:
                if not boolean(enabled[switch], strict=True):
                    continue
            except TypeError:
                raise AnsibleFilterError("%s must be true or false, got %r" % (switch, enabled[switch])) from None
        out.append(copy.deepcopy(record))
    return out


def stack_context(placement, name, catalog, options, published=None):
    """The `component` variable the role of `name` is included with on this host.

    placement: this host's stack_placement; catalog: stack_catalog's list;
    options: project_dir, project_name, bind_address, shared_bind,
    otlp_bind_address, wait_timeout, project_dirs (host -> its stack_project_dir).
    """
    by_name = {record["name"]: record for record in catalog}
    if name not in by_name:
        raise AnsibleFilterError("stack_context: %s is not a component of this flavour" % name)
    here = placement[name]
    local = [n for n in by_name if placement[n]["local"]]
    project_dirs = options.get("project_dirs") or {}

    published = _mapping(published, "stack_context: the published records")

    def peer(other):
        spot = placement[other]
        # Only the endpoints record of what came before: a whole published
        # record (compose services, dashboards) is large, and copying it for
        # every component costs more than all the rest of the run.
        endpoints = _mapping(published.get(other), "%s_component" % other).get("endpoints") or {}
        return {
            "url": spot["url"],
            "target": spot["target"],
            "host": spot["host"],
            "here": spot["local"],
            "external": spot["external"],
            "project_dir": project_dirs.get(spot["host"], "") if spot["host"] else "",
            "endpoints": plain(endpoints),
            # Basic auth and TLS of its web port: the files are on its host,
            # and only a component that connects to it is told where.
            "login": _login(spot.get("login"), project_dirs.get(spot["host"], "") if spot["host"] else "")
            if uses(everything, name, other)
            else {},
        }

    record = by_name[name]
    everything = _catalog()
    before = stack_published(published, [r for r in catalog if r["name"] in published])
    # Published on this host's address when another server host uses it (or,
    # for a scraped port, when the scraper runs elsewhere), else where the
    # inventory asks.
    scraped_elsewhere = bool(here.get("scraped_from"))
    return {
        "name": name,
        "here": here["local"],
        "external": here["external"],
        "used_here": any(uses(everything, other, name) for other in local if other != name),
        "project_dir": options["project_dir"],
        "project_name": options["project_name"],
        "bind_address": options["shared_bind"] if here["consumers"] else options["bind_address"],
        "scrape_bind_address": options["shared_bind"] if scraped_elsewhere else "",
        "otlp_bind_address": options.get("otlp_bind_address", options["bind_address"]),
        "wait_timeout": options.get("wait_timeout", 300),
        "peers": {other: peer(other) for other in by_name},
        # Merged from those: the collector's exporters, pipelines, processors
        # and environment, and Grafana's data sources.
        "otel": before["otel"],
        "datasources": before["datasources"],
        "scrape_targets": [t["target"] for t in placement.get("scrape_targets", [])] if record.get("scrapes") else [],
    }


def stack_login_files(context):
    """The files to read for the logins of the peers this component connects to.

    One item per file, ``{peer, key, host, path}`` (``key``: ``password`` or
    ``ca_pem``), for a component that runs on this host; the stack reads each
    on ``host`` (the peer's server host, empty for this one) and hands the
    contents back with ``stack_context_logins``.
    """
    context = _mapping(context, "stack_login_files: the component context")
    if not context.get("here"):
        return []
    items = []
    for peer, spot in (context.get("peers") or {}).items():
        login = spot.get("login") or {}
        if not login:
            continue
        for key, path_key in (("password", "password_file"), ("ca_pem", "ca_file")):
            items.append({"peer": peer, "key": key, "host": spot.get("host") or "", "path": login[path_key]})
    return items


def stack_context_logins(context, reads):
    """The component context with each peer's login completed by what was read.

    reads: the ``results`` of the slurp over ``stack_login_files`` (each has
    its ``item`` and, when the file could be read, its base64 ``content``).
    A file not read (a first --check run, before its host made it) gives an
    empty string.
    """
    context = _mapping(context, "stack_context_logins: the component context")
    out = dict(context)
    peers = {name: dict(spot) for name, spot in (context.get("peers") or {}).items()}
    for read in _list(reads, "stack_context_logins: the reads"):
        item = read.get("item") or {}
        if item.get("peer") not in peers:
            raise AnsibleFilterError("stack_context_logins: %r is not a peer of this component" % item.get("peer"))
        content = read.get("content")
        text = base64.b64decode(content).decode("utf-8") if content else ""
        spot = peers[item["peer"]]
        spot["login"] = dict(spot.get("login") or {}, **{item["key"]: text})
    out["peers"] = peers
    return out


def _login(login, project_dir):
    if not login:
        return {}
    base = (project_dir or "/opt/claude-observability").rstrip("/")
    return {
        "user": login["user"],
        "password_file": "%s/%s" % (base, login["password_file"]),
        "ca_file": "%s/%s" % (base, login["ca_file"]),
    }


def _mapping(value, what):
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise AnsibleFilterError("%s must be a mapping, got %s" % (what, type(value).__name__))
    return value


def _list(value, what):
    if value is None:
        return []
    if isinstance(value, string_types) or not isinstance(value, Sequence):
        raise AnsibleFilterError("%s must be a list, got %r" % (what, value))
    return list(value)


def stack_published(published, catalog):
    """Check each component's `<role>_component` against docs/components.md and merge them."""
    published = _mapping(published, "stack_published: the published records")
    merged = {
        "compose_parts": [],
        "otel": {
            "exporters": {},
            "logs_exporters": [],
            "traces_exporters": [],
            "logs_processors": {},
            "env": {},
        },
        "datasources": [],
        "endpoints": {},
        "health": [],
        "bootstrap": [],
        "summary": [],
        "probes": {},
    }
    owner = {}
    for record in catalog:
        name = record["name"]
        entry = _mapping(published.get(name), "%s_component" % record["role"])
        unknown = sorted(set(entry) - set(PUBLISHED_KEYS))
        if unknown:
            raise AnsibleFilterError(
                "%s_component has unknown key(s) %s; known: %s"
                % (record["role"], ", ".join(unknown), ", ".join(PUBLISHED_KEYS))
            )
        compose = _mapping(entry.get("compose"), "%s: compose" % name)
        if compose:
            merged["compose_parts"].append(dict(compose, role=record["role"]))
        otel = _mapping(entry.get("otel"), "%s: otel" % name)
        unknown = sorted(set(otel) - set(OTEL_KEYS))
        if unknown:
            raise AnsibleFilterError(
                "%s: otel has unknown key(s) %s; known: %s" % (name, ", ".join(unknown), ", ".join(OTEL_KEYS))
            )
        exporters = _mapping(otel.get("exporters"), "%s: otel.exporters" % name)
        for exporter, config in exporters.items():
            if exporter in owner:
                raise AnsibleFilterError(
                    "%s and %s both publish the collector exporter %s" % (owner[exporter], name, exporter)
                )
            owner[exporter] = name
            merged["otel"]["exporters"][exporter] = config
        pipelines = _mapping(otel.get("pipelines"), "%s: otel.pipelines" % name)
        for signal, names in pipelines.items():
            if signal not in SIGNALS:
                raise AnsibleFilterError(
                    "%s: otel.pipelines may name %s, not %s" % (name, " and ".join(SIGNALS), signal)
                )
            for exporter in _list(names, "%s: otel.pipelines.%s" % (name, signal)):
                if exporter not in exporters:
                    raise AnsibleFilterError(
                        "%s: pipeline %s names %s, which it does not publish" % (name, signal, exporter)
                    )
                merged["otel"]["%s_exporters" % signal].append(exporter)
        processors = _mapping(otel.get("processors"), "%s: otel.processors" % name)
        for signal, procs in processors.items():
            if signal != "logs":
                raise AnsibleFilterError(
                    "%s: otel.processors may extend the logs pipeline only, not %s" % (name, signal)
                )
            merged["otel"]["logs_processors"].update(_mapping(procs, "%s: otel.processors.logs" % name))
        merged["otel"]["env"].update(_mapping(otel.get("env"), "%s: otel.env" % name))
        merged["datasources"].extend(_list(entry.get("datasources"), "%s: datasources" % name))
        endpoints = _mapping(entry.get("endpoints"), "%s: endpoints" % name)
        if endpoints:
            merged["endpoints"][name] = dict(endpoints)
        health = _mapping(entry.get("health"), "%s: health" % name)
        if health:
            if "url" not in health:
                raise AnsibleFilterError("%s: health needs a url" % name)
            merged["health"].append(
                {
                    "name": name,
                    "title": record["title"],
                    "service": record["service"],
                    "url": health["url"],
                    "status": health.get("status", 200),
                    # The CA of a certificate this host's own PKI signed.
                    "ca_path": health.get("ca_path", ""),
                }
            )
        try:
            if boolean(entry.get("bootstrap", False), strict=True):
                merged["bootstrap"].append(name)
        except TypeError:
            raise AnsibleFilterError("%s: bootstrap must be true or false" % name) from None
        merged["summary"].extend(_list(entry.get("summary"), "%s: summary" % name))
        probe = _mapping(entry.get("probe"), "%s: probe" % name)
        if probe:
            merged["probes"][name] = dict(probe)
    return merged


def stack_where(placement, catalog):
    """Of the flavour's components (catalog: stack_catalog's list): those this
    host runs, those no host runs although they are neither your own nor an
    extra that is on by default (Jaeger, OpenSearch Dashboards: where no host
    lists them, there are none), and whether another server host reaches any
    of this host's (it uses one, or scrapes one)."""
    names = [r["name"] for r in catalog]
    extras = [r["name"] for r in catalog if (r.get("optional") or {}).get("default")]
    here = [n for n in names if placement[n]["local"]]
    return {
        "here": here,
        "unplaced": [n for n in names if not placement[n]["host"] and not placement[n]["external"] and n not in extras],
        "serves_others": any(placement[n]["consumers"] or placement[n].get("scraped_from") for n in here),
    }


def stack_report(placement, catalog, published):
    """The end-of-run lines: what each component published, else where it
    runs, else which variable turns it on (catalog: the whole flavour's)."""
    lines = []
    for record in catalog:
        name = record["name"]
        entry = (published or {}).get(name) or {}
        spot = placement.get(name, {})
        if name not in placement:
            lines.append(
                "%s: off (%s)" % (record["title"], (record.get("optional") or {}).get("variable", "stack_flavour"))
            )
        elif entry.get("summary"):
            lines.extend(entry["summary"])
        elif spot.get("host") and not spot.get("local"):
            lines.append("%s: on %s (%s)" % (record["title"], spot["host"], spot["url"]))
    return lines


class FilterModule(object):
    def filters(self):
        return {
            "stack_catalog": stack_catalog,
            "stack_context": stack_context,
            "stack_login_files": stack_login_files,
            "stack_context_logins": stack_context_logins,
            "stack_published": stack_published,
            "stack_report": stack_report,
            "stack_where": stack_where,
        }
