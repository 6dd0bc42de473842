#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: opensearch_ism_policy
short_description: Manage an OpenSearch Index State Management (ISM) policy
version_added: 1.0.0
description:
  - Creates, updates or deletes an ISM policy through C(/_plugins/_ism/policies/<policy_id>)
    (the index-management plugin must be installed).
  - Reads the policy once and writes only when the desired policy is not already contained in the
    stored one. Fields the plugin owns or fills in (C(policy_id), C(last_updated_time),
    C(schema_version), C(error_notification=null), default C(retry) of each action,
    C(last_updated_time) of each ISM template) are ignored in the comparison.
  - Updates use optimistic concurrency (C(if_seq_no) and C(if_primary_term) of the version read), so a
    policy changed by someone else between the read and the write is never overwritten silently.
extends_documentation_fragment:
  - claude_code.observability.connection
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Shows the stored and the desired policy (without plugin-owned fields).
options:
  policy_id:
    description: Id of the policy.
    type: str
    required: true
    aliases: [name]
  state:
    description: Whether the policy should exist.
    type: str
    choices: [present, absent]
    default: present
  policy:
    description:
      - The policy body (what goes under C(policy) in the API), with C(description), C(default_state),
        C(states) and optionally C(ism_template) and C(error_notification).
      - Required when O(state=present).
      - Lists (states, actions, transitions) are compared item by item, so removing a state or an
        action is an update. Within an action, a parameter the plugin fills in by default may be left out.
    type: dict
author:
  - claude_code.observability maintainers (@claude-code-observability)
"""

EXAMPLES = r"""
- name: Keep 30 days of Claude Code events
  claude_code.observability.opensearch_ism_policy:
    url: http://127.0.0.1:9200
    policy_id: claude-code-retention
    policy:
      description: Delete Claude Code event indices after 30 days
      default_state: hot
      states:
        - name: hot
          actions: []
          transitions:
            - state_name: delete
              conditions: {min_index_age: 30d}
        - name: delete
          actions:
            - delete: {}
          transitions: []
      ism_template:
        - index_patterns: ["claude-code*"]
          priority: 100
"""

RETURN = r"""
policy:
  description: The policy as the plugin stores it after the run.
  returned: when O(state=present)
  type: dict
  sample:
    policy_id: claude-code-retention
    default_state: hot
    schema_version: 21
    last_updated_time: 1764000000000
seq_no:
  description: C(_seq_no) of the stored policy, for optimistic concurrency.
  returned: when O(state=present)
  type: int
primary_term:
  description: C(_primary_term) of the stored policy.
  returned: when O(state=present)
  type: int
diff:
  description: Stored and desired policy, in diff mode.
  returned: when diff mode is on and something changed
  type: dict
"""

import copy  # noqa: E402

from ansible_collections.claude_code.observability.plugins.module_utils.api_client import ApiError, quote_path  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.compare import (  # noqa: E402
    differences,
    normalize_scalars,
    strip_keys,
)
from ansible_collections.claude_code.observability.plugins.module_utils.opensearch import OpenSearchModule  # noqa: E402

SERVER_FIELDS = ("policy_id", "last_updated_time", "schema_version", "user")
API = "_plugins/_ism/policies/"


def normalize_policy(policy):
    """Plugin-owned fields removed, ism_template always a list, leaves as strings."""
    if policy is None:
        return None
    out = strip_keys(policy, SERVER_FIELDS)
    if out.get("error_notification") is None:
        out.pop("error_notification", None)
    templates = out.get("ism_template")
    if templates is None:
        out.pop("ism_template", None)
    else:
        if isinstance(templates, dict):
            templates = [templates]
        out["ism_template"] = [strip_keys(t, ("last_updated_time",)) for t in templates]
    return normalize_scalars(out)


def policy_differences(desired, current):
    """Where desired is not contained in current, plus top-level fields stored but no longer wanted."""
    found = differences(desired, current)
    for key, value in current.items():
        if key not in desired and value not in (None, [], {}, ""):
            found.append(key)
    return found


def diff_view(policy):
    """Drop the action retry defaults the plugin adds, so a diff shows what the user wrote."""
    if policy is None:
        return None
    view = copy.deepcopy(policy)
    for state in view.get("states") or []:
        for action in state.get("actions") or []:
            if action.get("retry") == {"count": "3", "backoff": "exponential", "delay": "1m"}:
                del action["retry"]
    return view


def main():
    osm = OpenSearchModule(
        dict(
            policy_id=dict(type="str", required=True, aliases=["name"]),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            policy=dict(type="dict"),
        ),
        required_if=[("state", "present", ["policy"])],
        plugin="opensearch-index-management (ISM)",
    )
    p = osm.params
    pid = p["policy_id"]
    path = API + quote_path(pid)
    found = osm.read("ISM policy %s" % pid, path)
    current = found.get("policy") if found else None

    if p["state"] == "absent":
        osm.ensure_absent(
            current,
            diff_view(normalize_policy(current)),
            pid,
            delete=lambda cur: osm.delete("ISM policy %s" % pid, path),
        )

    desired = normalize_policy(p["policy"])
    before = normalize_policy(current)

    def write(cur):
        query = None
        if cur is not None:
            query = {"if_seq_no": found.get("_seq_no"), "if_primary_term": found.get("_primary_term")}
        try:
            written = osm.client.put(path, body={"policy": p["policy"]}, query=query)
        except ApiError as exc:
            if exc.status == 409:
                osm.fail(
                    "ISM policy %s was changed by someone else between this module's read and its write "
                    "(version conflict on if_seq_no=%s, if_primary_term=%s); nothing was written. "
                    "Run the task again to apply the desired policy over the new version."
                    % (pid, query and query["if_seq_no"], query and query["if_primary_term"]),
                    error=exc.to_result(),
                )
            osm.fail_api("%s ISM policy %s" % ("update" if cur else "create", pid), exc)
        stored = (written or {}).get("policy") or {}
        stored = stored.get("policy", stored)
        return dict(
            policy=stored,
            seq_no=(written or {}).get("_seq_no"),
            primary_term=(written or {}).get("_primary_term"),
        )

    osm.ensure_present(
        current,
        diff_view(before),
        desired,
        pid,
        write,
        # Contained, not equal: the plugin fills in defaults the task may leave out.
        differs=current is None or bool(policy_differences(desired, before)),
        result=dict(
            policy=current, seq_no=(found or {}).get("_seq_no"), primary_term=(found or {}).get("_primary_term")
        ),
        check_result=dict(policy=current),
    )


if __name__ == "__main__":
    main()
