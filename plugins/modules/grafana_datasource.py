#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: grafana_datasource
short_description: Manage a Grafana data source through the HTTP API
version_added: 1.0.0
description:
  - Creates, updates or deletes a data source of an existing Grafana through C(/api/datasources),
    for example the Prometheus and Loki data sources the Claude Code dashboards query.
  - The data source is found by O(uid) when it is given (dashboards and alert rules refer to data sources
    by uid, so keep it fixed), otherwise by O(name).
  - Reads the data source once and writes only when a managed field differs. An update sends the whole
    definition (C(PUT /api/datasources/uid/<uid>)), so O(json_data) keys removed from the task are removed
    from Grafana too.
  - Grafana never returns secrets (O(secure_json_data)); it only lists which secret fields are set
    (C(secureJsonFields)). So a secret field that is not set yet is a change, but a changed value of a set
    one cannot be seen. See O(update_secure_json_data).
extends_documentation_fragment:
  - claude_code.observability.connection
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Shows stored and desired definitions; secret fields by name only, never their values.
options:
  name:
    description: Name of the data source, unique in the organisation.
    type: str
    required: true
  uid:
    description:
      - Unique identifier of the data source. When given, the data source is looked up by it, and a rename
        (another O(name)) is an update.
      - When the uid is not found but a data source with O(name) exists under another uid, the module fails
        instead of changing the uid that dashboards may refer to.
    type: str
  type:
    description:
      - Plugin id of the data source, for example V(prometheus), V(loki), V(tempo).
      - Required when O(state=present).
    type: str
    aliases: [ds_type]
  datasource_url:
    description: URL Grafana (or the browser, with O(access=direct)) uses to reach the data source.
    type: str
    default: ""
    aliases: [ds_url]
  access:
    description: V(proxy) lets the Grafana server query the data source; V(direct) lets the browser do it.
    type: str
    choices: [proxy, direct]
    default: proxy
  is_default:
    description: Make this the organisation's default data source. Grafana then clears the flag on the others.
    type: bool
    default: false
  basic_auth:
    description:
      - Use HTTP basic auth towards the data source.
      - Put the password in O(secure_json_data) as C(basicAuthPassword).
    type: bool
    default: false
  basic_auth_user:
    description: User name for O(basic_auth).
    type: str
    default: ""
  json_data:
    description: Plugin settings (C(jsonData)), for example C(httpMethod), C(timeInterval), C(derivedFields).
    type: dict
    default: {}
  secure_json_data:
    description:
      - Secret plugin settings (C(secureJsonData)), for example C(basicAuthPassword) or
        C(httpHeaderValue1). Write-only in Grafana. Never shown in output, diffs or error messages.
      - Secret fields not listed here are left as they are in Grafana.
    type: dict
    default: {}
  update_secure_json_data:
    description:
      - V(on_create) sends the secrets when the data source is created, when a listed secret field is not set
        in Grafana yet, and whenever the data source is written for another change; runs stay idempotent.
      - V(always) writes the data source on every run to push the secrets (always reports a change), for
        example after rotating a password.
    type: str
    choices: [on_create, always]
    default: on_create
  state:
    description: Whether the data source should exist.
    type: str
    choices: [present, absent]
    default: present
author:
  - claude_code.observability maintainers (@claude-code-observability)
"""

EXAMPLES = r"""
- name: Prometheus holding the Claude Code metrics
  claude_code.observability.grafana_datasource:
    url: http://127.0.0.1:3000
    token: "{{ grafana_service_account_token }}"
    name: Prometheus
    uid: claude-code-prometheus
    type: prometheus
    datasource_url: http://prometheus:9090
    is_default: true
    json_data:
      httpMethod: POST
      timeInterval: 30s

- name: Loki behind basic auth
  claude_code.observability.grafana_datasource:
    url: https://grafana.example.com
    user: admin
    password: "{{ grafana_admin_password }}"
    ca_path: /etc/ssl/private-ca.pem
    name: Loki
    uid: claude-code-loki
    type: loki
    datasource_url: https://loki.example.com
    basic_auth: true
    basic_auth_user: grafana
    secure_json_data:
      basicAuthPassword: "{{ loki_reader_password }}"
"""

RETURN = r"""
datasource:
  description: The data source as Grafana returns it after the run (secrets are never returned).
  returned: when O(state=present)
  type: dict
  sample:
    id: 3
    uid: claude-code-prometheus
    name: Prometheus
    type: prometheus
    access: proxy
    url: http://prometheus:9090
    isDefault: true
    jsonData: {httpMethod: POST, timeInterval: 30s}
    secureJsonFields: {}
    version: 2
    readOnly: false
