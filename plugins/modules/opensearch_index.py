#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: opensearch_index
short_description: Manage an OpenSearch index, its settings, mappings and aliases
version_added: 1.0.0
description:
  - Creates an index with settings, mappings and aliases, or deletes it.
  - On an existing index, changes what OpenSearch can change in place, making one read and no write when
    nothing differs. Dynamic settings are updated (C(/<index>/_settings)), new mapping fields and updatable
    mapping parameters are added (C(/<index>/_mapping)), missing aliases are added (C(/_aliases)).
  - What an existing index cannot change in place (static settings such as C(number_of_shards) or
    C(codec), the type of an existing field) makes the module fail before any write, listing each
    item, so nothing is half-applied. Such changes need a new index (and a reindex).
  - Settings, fields and aliases present on the index but not in the options are left alone.
extends_documentation_fragment:
  - claude_code.observability.connection
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Shows the stored and desired values of the managed settings, mappings and aliases.
options:
  name:
    description:
      - Name of the index (not an alias, not a pattern).
    type: str
    required: true
  state:
    description: Whether the index should exist. V(absent) deletes it with all its documents.
    type: str
    choices: [present, absent]
    default: present
  settings:
    description:
      - "Index settings, nested (V({index: {refresh_interval: 5s}})) or flat (V({refresh_interval: 5s})),
        with or without the C(index.) prefix."
    type: dict
  mappings:
    description:
      - Index mappings (C(properties), C(dynamic), ...). Dotted field names are accepted.
    type: dict
  aliases:
    description:
      - "Aliases of the index, name to alias options (V({}) for none), for example
        V({claude-code: {is_write_index: true}})."
    type: dict
author:
  - claude_code.observability maintainers (@claude-code-observability)
"""

EXAMPLES = r"""
- name: The first Claude Code events index, written through an alias
  claude_code.observability.opensearch_index:
    url: http://127.0.0.1:9200
    name: claude-code-000001
    settings:
      number_of_shards: 1
      number_of_replicas: 0
    mappings:
      properties:
        tool_result.duration_ms: {type: long, ignore_malformed: true}
    aliases:
      claude-code-write: {is_write_index: true}

- name: Later, a faster refresh and one more field (changed in place)
  claude_code.observability.opensearch_index:
    url: http://127.0.0.1:9200
    name: claude-code-000001
    settings:
      refresh_interval: 1s
    mappings:
      properties:
        machine.name: {type: keyword}
"""

RETURN = r"""
index:
  description: The index as OpenSearch reports it after the run (C(aliases), C(mappings), C(settings)).
  returned: when O(state=present)
  type: dict
  sample:
    aliases: {claude-code-write: {is_write_index: true}}
    mappings: {properties: {machine: {properties: {name: {type: keyword}}}}}
    settings: {index: {number_of_shards: "1", number_of_replicas: "0", refresh_interval: 1s}}
changes:
  description: What was (or in check mode would be) changed on an existing index.
  returned: when O(state=present) and the index existed
  type: dict
  sample:
    settings: {index.refresh_interval: 1s}
    mappings: [properties.machine]
    aliases: [claude-code-write]
diff:
  description: Stored and desired values of the managed parts, in diff mode.
  returned: when diff mode is on and something changed
  type: dict
