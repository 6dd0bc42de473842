# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare what a playbook asks for with what a server has, and describe the difference.

Servers echo objects back changed: numbers as strings, defaults filled in,
ids, versions and timestamps added. Modules normalise both sides with these
helpers, then decide "no change" only when the desired object is contained
in (or equal to) the current one, so a second run makes no write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

from ansible.module_utils.six import string_types

MISSING = object()


def normalize_scalar(value):
    """One spelling per scalar: servers return 1 as "1" and true as "true"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, string_types):
        return value
    return value


def normalize_scalars(obj):
    """normalize_scalar applied to every leaf of a JSON-like structure."""
    if isinstance(obj, dict):
        return dict((k, normalize_scalars(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return [normalize_scalars(v) for v in obj]
    return normalize_scalar(obj)


def strip_keys(obj, keys, recursive=False):
    """A copy of obj without the given keys (server-owned fields such as ids and timestamps)."""
    keys = set(keys)
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in keys:
                continue
            out[k] = strip_keys(v, keys, recursive) if recursive else copy.deepcopy(v)
        return out
    if recursive and isinstance(obj, list):
        return [strip_keys(v, keys, recursive) for v in obj]
    return copy.deepcopy(obj)


def drop_none(obj):
    """Drop keys whose value is None, recursively (an unset option means "not managed")."""
    if isinstance(obj, dict):
        return dict((k, drop_none(v)) for k, v in obj.items() if v is not None)
    if isinstance(obj, list):
        return [drop_none(v) for v in obj]
    return obj


def is_subset(desired, current):
    """True when every value in desired is present and equal in current.

    Dicts may hold extra keys on the current side (server defaults); lists
    must have the same length and match element by element, so a removed
    list item is a difference. Scalars compare after normalize_scalar.
    """
    return not differences(desired, current, limit=1)


def differences(desired, current, path="", limit=None):
    """Paths where desired is not contained in current, e.g. ['settings.index.number_of_replicas']."""
    found = []
    _diff(desired, current, path, found, limit)
    return found


def _join(path, key):
    return "%s.%s" % (path, key) if path else "%s" % key


def _diff(desired, current, path, found, limit):
    if limit is not None and len(found) >= limit:
        return
    if isinstance(desired, dict):
        if not isinstance(current, dict):
            found.append(path or "(root)")
            return
        for key in desired:
            if key not in current:
                found.append(_join(path, key))
            else:
                _diff(desired[key], current[key], _join(path, key), found, limit)
            if limit is not None and len(found) >= limit:
                return
        return
    if isinstance(desired, (list, tuple)):
        if not isinstance(current, (list, tuple)) or len(current) != len(desired):
            found.append(path or "(root)")
            return
        # Lengths are equal here; zip(strict=) does not exist on every Python a module may run on.
        for i, (d, c) in enumerate(zip(desired, current)):  # noqa: B905
            _diff(d, c, "%s[%d]" % (path, i), found, limit)
        return
    if normalize_scalar(desired) != normalize_scalar(current):
        found.append(path or "(root)")


def equal(a, b):
    """Equality after normalize_scalars (both sides, every leaf)."""
    return normalize_scalars(a) == normalize_scalars(b)


def deep_merge(base, override):
    """A copy of base with override merged in (dicts recursively, anything else replaced)."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return copy.deepcopy(override)
    out = copy.deepcopy(base)
    for k, v in override.items():
        out[k] = deep_merge(out[k], v) if k in out else copy.deepcopy(v)
    return out


def to_text_block(obj):
    """Stable, readable text for diff mode (sorted keys so unrelated reordering shows no change)."""
    if obj is None:
        return ""
    return json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"


def make_diff(before, after, name=None):
    """The dict Ansible's diff mode expects: before/after as text, with headers naming the object."""
    diff = dict(before=to_text_block(before), after=to_text_block(after))
    if name:
        diff["before_header"] = "%s (current)" % name
        diff["after_header"] = "%s (desired)" % name
    return diff
