#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: opensearch_component_template
short_description: Manage an OpenSearch component template
version_added: 1.0.0
description:
  - Creates, updates or deletes a component template through C(/_component_template/<name>).
  - Reads the template once and writes only when the desired definition differs from the stored one,
    after normalising what OpenSearch changes on the way (settings nested under C(index) and returned
    as strings, dotted field names expanded, implicit C(object) types).
  - The stored template is replaced as a whole, so a setting, field or alias removed from O(template)
    is removed from the server too.
extends_documentation_fragment:
  - claude_code.observability.connection
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Shows the normalised stored and desired template.
options:
  name:
    description: Name of the component template.
    type: str
    required: true
  state:
    description: Whether the template should exist.
    type: str
    choices: [present, absent]
    default: present
  template:
    description:
      - The C(template) section, with any of C(settings), C(mappings) and C(aliases).
      - Required when O(state=present).
    type: dict
  version:
    description: Optional version number kept with the template, for your own bookkeeping.
    type: int
  meta:
    description: Optional C(_meta) object kept with the template.
    type: dict
author:
  - claude_code.observability maintainers (@claude-code-observability)
"""

EXAMPLES = r"""
- name: Typed fields shared by the Claude Code event indices
  claude_code.observability.opensearch_component_template:
    url: http://127.0.0.1:9200
    name: claude-code-events-mappings
    template:
      settings:
        number_of_replicas: 0
      mappings:
        dynamic: false
        properties:
          "@timestamp": {type: date}
          event.name: {type: keyword}
          cost_usd: {type: double}
          session.id: {type: keyword}
    meta:
      managed_by: claude_code.observability

- name: Remove it
  claude_code.observability.opensearch_component_template:
    url: https://opensearch.example.com:9200
    user: admin
    password: "{{ opensearch_admin_password }}"
    ca_path: /etc/ssl/private-ca.pem
    name: claude-code-events-mappings
    state: absent
"""

RETURN = r"""
component_template:
  description: The template as OpenSearch stores it after the run (absent when it does not exist).
  returned: when O(state=present)
  type: dict
  sample:
    template:
      settings: {index: {number_of_replicas: "0"}}
      mappings: {dynamic: false, properties: {cost_usd: {type: double}}}
    _meta: {managed_by: claude_code.observability}
diff:
  description: Normalised stored and desired template, in diff mode.
  returned: when diff mode is on and something changed
  type: dict
"""

from ansible_collections.claude_code.observability.plugins.module_utils.api_client import quote_path  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.compare import drop_none  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.opensearch import (  # noqa: E402
    OpenSearchModule,
    normalize_template,
)


def comparable(body):
    if body is None:
        return None
    out = {"template": normalize_template(body.get("template"))}
    for key in ("version", "_meta"):
        if body.get(key) is not None:
            out[key] = body[key]
    return out


def read(osm, name):
    found = osm.read("component template %s" % name, "_component_template/" + quote_path(name))
    for item in (found or {}).get("component_templates", []):
        if item.get("name") == name:
            return item.get("component_template")
    return None


def main():
    osm = OpenSearchModule(
        dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            template=dict(type="dict"),
            version=dict(type="int"),
            meta=dict(type="dict"),
        ),
        required_if=[("state", "present", ["template"])],
    )
    p = osm.params
    name = p["name"]
    current = read(osm, name)
    path = "_component_template/" + quote_path(name)

    if p["state"] == "absent":
        osm.ensure_absent(
            current, comparable(current), name, delete=lambda cur: osm.delete("component template %s" % name, path)
        )

    desired = drop_none(dict(template=p["template"], version=p["version"], _meta=p["meta"]))

    def write(cur):
        osm.call("%s component template %s" % ("update" if cur else "create", name), osm.client.put, path, body=desired)
        osm.applied.append("component template %s written" % name)
        return dict(component_template=read(osm, name))

    osm.ensure_present(
        current, comparable(current), comparable(desired), name, write, result=dict(component_template=current)
    )


if __name__ == "__main__":
    main()