"""

from ansible_collections.claude_code.observability.plugins.module_utils.api_client import quote_path  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.compare import (  # noqa: E402
    deep_merge,
    differences,
    drop_none,
    is_subset,
    normalize_scalars,
)
from ansible_collections.claude_code.observability.plugins.module_utils.opensearch import (  # noqa: E402
    OpenSearchModule,
    is_server_setting,
    is_static_setting,
    normalize_index_settings,
    normalize_mappings,
)


def field_type(field):
    if not isinstance(field, dict):
        return None
    return field.get("type") or ("object" if "properties" in field else None)


def type_conflicts(desired_props, current_props, path=""):
    """Existing fields whose type the desired mapping changes: OpenSearch cannot do that in place."""
    conflicts = []
    for name, field in (desired_props or {}).items():
        full = "%s.%s" % (path, name) if path else name
        current = (current_props or {}).get(name)
        if current is None:
            continue
        want, have = field_type(field), field_type(current)
        if want and have and want != have:
            conflicts.append("field %s: type %s -> %s" % (full, have, want))
        elif isinstance(field, dict) and "properties" in field:
            conflicts.extend(type_conflicts(field["properties"], current.get("properties"), full))
    return conflicts


def read(osm, name):
    found = osm.read("index %s" % name, quote_path(name))
    if not found:
        return None
    if name not in found:
        osm.fail(
            "%s is an alias or pattern resolving to %s, not an index: give the index name itself"
            % (name, ", ".join(sorted(found)))
        )
    return found[name]


def main():
    osm = OpenSearchModule(
        dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            settings=dict(type="dict"),
            mappings=dict(type="dict"),
            aliases=dict(type="dict"),
        )
    )
    p = osm.params
    name = p["name"]
    if any(c in name for c in "*?,") or name.startswith(("_", "-", "+")) or name in (".", ".."):
        osm.fail("name %r is not a single index name (no patterns, lists or leading _ - +)" % name)
    current = read(osm, name)

    if p["state"] == "absent":
        osm.ensure_absent(
            current, {"index": name}, name, delete=lambda cur: osm.delete("index %s" % name, quote_path(name))
        )

    if current is None:
        # A new index takes its settings, mappings and aliases in one call.
        def create(cur):
            body = drop_none(dict(settings=p["settings"], mappings=p["mappings"], aliases=p["aliases"]))
            osm.call("create index %s" % name, osm.client.put, quote_path(name), body=body)
            osm.applied.append("index %s created" % name)
            return dict(index=read(osm, name))

        osm.ensure_present(
            None,
            None,
            dict(
                settings=normalize_index_settings(p["settings"]),
                mappings=normalize_mappings(p["mappings"]),
                aliases=normalize_scalars(p["aliases"] or {}),
            ),
            name,
            create,
        )

    # The index exists: work out what differs, refuse what cannot change in place, then apply.
    have_settings = normalize_index_settings(current.get("settings"))
    want_settings = normalize_index_settings(p["settings"])
    setting_changes = dict((k, v) for k, v in want_settings.items() if have_settings.get(k) != v)

    have_map = normalize_mappings(current.get("mappings"))
    want_map = normalize_mappings(p["mappings"])
    mapping_paths = differences(want_map, have_map)

    have_aliases = normalize_scalars(current.get("aliases") or {})
    want_aliases = normalize_scalars(p["aliases"] or {})
    alias_changes = sorted(a for a, opts in want_aliases.items() if not is_subset(opts or {}, have_aliases.get(a)))

    fixed = [
        "setting %s: %s -> %s" % (k, have_settings.get(k, "(unset)"), v)
        for k, v in sorted(setting_changes.items())
        if is_static_setting(k) or is_server_setting(k)
    ]
    fixed += type_conflicts(want_map.get("properties"), have_map.get("properties"))
    if fixed:
        osm.fail(
            "Index %s exists and these cannot be changed in place: %s. Nothing was changed. "
            "They are fixed when an index is created: create a new index with them (or let an index "
            "template apply them at the next rollover) and reindex, or delete this index and run again."
            % (name, "; ".join(fixed)),
            cannot_change=fixed,
        )

    changes = {}
    if setting_changes:
        changes["settings"] = setting_changes
    if mapping_paths:
        changes["mappings"] = mapping_paths
    if alias_changes:
        changes["aliases"] = alias_changes

    def update(cur):
        if setting_changes:
            osm.call(
                "update settings of index %s" % name,
                osm.client.put,
                quote_path(name) + "/_settings",
                body=setting_changes,
            )
            osm.applied.append("settings %s" % ", ".join(sorted(setting_changes)))
        if mapping_paths:
            osm.call(
                "update mappings of index %s" % name,
                osm.client.put,
                quote_path(name) + "/_mapping",
                body=p["mappings"],
            )
            osm.applied.append("mappings")
        if alias_changes:
            actions = [{"add": dict(p["aliases"][a] or {}, index=name, alias=a)} for a in alias_changes]
            osm.call("add aliases to index %s" % name, osm.client.post, "_aliases", body={"actions": actions})
        return dict(index=read(osm, name), changes=changes)

    osm.ensure_present(
        current,
        dict(
            settings=dict((k, have_settings.get(k)) for k in sorted(want_settings)),
            mappings=have_map,
            aliases=dict((a, have_aliases.get(a)) for a in sorted(want_aliases)),
        ),
        dict(settings=want_settings, mappings=deep_merge(have_map, want_map), aliases=want_aliases),
        name,
        update,
        differs=bool(changes),
        result=dict(index=current, changes=changes),
    )


if __name__ == "__main__":
    main()
