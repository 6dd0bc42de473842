"""Comparison helpers and OpenSearch normalisers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.claude_code.observability.plugins.module_utils.compare import (  # noqa: E402
    deep_merge,
    differences,
    drop_none,
    equal,
    is_subset,
    make_diff,
    normalize_scalars,
    strip_keys,
)
from ansible_collections.claude_code.observability.plugins.module_utils.opensearch import (  # noqa: E402
    is_static_setting,
    normalize_index_settings,
    normalize_mappings,
    normalize_template,
)


def test_scalars_compare_the_way_servers_echo_them():
    assert normalize_scalars({"a": 1, "b": True, "c": 2.0, "d": 2.5, "e": None, "f": ["x", 0]}) == {
        "a": "1",
        "b": "true",
        "c": "2",
        "d": "2.5",
        "e": None,
        "f": ["x", "0"],
    }
    assert equal({"n": 1, "t": False}, {"n": "1", "t": "false"})
    assert not equal({"n": 1}, {"n": "2"})


def test_subset_allows_server_defaults_but_not_changes():
    current = {"a": "1", "b": {"c": "x", "d": "server-default"}, "id": "abc"}
    assert is_subset({"a": 1, "b": {"c": "x"}}, current)
    assert not is_subset({"a": 2}, current)
    assert not is_subset({"b": {"c": "y"}}, current)
    assert not is_subset({"missing": 1}, current)
    assert not is_subset({"b": "flat"}, current)


def test_subset_lists_match_item_by_item_and_length():
    current = {"states": [{"name": "a", "retry": {"count": 3}}, {"name": "b"}]}
    assert is_subset({"states": [{"name": "a"}, {"name": "b"}]}, current)
    assert not is_subset({"states": [{"name": "a"}]}, current), "a removed item is a change"
    assert not is_subset({"states": [{"name": "b"}, {"name": "a"}]}, current), "order matters"


def test_differences_name_the_paths():
    desired = {"settings": {"x": 1, "y": 2}, "l": [1, 2]}
    current = {"settings": {"x": "1", "y": "3"}, "l": [1, 3]}
    assert differences(desired, current) == ["settings.y", "l[1]"]
    assert differences({"a": 1}, {"a": 2}, limit=1) == ["a"]


def test_strip_drop_merge():
    obj = {"id": 1, "v": {"id": 2, "x": 3}, "n": None}
    assert strip_keys(obj, ["id"]) == {"v": {"id": 2, "x": 3}, "n": None}
    assert strip_keys(obj, ["id"], recursive=True) == {"v": {"x": 3}, "n": None}
    assert drop_none(obj) == {"id": 1, "v": {"id": 2, "x": 3}}
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}, "d": 4}) == {"a": {"b": 1, "c": 3}, "d": 4}


def test_diff_is_stable_text_with_headers():
    diff = make_diff({"b": 1, "a": 2}, {"a": 2, "b": 2}, "thing")
    assert diff["before"] == json.dumps({"a": 2, "b": 1}, indent=2, sort_keys=True) + "\n"
    assert diff["before_header"] == "thing (current)" and diff["after_header"] == "thing (desired)"
    assert make_diff(None, {"a": 1})["before"] == ""


def test_index_settings_flatten_prefix_and_stringify():
    returned = {
        "index": {"number_of_shards": "1", "refresh_interval": "5s", "mapping": {"total_fields": {"limit": "2000"}}}
    }
    desired = {"number_of_shards": 1, "index.refresh_interval": "5s", "mapping.total_fields.limit": 2000}
    assert (
        normalize_index_settings(returned)
        == normalize_index_settings(desired)
        == {
            "index.number_of_shards": "1",
            "index.refresh_interval": "5s",
            "index.mapping.total_fields.limit": "2000",
        }
    )


def test_mappings_dotted_names_and_implicit_object():
    desired = {
        "dynamic": False,
        "properties": {
            "event.name": {"type": "keyword"},
            "event.ts": {"type": "date"},
            "o": {"type": "object", "properties": {"x": {"type": "long"}}},
        },
    }
    returned = {
        "dynamic": "false",
        "properties": {
            "event": {"properties": {"name": {"type": "keyword"}, "ts": {"type": "date"}}},
            "o": {"properties": {"x": {"type": "long"}}},
        },
    }
    assert normalize_mappings(desired) == normalize_mappings(returned)
    assert normalize_mappings(None) == {}


def test_template_section_drops_empty_parts():
    assert normalize_template({"settings": {}, "mappings": {}, "aliases": {"a": {}}}) == {"aliases": {"a": {}}}
    assert normalize_template(None) == {}


@pytest.mark.parametrize(
    ("key", "static"),
    [
        ("index.number_of_shards", True),
        ("index.codec", True),
        ("index.sort.field", True),
        ("index.analysis.analyzer.x.type", True),
        ("index.number_of_replicas", False),
        ("index.refresh_interval", False),
        ("index.codecx", False),
        ("index.mapping.total_fields.limit", False),
    ],
)
def test_static_settings(key, static):
    assert is_static_setting(key) is static
