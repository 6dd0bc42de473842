# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What ``docker compose ps --format json`` says of a project, for the compose filters."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
from collections.abc import Mapping


def ps_entries(ps):
    """The services of ``docker compose ps --format json`` (one JSON object per line, or one list)."""
    entries = []
    for raw in ("%s" % (ps or "")).splitlines():
        if not raw.strip():
            continue
        try:
            parsed = json.loads(raw)
        except ValueError:
            continue
        entries.extend(parsed if isinstance(parsed, list) else [parsed])
    return [e for e in entries if isinstance(e, Mapping)]


def compose_not_up(ps):
    """Services of the project that are not running, or running but not healthy."""
    down = []
    for entry in ps_entries(ps):
        service = entry.get("Service") or entry.get("Name")
        state = (entry.get("State") or "").lower()
        health = (entry.get("Health") or "").lower()
        if service and (state != "running" or health in ("unhealthy", "starting")) and service not in down:
            down.append(service)
    return down