secrets_sent:
  description: Whether O(secure_json_data) was sent to Grafana in this run.
  returned: always
  type: bool
diff:
  description: Stored and desired definitions, secret fields by name only, in diff mode.
  returned: when diff mode is on and something changed
  type: dict
"""

from ansible.module_utils.common.text.converters import to_text  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.api_client import quote_path  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.api_module import ApiModule  # noqa: E402

API = "api/datasources"


def comparable(ds, with_uid, secret_fields):
    if ds is None:
        return None
    out = dict(
        name=ds.get("name"),
        type=ds.get("type"),
        url=ds.get("url") or "",
        access=ds.get("access") or "proxy",
        isDefault=bool(ds.get("isDefault")),
        basicAuth=bool(ds.get("basicAuth")),
        basicAuthUser=ds.get("basicAuthUser") or "",
        jsonData=ds.get("jsonData") or {},
        secureJsonFields=sorted(secret_fields),
    )
    if with_uid:
        out["uid"] = ds.get("uid")
    return out


def set_secret_fields(ds):
    return set(k for k, v in ((ds or {}).get("secureJsonFields") or {}).items() if v)


def main():
    api = ApiModule(
        dict(
            name=dict(type="str", required=True),
            uid=dict(type="str"),
            type=dict(type="str", aliases=["ds_type"]),
            datasource_url=dict(type="str", default="", aliases=["ds_url"]),
            access=dict(type="str", default="proxy", choices=["proxy", "direct"]),
            is_default=dict(type="bool", default=False),
            basic_auth=dict(type="bool", default=False),
            basic_auth_user=dict(type="str", default=""),
            json_data=dict(type="dict", default={}),
            secure_json_data=dict(type="dict", default={}, no_log=True),
            update_secure_json_data=dict(type="str", default="on_create", choices=["on_create", "always"]),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_if=[("state", "present", ["type"])],
        secret_params=("secure_json_data",),
    )
    p = api.params
    name, uid = p["name"], p["uid"]
    label = "data source %s" % (uid or name)
    secrets = dict((k, to_text(v)) for k, v in p["secure_json_data"].items() if v is not None)

    if uid:
        current = api.read(label, API + "/uid/" + quote_path(uid))
    else:
        current = api.read(label, API + "/name/" + quote_path(name))

    if p["state"] == "absent":
        api.ensure_absent(
            current,
            comparable(current, True, set_secret_fields(current)),
            label,
            delete=lambda cur: api.delete(label, API + "/uid/" + quote_path(cur["uid"])),
            result=dict(secrets_sent=False),
        )

    if current is None and uid:
        # A second read, only on creation: a name clash would otherwise surface as a bare 409.
        other = api.read("data source %s" % name, API + "/name/" + quote_path(name))
        if other is not None:
            api.fail(
                "A data source named %s already exists with uid %s, not %s. Nothing was changed: set uid to %s, "
                "or delete that data source first (dashboards and alert rules refer to data sources by uid)."
                % (name, other.get("uid"), uid, other.get("uid")),
                secrets_sent=False,
            )
    if current is not None and current.get("readOnly"):
        api.fail(
            "Data source %s is read-only in Grafana (provisioned from a file); change it in the provisioning "
            "file instead. Nothing was changed." % label,
            secrets_sent=False,
        )

    body = dict(
        name=name,
        type=p["type"],
        url=p["datasource_url"],
        access=p["access"],
        isDefault=p["is_default"],
        basicAuth=p["basic_auth"],
        basicAuthUser=p["basic_auth_user"],
        jsonData=p["json_data"],
    )
    if uid:
        body["uid"] = uid
    stored_fields = set_secret_fields(current)
    before = comparable(current, bool(uid), stored_fields)
    # Grafana keeps secret fields a write does not mention, so the desired set is a union.
    after = comparable(body, bool(uid), stored_fields | set(secrets))

    def write(cur):
        if secrets:
            body["secureJsonData"] = secrets
        if cur is None:
            answer = api.call("create " + label, api.client.post, API, body=body)
        else:
            # Grafana's update keeps the uid only when it is sent again.
            body.setdefault("uid", cur["uid"])
            body["version"] = cur.get("version")
            answer = api.call("update " + label, api.client.put, API + "/uid/" + quote_path(cur["uid"]), body=body)
        return dict(datasource=(answer or {}).get("datasource"), secrets_sent=bool(secrets))

    api.ensure_present(
        current,
        before,
        after,
        label,
        write,
        result=dict(datasource=current, secrets_sent=False),
        force=bool(secrets) and p["update_secure_json_data"] == "always",
    )


if __name__ == "__main__":
    main()
