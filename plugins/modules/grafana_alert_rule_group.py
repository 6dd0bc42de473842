#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: grafana_alert_rule_group
short_description: Manage a Grafana-managed alert rule group through the alerting provisioning API
version_added: 1.0.0
description:
  - Creates, updates or deletes an alert rule group of an existing Grafana through
    C(/api/v1/provisioning/folder/<folder_uid>/rule-groups/<name>), that is its evaluation interval and its rules.
  - The group is written as a whole, in the order given; rules that are no longer listed are deleted.
    A rule without C(uid) keeps the uid of the stored rule with the same title, so its state and
    history survive an update.
  - Reads the group once and writes only when the interval or a rule differs. What Grafana adds
    (C(id), C(uid) when not given, C(orgID), C(folderUID), C(ruleGroup), C(updated), C(provenance)) is
    ignored, durations compare by value (C(300s) equals C(5m)), and fields left out of a rule match
    Grafana's empty defaults (C(isPaused=false), C(keep_firing_for=0s), an empty C(queryType), ...).
  - By default the write carries the header C(X-Disable-Provenance) set to C(true).
    Without that header Grafana marks the rules as provisioned (C(provenance=api)) and locks them in
    its UI; with it they stay editable there, which suits a homelab where alerts get tuned by hand.
    A hand edit is then reported (and reverted) by the next run, like any other difference.
    Set O(disable_provenance=false) to lock the rules instead.
extends_documentation_fragment:
  - claude_code.observability.connection
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Shows the normalised stored and desired group.
options:
  folder_uid:
    description: UID of the folder holding the group (see M(claude_code.observability.grafana_folder)). It must exist.
    type: str
    required: true
  name:
    description: Name (title) of the rule group, unique within the folder.
    type: str
    required: true
    aliases: [group]
  interval:
    description:
      - How often the rules are evaluated, as seconds (V(60)) or a duration (V(1m)). Grafana requires a
        multiple of its scheduler interval (10 s by default). Required when O(state=present).
    type: raw
  rules:
    description:
      - The rules of the group, each in the provisioning API's C(ProvisionedAlertRule) shape
        (C(title), C(condition), C(data), C(for), C(labels), C(annotations), C(noDataState), C(execErrState), ...).
      - C(folderUID) and C(ruleGroup) are filled in. Alert rules (those without C(record)) get
        C(noDataState=NoData) and C(execErrState=Error) when not given, as in Grafana's UI.
      - Required (and not empty) when O(state=present); delete a group with O(state=absent).
    type: list
    elements: dict
  disable_provenance:
    description:
      - Send the header C(X-Disable-Provenance) set to C(true) so the rules stay editable in Grafana's UI.
      - V(false) lets Grafana mark them C(provenance=api), read-only in the UI.
    type: bool
    default: true
  state:
    description: Whether the rule group should exist.
    type: str
    choices: [present, absent]
    default: present
author:
  - claude_code.observability maintainers (@claude-code-observability)
"""

EXAMPLES = r"""
- name: Alert when Claude Code spend passes 20 USD in a day
  claude_code.observability.grafana_alert_rule_group:
    url: http://127.0.0.1:3000
    token: "{{ grafana_service_account_token }}"
    folder_uid: claude-code
    name: claude-code-cost
    interval: 1m
    rules:
      - uid: claude-code-daily-cost
        title: Claude Code daily cost above 20 USD
        condition: B
        for: 5m
        labels: {severity: warning}
        annotations:
          summary: Claude Code spend passed 20 USD in the last 24 hours
        data:
          - refId: A
            datasourceUid: claude-code-prometheus
            relativeTimeRange: {from: 86400, to: 0}
            model:
              refId: A
              expr: sum(increase(claude_code_cost_usage_USD_total[1d]))
              instant: true
          - refId: B
            datasourceUid: __expr__
            model:
              refId: B
              type: threshold
              expression: A
              conditions:
                - evaluator: {type: gt, params: [20]}

- name: Remove the group
  claude_code.observability.grafana_alert_rule_group:
    url: http://127.0.0.1:3000
    token: "{{ grafana_service_account_token }}"
    folder_uid: claude-code
    name: claude-code-cost
    state: absent
"""

RETURN = r"""
rule_group:
  description: The group as Grafana returns it after the run (interval in seconds).
  returned: when O(state=present)
  type: dict
  sample:
    title: claude-code-cost
    folderUid: claude-code
    interval: 60
    rules:
      - uid: claude-code-daily-cost
        title: Claude Code daily cost above 20 USD
        for: 5m
        condition: B
diff:
  description: Normalised stored and desired group, in diff mode.
  returned: when diff mode is on and something changed
  type: dict
