# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""How the probes' answers are read (docs/components.md, "Probes"), for the ops_probes filters.

probe_pick(data, path)      a dotted path into a JSON answer ("data.result.0.value.1";
                            "[]" after a key flattens a list: "data.result[].values[]")
probe_last(answer, probe)   the newest data point a `last` answer holds, as UTC text, or ""
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six import string_types


def probe_pick(data, path):
    """The value at a dotted path; a list when the path flattens; None when absent."""
    values = [data]
    flattened = False
    for part in [p for p in str(path).split(".") if p]:
        flat = part.endswith("[]")
        key = part[:-2] if flat else part
        picked = []
        for node in values:
            if isinstance(node, Mapping) and key in node:
                value = node[key]
            elif isinstance(node, Sequence) and not isinstance(node, string_types) and key.isdigit():
                if int(key) >= len(node):
                    continue
                value = node[int(key)]
            else:
                continue
            if flat:
                if isinstance(value, Sequence) and not isinstance(value, string_types):
                    picked.extend(value)
            else:
                picked.append(value)
        values = picked
        flattened = flattened or flat
    if flattened:
        return values
    return values[0] if values else None


def probe_last(answer, probe):
    """The newest data point of a `last` answer, as 'YYYY-MM-DD HH:MM:SS UTC', or ''."""
    spec = (probe or {}).get("last") or {}
    value = probe_pick(answer or {}, spec.get("pick", ""))
    if isinstance(value, list):
        value = value[0] if value else None
    if value in (None, "", 0, "0"):
        return ""
    unit = spec.get("unit", "s")
    if unit == "iso":
        return str(value)
    try:
        seconds = float(value) / (1e9 if unit == "ns" else 1.0)
    except (TypeError, ValueError):
        raise AnsibleFilterError("probe_last: %r at %s is not a time in %s" % (value, spec.get("pick"), unit)) from None
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
