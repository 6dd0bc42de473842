#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: opensearch_index_template
short_description: Manage an OpenSearch composable index template
version_added: 1.0.0
description:
  - Creates, updates or deletes a composable index template through C(/_index_template/<name>).
  - Reads the template once and writes only when the desired definition differs from the stored one,
    after normalising what OpenSearch changes on the way (settings nested under C(index) and returned
    as strings, an empty C(composed_of) list, the default C(@timestamp) field of a data stream).
  - The stored template is replaced as a whole, so anything removed from the options is removed
    from the server too.
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
    description: Name of the index template.
    type: str
    required: true
  state:
    description: Whether the template should exist.
    type: str
    choices: [present, absent]
    default: present
  index_patterns:
    description:
      - Index name patterns the template applies to. Required when O(state=present).
    type: list
    elements: str
  template:
    description: The C(template) section, with any of C(settings), C(mappings) and C(aliases).
    type: dict
  composed_of:
    description: Component templates merged in, in this order, before O(template).
    type: list
    elements: str
  priority:
    description: Priority among templates matching the same index; the highest wins.
    type: int
  version:
    description: Optional version number kept with the template, for your own bookkeeping.
    type: int
  meta:
    description: Optional C(_meta) object kept with the template.
    type: dict
  data_stream:
    description:
      - Make matching names data streams. V({}) uses the default C(@timestamp) field.
    type: dict
author:
  - claude_code.observability maintainers (@claude-code-observability)
"""

EXAMPLES = r"""
- name: Claude Code events go to typed indices
  claude_code.observability.opensearch_index_template:
    url: http://127.0.0.1:9200
    name: claude-code
    index_patterns: ["claude-code*"]
    composed_of: [claude-code-events-mappings]
    priority: 200
    template:
      settings:
        index.refresh_interval: 5s
      aliases:
        claude-code-all: {}

- name: Check what would change, with a diff
  claude_code.observability.opensearch_index_template:
    url: http://127.0.0.1:9200
    name: claude-code
    index_patterns: ["claude-code*"]
    composed_of: [claude-code-events-mappings]
    priority: 200
  check_mode: true
  diff: true
"""

RETURN = r"""
index_template:
  description: The template as OpenSearch stores it after the run.
  returned: when O(state=present)
  type: dict
  sample:
    index_patterns: ["claude-code*"]
    composed_of: [claude-code-events-mappings]
    priority: 200
    template: {settings: {index: {refresh_interval: 5s}}}
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
    out = {
        "index_patterns": list(body.get("index_patterns") or []),
        "composed_of": list(body.get("composed_of") or []),
        "template": normalize_template(body.get("template")),
    }
    for key in ("priority", "version", "_meta"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("data_stream") is not None:
        stream = dict(body["data_stream"])
        # OpenSearch fills in the default timestamp field of a data stream.
        stream.setdefault("timestamp_field", {"name": "@timestamp"})
        out["data_stream"] = stream
    return out


def read(osm, name):
    found = osm.read("index template %s" % name, "_index_template/" + quote_path(name))
    for item in (found or {}).get("index_templates", []):
        if item.get("name") == name:
            return item.get("index_template")
    return None


def main():
    osm = OpenSearchModule(
        dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            index_patterns=dict(type="list", elements="str"),
            template=dict(type="dict"),
            composed_of=dict(type="list", elements="str"),
            priority=dict(type="int"),
            version=dict(type="int"),
            meta=dict(type="dict"),
            data_stream=dict(type="dict"),
        ),
        required_if=[("state", "present", ["index_patterns"])],
    )
    p = osm.params
    name = p["name"]
    current = read(osm, name)
    path = "_index_template/" + quote_path(name)

    if p["state"] == "absent":
        osm.ensure_absent(
            current, comparable(current), name, delete=lambda cur: osm.delete("index template %s" % name, path)
        )

    desired = drop_none(
        dict(
            index_patterns=p["index_patterns"],
            template=p["template"],
            composed_of=p["composed_of"],
            priority=p["priority"],
            version=p["version"],
            _meta=p["meta"],
            data_stream=p["data_stream"],
        )
    )

    def write(cur):
        osm.call("%s index template %s" % ("update" if cur else "create", name), osm.client.put, path, body=desired)
        osm.applied.append("index template %s written" % name)
        return dict(index_template=read(osm, name))

    osm.ensure_present(
        current, comparable(current), comparable(desired), name, write, result=dict(index_template=current)
    )


if __name__ == "__main__":
    main()
