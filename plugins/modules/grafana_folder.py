#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: grafana_folder
short_description: Manage a Grafana folder through the HTTP API
version_added: 1.0.0
description:
  - Creates, renames, moves or deletes a folder of an existing Grafana through C(/api/folders), identified by
    its O(uid) so that links and dashboards keep pointing at it when the title changes.
  - Reads the folder once and writes only when the title or the parent differs.
  - A rename sends the version just read, so an edit made by someone else in between is not overwritten;
    the module fails with Grafana's C(version-mismatch) answer instead.
extends_documentation_fragment:
  - claude_code.observability.connection
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Shows the stored and desired title and parent.
options:
  uid:
    description:
      - Unique identifier of the folder (at most 40 characters). Dashboards and alert rule groups refer to
        the folder by it.
    type: str
    required: true
  title:
    description: Title shown in Grafana. Required when O(state=present).
    type: str
  parent_uid:
    description:
      - UID of the parent folder, for nested folders (Grafana 10 and later, on by default since Grafana 11).
      - Unset leaves the folder where it is (at the root when it is created); V("") moves it to the root.
    type: str
  state:
    description:
      - Whether the folder should exist.
      - Deleting a folder makes Grafana delete its subfolders, dashboards and alert rules too.
    type: str
    choices: [present, absent]
    default: present
author:
  - claude_code.observability maintainers (@claude-code-observability)
"""

EXAMPLES = r"""
- name: A folder for the Claude Code dashboards
  claude_code.observability.grafana_folder:
    url: http://127.0.0.1:3000
    token: "{{ grafana_service_account_token }}"
    uid: claude-code
    title: Claude Code

- name: A nested folder for alert rules
  claude_code.observability.grafana_folder:
    url: http://127.0.0.1:3000
    user: admin
    password: "{{ grafana_admin_password }}"
    uid: claude-code-alerts
    title: Alerts
    parent_uid: claude-code
"""

RETURN = r"""
folder:
  description: The folder as Grafana returns it after the run.
  returned: when O(state=present)
  type: dict
  sample:
    id: 7
    uid: claude-code
    title: Claude Code
    url: /dashboards/f/claude-code/claude-code
    version: 1
diff:
  description: Stored and desired title and parent, in diff mode.
  returned: when diff mode is on and something changed
  type: dict
"""

from ansible_collections.claude_code.observability.plugins.module_utils.api_client import quote_path  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.api_module import ApiModule  # noqa: E402

API = "api/folders"


def comparable(folder, manage_parent):
    if folder is None:
        return None
    out = {"uid": folder.get("uid"), "title": folder.get("title")}
    if manage_parent:
        out["parentUid"] = folder.get("parentUid") or ""
    return out


def main():
    api = ApiModule(
        dict(
            uid=dict(type="str", required=True),
            title=dict(type="str"),
            parent_uid=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        required_if=[("state", "present", ["title"])],
    )
    p = api.params
    uid = p["uid"]
    path = API + "/" + quote_path(uid)
    name = "folder %s" % uid
    current = api.read(name, path)

    if p["state"] == "absent":
        api.ensure_absent(current, comparable(current, True), name, delete=lambda cur: api.delete(name, path))

    manage_parent = p["parent_uid"] is not None
    desired = {"uid": uid, "title": p["title"]}
    if manage_parent:
        desired["parentUid"] = p["parent_uid"]
    before = comparable(current, manage_parent)

    def write(cur):
        if cur is None:
            body = dict(uid=uid, title=p["title"])
            if p["parent_uid"]:
                body["parentUid"] = p["parent_uid"]
            return dict(folder=api.call("create " + name, api.client.post, API, body=body))
        stored = cur
        if before["title"] != desired["title"]:
            stored = api.call(
                "rename " + name,
                api.client.put,
                path,
                body=dict(title=p["title"], version=cur.get("version"), overwrite=False),
            )
            api.applied.append("%s renamed" % name)
        if manage_parent and before["parentUid"] != desired["parentUid"]:
            stored = api.call("move " + name, api.client.post, path + "/move", body=dict(parentUid=p["parent_uid"]))
        return dict(folder=stored)

    api.ensure_present(current, before, desired, name, write, result=dict(folder=current))


if __name__ == "__main__":
    main()
