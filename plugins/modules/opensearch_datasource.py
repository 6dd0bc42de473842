#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: opensearch_datasource
short_description: Manage a direct-query data source of the OpenSearch SQL plugin (for example Prometheus)
version_added: 1.0.0
description:
  - Creates, updates or deletes a data source through C(/_plugins/_query/_datasources)
    (the SQL plugin must be installed), such as the Prometheus connection OpenSearch Dashboards
    uses to query metrics.
  - The plugin never returns credentials (properties ending in C(auth.username), C(auth.password),
    C(auth.access_key), C(auth.secret_key)). Put them in O(secret_properties); they are sent when the
    data source is created, whenever it is rewritten for another reason, and on every run with
    O(update_secret_properties=always). They never appear in output, diffs or error messages.
  - Reads the data source once and writes only when O(description), O(properties), O(allowed_roles) or
    O(status) differ. An update replaces the stored definition (C(PUT)), so properties removed from
    O(properties) are removed from the server too.
extends_documentation_fragment:
  - claude_code.observability.connection
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Shows stored and desired definitions, without secret properties.
options:
  name:
    description: Name of the data source, as used in queries (C(source = <name>.<metric>)).
    type: str
    required: true
  state:
    description: Whether the data source should exist.
    type: str
    choices: [present, absent]
    default: present
  connector:
    description:
      - Connector type. It cannot be changed on an existing data source (delete it first).
    type: str
    default: prometheus
  properties:
    description:
      - Non-secret connector properties, for example C(prometheus.uri) and C(prometheus.auth.type).
      - Values are sent as strings.
    type: dict
    default: {}
  secret_properties:
    description:
      - Credential properties, for example C(prometheus.auth.username) and C(prometheus.auth.password).
        Never shown. Keys that are credentials by the plugin's rule are treated as secret even when
        given in O(properties).
    type: dict
    default: {}
  update_secret_properties:
    description:
      - V(on_create) sends secrets when the data source is created or rewritten for another change, so runs
        stay idempotent (the plugin cannot tell whether a stored secret matches).
      - V(always) rewrites the data source on every run to push the secrets (always reports a change).
    type: str
    choices: [on_create, always]
    default: on_create
  description:
    description: Free text description.
    type: str
    default: ""
  allowed_roles:
    description: OpenSearch security roles allowed to query the data source (security-enabled clusters).
    type: list
    elements: str
    default: []
  status:
    description: V(disabled) blocks new queries against the data source.
    type: str
    choices: [active, disabled]
    default: active
author:
  - claude_code.observability maintainers (@claude-code-observability)
"""

EXAMPLES = r"""
- name: Prometheus for OpenSearch Dashboards, no auth
  claude_code.observability.opensearch_datasource:
    url: http://127.0.0.1:9200
    name: claude_code_prometheus
    properties:
      prometheus.uri: http://prometheus:9090

- name: Prometheus behind basic auth
  claude_code.observability.opensearch_datasource:
    url: https://opensearch.example.com:9200
    user: admin
    password: "{{ opensearch_admin_password }}"
    name: claude_code_prometheus
    properties:
      prometheus.uri: https://prometheus.example.com
      prometheus.auth.type: basicauth
    secret_properties:
      prometheus.auth.username: reader
      prometheus.auth.password: "{{ prometheus_reader_password }}"
"""

RETURN = r"""
datasource:
  description: The data source as the plugin returns it after the run (credentials are never returned).
  returned: when O(state=present)
  type: dict
  sample:
    name: claude_code_prometheus
    connector: PROMETHEUS
    description: ""
    allowedRoles: []
    properties: {prometheus.uri: "http://prometheus:9090"}
    status: ACTIVE
secrets_sent:
  description: Whether secret properties were sent to the server in this run.
  returned: always
  type: bool
diff:
  description: Stored and desired definitions without secret properties, in diff mode.
  returned: when diff mode is on and something changed
  type: dict
"""

import time  # noqa: E402

from ansible.module_utils.common.text.converters import to_text  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.api_client import quote_path  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.opensearch import OpenSearchModule  # noqa: E402

API = "_plugins/_query/_datasources"
# The plugin's own rule for what it withholds from GET responses.
SECRET_SUFFIXES = ("auth.username", "auth.password", "auth.access_key", "auth.secret_key")


def is_secret_key(key):
    return any(key.endswith(s) for s in SECRET_SUFFIXES)


def comparable(ds):
    if ds is None:
        return None
    props = dict((k, to_text(v)) for k, v in (ds.get("properties") or {}).items() if not is_secret_key(k))
    return dict(
        connector=to_text(ds.get("connector") or "").lower(),
        description=ds.get("description") or "",
        properties=props,
        allowedRoles=sorted(ds.get("allowedRoles") or []),
        status=to_text(ds.get("status") or "active").lower(),
    )


def read(osm, name, attempts=1):
    """GET one data source; the plugin may answer 404 for a moment right after a write."""
    for attempt in range(attempts):
        found = osm.read("data source %s" % name, API + "/" + quote_path(name))
        if found is not None or attempt == attempts - 1:
            return found
        time.sleep(0.5)
    return None


def main():
    osm = OpenSearchModule(
        dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            connector=dict(type="str", default="prometheus"),
            properties=dict(type="dict", default={}),
            secret_properties=dict(type="dict", default={}, no_log=True),
            update_secret_properties=dict(type="str", default="on_create", choices=["on_create", "always"]),
            description=dict(type="str", default=""),
            allowed_roles=dict(type="list", elements="str", default=[]),
            status=dict(type="str", default="active", choices=["active", "disabled"]),
        ),
        secret_params=("secret_properties",),
        plugin="opensearch-sql",
    )
    p = osm.params
    name = p["name"]
    plain = dict((k, to_text(v)) for k, v in p["properties"].items() if not is_secret_key(k))
    secrets = dict((k, to_text(v)) for k, v in p["properties"].items() if is_secret_key(k))
    secrets.update((k, to_text(v)) for k, v in p["secret_properties"].items())
    osm.client.secrets.extend(v for v in secrets.values() if v)
    for value in secrets.values():
        if value:
            osm.module.no_log_values.add(value)

    current = read(osm, name)

    if p["state"] == "absent":
        osm.ensure_absent(
            current,
            comparable(current),
            name,
            delete=lambda cur: osm.delete("data source %s" % name, API + "/" + quote_path(name)),
            result=dict(secrets_sent=False),
        )

    body = dict(
        name=name,
        connector=p["connector"],
        description=p["description"],
        properties=dict(plain, **secrets),
        allowedRoles=p["allowed_roles"],
        status=p["status"].upper(),
    )
    after = comparable(body)
    before = comparable(current)
    if current is not None and before["connector"] != after["connector"]:
        osm.fail(
            "Data source %s uses connector %s; the connector of a data source cannot be changed. "
            "Nothing was changed: delete it (state=absent) and create it again." % (name, before["connector"])
        )

    def write(cur):
        if cur is None:
            osm.call("create data source %s" % name, osm.client.post, API, body=body)
        else:
            osm.call("update data source %s" % name, osm.client.put, API, body=body)
        osm.applied.append("data source %s written" % name)
        return dict(datasource=read(osm, name, attempts=10), secrets_sent=bool(secrets))

    osm.ensure_present(
        current,
        before,
        after,
        name,
        write,
        result=dict(datasource=current, secrets_sent=False),
        force=bool(secrets) and p["update_secret_properties"] == "always",
    )


if __name__ == "__main__":
    main()