"""

import re  # noqa: E402

from ansible.module_utils.six import integer_types, string_types  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.api_client import quote_path  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.api_module import ApiModule  # noqa: E402

# Grafana owns these; a task never sets them (uid is handled separately).
SERVER_RULE_FIELDS = ("id", "updated", "provenance", "orgID", "folderUID", "ruleGroup")
DURATION_FIELDS = ("for", "keep_firing_for")
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_UNIT_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)


def duration_seconds(value):
    """Seconds of 300, "300", "5m" or "1h30m"; None when the value is no duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, integer_types):
        return value
    if isinstance(value, float):
        return value
    if not isinstance(value, string_types) or not value:
        return None
    if value.isdigit():
        return int(value)
    match = _DURATION.match(value)
    if not match or not any(match.groups()):
        return None
    total = sum(int(g) * u for g, u in zip(match.groups(), _UNIT_SECONDS) if g)  # noqa: B905
    return int(total) if float(total).is_integer() else total


def is_empty(value):
    """Grafana's zero values, which it may return for fields a task leaves out."""
    if value is None or value is False or value in ("", "0s"):
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, (integer_types, float)):
        return value == 0
    if isinstance(value, dict):
        return all(is_empty(v) for v in value.values())
    if isinstance(value, list):
        return not value
    return False


def normalize_query(query):
    if not isinstance(query, dict):
        return query
    return dict((k, v) for k, v in query.items() if not is_empty(v))


def normalize_rule(rule, keep_uid):
    out = {}
    for key, given in (rule or {}).items():
        if key in SERVER_RULE_FIELDS or (key == "uid" and not keep_uid):
            continue
        value = given
        if key in DURATION_FIELDS:
            seconds = duration_seconds(given)
            value = seconds if seconds is not None else given
        elif key == "data" and isinstance(given, list):
            value = [normalize_query(q) for q in given]
        if not is_empty(value):
            out[key] = value
    return out


def comparable(group, keep_uids):
    if group is None:
        return None
    rules = group.get("rules") or []
    return dict(
        interval=group.get("interval"),
        rules=[normalize_rule(r, keep_uids[i] if i < len(keep_uids) else True) for i, r in enumerate(rules)],
    )


def main():
    api = ApiModule(
        dict(
            folder_uid=dict(type="str", required=True),
            name=dict(type="str", required=True, aliases=["group"]),
            interval=dict(type="raw"),
            rules=dict(type="list", elements="dict"),
            disable_provenance=dict(type="bool", default=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_if=[("state", "present", ["interval", "rules"])],
    )
    p = api.params
    folder_uid, group = p["folder_uid"], p["name"]
    path = "api/v1/provisioning/folder/%s/rule-groups/%s" % (quote_path(folder_uid), quote_path(group))
    label = "alert rule group %s in folder %s" % (group, folder_uid)
    if p["disable_provenance"]:
        api.client.headers["X-Disable-Provenance"] = "true"

    interval = None
    if p["state"] == "present":
        interval = duration_seconds(p["interval"])
        if interval is None or interval <= 0 or not float(interval).is_integer():
            api.fail("interval must be a positive number of seconds or a duration such as 1m, not %r." % p["interval"])
        interval = int(interval)
        if not p["rules"]:
            api.fail("rules is empty: a rule group needs at least one rule (use state=absent to delete the group).")
        for i, rule in enumerate(p["rules"]):
            if not rule.get("title"):
                api.fail("Rule %d of %s has no title. Nothing was changed." % (i, label))

    current = api.read(label, path)

    if p["state"] == "absent":
        api.ensure_absent(current, comparable(current, []), label, delete=lambda cur: api.delete(label, path))

    stored_rules = (current or {}).get("rules") or []
    locked = [r.get("title") for r in stored_rules if r.get("provenance") == "file"]
    if locked:
        api.fail(
            "%s holds rules provisioned from files (%s); Grafana does not let the API change them. "
            "Change the provisioning files instead. Nothing was changed." % (label, ", ".join(locked))
        )

    uid_by_title = dict((r.get("title"), r.get("uid")) for r in stored_rules if r.get("uid"))
    taken = set(r.get("uid") for r in p["rules"] if r.get("uid"))
    rules = []
    for given in p["rules"]:
        rule = dict(given)
        if not rule.get("record"):
            rule.setdefault("noDataState", "NoData")
            rule.setdefault("execErrState", "Error")
        rules.append(rule)
    keep_uids = [bool(r.get("uid")) for r in rules]
    desired = dict(title=group, folderUid=folder_uid, interval=interval, rules=rules)

    def write(cur):
        payload_rules = []
        for given in rules:
            rule = dict(given, folderUID=folder_uid, ruleGroup=group)
            if not rule.get("uid"):
                known = uid_by_title.get(rule["title"])
                if known and known not in taken:
                    rule["uid"] = known
                    taken.add(known)
            payload_rules.append(rule)
        body = dict(desired, rules=payload_rules)
        stored = api.call("%s %s" % ("update" if cur else "create", label), api.client.put, path, body=body)
        return dict(rule_group=stored)

    api.ensure_present(
        current,
        comparable(current, keep_uids),
        comparable(desired, keep_uids),
        label,
        write,
        result=dict(rule_group=current),
    )


if __name__ == "__main__":
    main()
