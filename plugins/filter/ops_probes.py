# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What status.yml and verify.yml ask each component, from the probes the
component roles published into endpoints.json (docs/components.md, "Probes").

probe_request(probe, kind, session, trace)
                                     the request of a probe's `last`, `find` or `health`
probe_found(answer, probe, value)    whether a `find` answer holds exactly one match (and its value)
probe_health_line(result)            status.yml's line for one `health` answer (a uri loop result)
probe_last_line(result)              status.yml's line for one `last` answer
probe_down(health, last)             the titles of the components whose `health` or `last` answer was not
                                     what their probe expects
probe_logins(results)                {component: {"Authorization": "Basic ..."}} from the slurped password
                                     files of the probes that log in
probe_host_endpoints(result)         {host, endpoints} from a slurp of another host's endpoints.json
probe_backends(records)              {component: {host, probe}} of every probe with a `find`
probe_where(item, session, trace)    verify.yml's line of where to look at the session in one backend
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common._collections_compat import Mapping
from ansible_collections.claude_code.observability.plugins.plugin_utils.probes import probe_last, probe_pick

# Stands for verify's session id in a probe's path or body; survives URL
# encoding unchanged.
SESSION = "__session__"
TRACE = "__trace__"
KINDS = ("last", "find", "health")


def probe_request(probe, kind, session="", trace=""):
    """{url, method, body, status} of the probe's request of `kind`; verify's
    session and trace ids replace __session__ and __trace__."""
    if not isinstance(probe, Mapping) or "url" not in probe:
        raise AnsibleFilterError("probe_request: a probe needs the url it is asked at, got %r" % (probe,))
    if kind not in KINDS:
        raise AnsibleFilterError("probe_request: kind must be one of %s, got %r" % (", ".join(KINDS), kind))
    spec = probe.get(kind)
    if not isinstance(spec, Mapping) or "path" not in spec:
        raise AnsibleFilterError("probe_request: the probe of %s has no %s request" % (probe.get("title", "?"), kind))
    path = spec["path"].replace(SESSION, session).replace(TRACE, trace)
    body = spec.get("body")
    if body is not None:
        body = json.loads(json.dumps(body).replace(SESSION, session).replace(TRACE, trace))
    return {
        "url": str(probe["url"]).rstrip("/") + path,
        "method": spec.get("method", "POST" if body is not None else "GET"),
        "body": body,
        "status": list(spec.get("status", [200])),
    }


def probe_found(answer, probe, value=None, tolerance=1e-9):
    """Whether a `find` answer holds exactly one match and, when the probe
    picks a value, that it equals `value`."""
    spec = (probe or {}).get("find") or {}
    matches = probe_pick(answer or {}, spec.get("count", ""))
    if isinstance(matches, Mapping) or matches is None:
        return False
    count = len(matches) if isinstance(matches, list) else int(matches)
    if count != 1:
        return False
    if spec.get("value") and value is not None:
        found = probe_pick(answer, spec["value"])
        try:
            return abs(float(found) - float(value)) < tolerance
        except (TypeError, ValueError):
            return False
    return True


def _answered(result, kind):
    probe = result["item"]["value"]
    expected = (probe.get(kind) or {}).get("status", [200])
    return result.get("status") in expected


def probe_health_line(result):
    probe = result["item"]["value"]
    if _answered(result, "health"):
        return "%s health: ok" % probe.get("title", result["item"]["key"])
    return "%s health: NOT answering (%s)" % (probe.get("title", result["item"]["key"]), result.get("msg", ""))


def probe_last_line(result):
    probe = result["item"]["value"]
    title = probe.get("title", result["item"]["key"])
    if not _answered(result, "last"):
        return "%s: NOT answering (%s)" % (title, result.get("msg", ""))
    return "last Claude Code data in %s: %s" % (title, probe_last(result.get("json"), probe) or "none yet")


def probe_down(health, last):
    """Titles of the components whose health or last-data answer was not what their probe expects."""
    down = [r for r in health or [] if not _answered(r, "health")] + [r for r in last or [] if not _answered(r, "last")]
    titles = []
    for result in down:
        title = result["item"]["value"].get("title", result["item"]["key"])
        if title not in titles:
            titles.append(title)
    return titles


def probe_host_endpoints(result):
    """{host, endpoints} from a slurp of another host's endpoints.json (delegated, looped over hosts)."""
    return {"host": result["item"], "endpoints": json.loads(base64.b64decode(result["content"]).decode("utf-8"))}


def probe_backends(records):
    """{component: {host, probe}} of every probe with a `find`, from the first
    host that records it (records: [{host, endpoints}], this host first)."""
    backends = {}
    for record in records or []:
        for name, probe in ((record.get("endpoints") or {}).get("probes") or {}).items():
            if name not in backends and isinstance(probe, Mapping) and probe.get("find"):
                backends[name] = {"host": record["host"], "probe": probe}
    return backends


def probe_where(item, session="", trace=""):
    """verify.yml's line of where to look at the session in one backend."""
    name, backend = item["key"], item["value"]
    probe = backend["probe"]
    if probe.get("look"):  # a page for humans, e.g. Prometheus' graph of the session's cost
        url = str(probe["url"]).rstrip("/") + probe["look"].replace(SESSION, session).replace(TRACE, trace)
    else:
        url = probe_request(probe, "find", session, trace)["url"]
    return "%s (on %s): %s" % (probe.get("title", name), backend["host"], url)


def probe_logins(results):
    """The Authorization header of each probe that logs in, from a slurp loop
    over (component, probe) or (component, {host, probe}) items."""
    logins = {}
    for result in results or []:
        if "content" not in result:
            continue
        name, probe = result["item"]["key"], result["item"]["value"]
        probe = probe.get("probe", probe)
        password = base64.b64decode(result["content"]).decode("utf-8").strip()
        token = base64.b64encode(("%s:%s" % (probe.get("user", ""), password)).encode("utf-8")).decode("ascii")
        logins[name] = {"Authorization": "Basic " + token}
    return logins


class FilterModule(object):
    def filters(self):
        return {
            "probe_request": probe_request,
            "probe_found": probe_found,
            "probe_logins": probe_logins,
            "probe_host_endpoints": probe_host_endpoints,
            "probe_backends": probe_backends,
            "probe_where": probe_where,
            "probe_health_line": probe_health_line,
            "probe_last_line": probe_last_line,
            "probe_down": probe_down,
        }
