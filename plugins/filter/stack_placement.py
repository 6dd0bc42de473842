# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Where each component of the stack runs when the server hosts split them up."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.module_utils.six import string_types
from ansible_collections.claude_code.observability.plugins.plugin_utils.components import (
    CatalogError,
    load_catalog,
    uses,
)

# Who connects to whom, which port other hosts reach and which component
# scrapes which: each component role's meta/component.yml (docs/components.md).
# A collector pushes to the storages, Prometheus included; Prometheus pulls the
# collector's own metrics (the reverse direction, handled as "scrapes").


def _port(hostvars, host, spec):
    if not host:
        return 0
    value = _vars(hostvars, host).get(spec["variable"], spec["default"])
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError(
            "%s of %s must be a port number (1-65535), got %r" % (spec["variable"], host, value)
        ) from None


def _vars(hostvars, host):
    try:
        return hostvars[host]
    except KeyError:
        raise AnsibleFilterError("stack_placement: %s is not in the inventory" % host) from None


def _components(hostvars, host, catalog):
    value = _vars(hostvars, host).get("stack_components", ["all"])
    if isinstance(value, string_types) or not isinstance(value, (list, tuple)):
        raise AnsibleFilterError(
            "stack_components of %s must be a list (e.g. [prometheus, opensearch]), got %r" % (host, value)
        )
    names = [to_text(name) for name in value]
    unknown = sorted(set(names) - set(catalog) - {"all"})
    if unknown:
        raise AnsibleFilterError(
            "stack_components of %s names %s; known components: all, %s"
            % (host, ", ".join(unknown), ", ".join(catalog))
        )
    return set(catalog) if "all" in names else set(names)


def _address(hostvars, host):
    if not host:
        return ""
    hv = _vars(hostvars, host)
    return to_text(hv.get("stack_advertise_address") or hv.get("ansible_host") or host)


def _external(hostvars, here, record):
    """The user's own copy of a component (its catalog's external variable), as a URL or True."""
    spec = record.get("external")
    if not spec or not here:
        return ""
    value = _vars(hostvars, here).get(spec["variable"], "")
    if "equals" in spec:
        return value == spec["equals"]
    return to_text(value or "").rstrip("/")


def _catalog(components):
    try:
        catalog = load_catalog()
    except CatalogError as exc:
        raise AnsibleFilterError("stack_placement: %s" % exc) from None
    if components is None:
        return catalog
    unknown = [name for name in components if name not in catalog]
    if unknown:
        raise AnsibleFilterError(
            "stack_placement: unknown component(s) %s; known: %s" % (", ".join(unknown), ", ".join(catalog))
        )
    return {name: catalog[name] for name in components}


def _login(hostvars, host, record):
    spec = record.get("secure")
    if not spec:
        return {}
    hv = _vars(hostvars, host)
    value = hv.get(spec["variable"], False)
    try:
        on = boolean(value, strict=True)
    except TypeError:
        raise AnsibleFilterError("%s of %s must be true or false, got %r" % (spec["variable"], host, value)) from None
    if not on:
        return {}
    return {
        "user": to_text(hv.get(spec["user"]["variable"]) or spec["user"]["default"]),
        "password_file": spec["password_file"],
        "ca_file": spec["ca_file"],
    }


def stack_placement(hostvars, servers, here=None, components=None):
    """For each component (of `components`, else every one the collection has):
    the host `here` uses (its own when it runs it, else the first of `servers`
    that does), that host's address, how `here` reaches it (url, target), and
    the other server hosts that use this host's copy. `scrape_targets` lists
    what a scraper here scrapes."""
    catalog = _catalog(components)
    known = load_catalog() if components is not None else catalog
    servers = [to_text(h) for h in (servers or [])]
    here = to_text(here) if here else ""
    runs = {h: _components(hostvars, h, known) & set(catalog) for h in servers}
    if here and here not in runs:
        # A host outside the group runs what it lists for itself.
        runs[here] = _components(hostvars, here, known) & set(catalog)

    def first(component):
        return next((h for h in servers if component in runs[h]), "")

    def user(host, component):
        return host if component in runs.get(host, ()) else first(component)

    scraper = next((n for n, r in catalog.items() if r.get("scrapes")), None)
    placement = {}
    for name, record in catalog.items():
        external = _external(hostvars, here, record)
        host = "" if external else user(here, name)
        local = bool(here) and host == here
        consumers = []
        if local:
            consumers = [
                h
                for h in servers
                if h != here
                and user(h, name) == here
                and any(uses(catalog, own, name) for own in runs[h] if own != name)
            ]
        port = _port(hostvars, host, record["port"])
        address = _address(hostvars, host)
        target = "%s:%d" % (record["service"], record["port"]["container"]) if local else "%s:%d" % (address, port)
        url = external if isinstance(external, string_types) else ""
        login = _login(hostvars, host, record) if host else {}
        if host:
            url = "%s://%s" % ("https" if login else record["scheme"], target)
        placement[name] = {
            "host": host,
            "address": address,
            "local": local,
            "consumers": consumers,
            "port": port,
            "target": target if host else "",
            "url": url,
            "external": bool(external),
            # Basic auth and TLS of its web port (catalog `secure`): the user,
            # and the password and CA files under its host's project dir.
            "login": login,
            # The host that scrapes this component's own metrics port, when
            # that is another host than the one running it.
            "scraped_from": "",
        }
        if local and record.get("scrape") and scraper:
            scraper_host = user(here, scraper)
            placement[name]["scraped_from"] = scraper_host if scraper_host != here else ""
    scrapes = []
    for name, record in catalog.items():
        if record.get("scrapes") and here and name in runs.get(here, ()):
            for other, spec in ((n, r["scrape"]) for n, r in catalog.items() if r.get("scrape")):
                for h, there in runs.items():
                    if other in there and user(h, name) == here:
                        where = catalog[other]["service"] if h == here else _address(hostvars, h)
                        scrapes.append(
                            {"host": h, "component": other, "target": "%s:%d" % (where, _port(hostvars, h, spec))}
                        )
    placement["advertise_address"] = _address(hostvars, here)
    # A component of this host is scraped in the compose network by its
    # service name, the others at their published ports.
    placement["scrape_targets"] = scrapes
    return placement


class FilterModule(object):
    def filters(self):
        return {"stack_placement": stack_placement}
