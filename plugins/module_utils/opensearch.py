# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every opensearch_* module shares: the module skeleton and OpenSearch's own normalisations."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


from ansible_collections.claude_code.observability.plugins.module_utils.api_module import ApiModule
from ansible_collections.claude_code.observability.plugins.module_utils.compare import (
    deep_merge,
    normalize_scalars,
)

# Settings OpenSearch fixes at index creation: changing them needs a new index (reindex),
# so they are reported up front instead of failing halfway through an update.
STATIC_INDEX_SETTING_PREFIXES = (
    "index.number_of_shards",
    "index.number_of_routing_shards",
    "index.routing_partition_size",
    "index.codec",
    "index.store.type",
    "index.sort.",
    "index.soft_deletes.",
    "index.replication.type",
    "index.mapping.nested_fields.",
    "index.analysis.",
    "index.similarity.",
    "index.shard.check_on_startup",
    "index.load_fixed_bitset_filters_eagerly",
    "index.knn",
)

# Read-only facts an index reports about itself; never part of a desired state.
SERVER_INDEX_SETTINGS = (
    "index.uuid",
    "index.creation_date",
    "index.provided_name",
    "index.version.created",
    "index.version.upgraded",
    "index.history.uuid",
    "index.resize.",
    "index.routing.allocation.initial_recovery.",
)


def flatten_settings(settings, prefix=""):
    """{"index": {"refresh_interval": "5s"}} and {"index.refresh_interval": "5s"} -> one flat spelling."""
    flat = {}
    for key, value in (settings or {}).items():
        full = prefix + key
        if isinstance(value, dict):
            if value:
                flat.update(flatten_settings(value, full + "."))
        else:
            flat[full] = normalize_scalars(value)
    return flat


def normalize_index_settings(settings):
    """Flat, "index."-prefixed, string-valued settings: how OpenSearch stores and returns them."""
    out = {}
    for key, value in flatten_settings(settings).items():
        out[key if key.startswith("index.") else "index." + key] = value
    return out


def _matches(key, prefixes):
    for prefix in prefixes:
        if prefix.endswith("."):
            if key.startswith(prefix):
                return True
        elif key == prefix or key.startswith(prefix + "."):
            return True
    return False


def is_static_setting(key):
    return _matches(key, STATIC_INDEX_SETTING_PREFIXES)


def is_server_setting(key):
    return _matches(key, SERVER_INDEX_SETTINGS)


def _normalize_properties(props):
    out = {}
    for name in sorted(props or {}):
        field = dict(props[name] or {})
        if "properties" in field:
            field["properties"] = _normalize_properties(field["properties"])
        # An object is the default field type; an index does not echo it back.
        if field.get("type") == "object":
            del field["type"]
        parts = name.split(".")
        target = out
        for part in parts[:-1]:
            node = target.setdefault(part, {})
            target = node.setdefault("properties", {})
        leaf = parts[-1]
        target[leaf] = deep_merge(target[leaf], field) if leaf in target else field
    return out


def normalize_mappings(mappings):
    """Dotted field names expanded to objects, scalars as strings, implicit "type": "object" dropped."""
    if not mappings:
        return {}
    mappings = normalize_scalars(mappings)
    out = {}
    for key, value in mappings.items():
        out[key] = _normalize_properties(value) if key == "properties" else value
    return out


def normalize_template(template):
    """The template section (settings/mappings/aliases) of a component or index template."""
    template = template or {}
    out = {}
    if template.get("settings"):
        out["settings"] = normalize_index_settings(template["settings"])
    if template.get("mappings"):
        out["mappings"] = normalize_mappings(template["mappings"])
    if template.get("aliases"):
        out["aliases"] = normalize_scalars(template["aliases"])
    return out


class OpenSearchModule(ApiModule):
    """ApiModule that knows a missing OpenSearch plugin by its error."""

    def hint(self, exc):
        if self.plugin and "no handler found for uri" in exc.reason:
            return ". This OpenSearch does not serve the API: install the %s plugin on every node" % self.plugin
        return ""
