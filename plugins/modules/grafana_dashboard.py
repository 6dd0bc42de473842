#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: grafana_dashboard
short_description: Manage a Grafana dashboard through the HTTP API
version_added: 1.0.0
description:
  - Creates, updates, moves or deletes a dashboard of an existing Grafana through C(/api/dashboards),
    from a dashboard JSON file (O(src)) or a dictionary (O(dashboard)).
  - The dashboard is identified by its C(uid), which must be set in the JSON or with O(uid);
    without one Grafana makes up a new uid on every save and the dashboard could not be found again.
  - Reads the dashboard once and writes only when the JSON or the folder differs. What Grafana adds or
    counts itself (C(id), C(version), C(iteration) and the C(meta) block of an export) is ignored in the comparison.
  - Each save makes a new version in Grafana's version history, with O(commit_message) as its note.
extends_documentation_fragment:
  - claude_code.observability.connection
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Shows the stored and desired dashboard JSON and folder.
options:
  src:
    description:
      - Path of a dashboard JSON file on the managed host. An export with a C(meta) block
        (an object with C(dashboard) and C(meta) keys) is accepted too.
      - For a file on the controller use O(dashboard) with C(lookup('file', path) | from_json).
      - A file that is not valid JSON fails the task with the line and column of the error.
    type: path
  dashboard:
    description: The dashboard JSON model as a dictionary. Mutually exclusive with O(src).
    type: dict
  uid:
    description:
      - UID of the dashboard. Overrides the C(uid) of the JSON.
      - Enough on its own with O(state=absent).
    type: str
  folder_uid:
    description:
      - UID of the folder the dashboard belongs in (see M(claude_code.observability.grafana_folder)).
      - Unset leaves an existing dashboard in its folder and creates a new one at the root (C(General));
        V("") moves it to the root.
    type: str
  overwrite:
    description:
      - V(true) replaces the stored dashboard whatever its version, and replaces another dashboard
        with the same title in the folder.
      - V(false) sends the version just read, so a save made by someone else between the read and the
        write makes Grafana refuse the write (C(version-mismatch)) instead of losing that save, and
        another dashboard with the same title in the folder makes the task fail (C(name-exists)).
        Nothing is written in either case.
    type: bool
    default: true
  commit_message:
    description: Note kept with the new version in the dashboard's version history.
    type: str
    default: Saved by Ansible (claude_code.observability.grafana_dashboard)
  state:
    description: Whether the dashboard should exist.
    type: str
    choices: [present, absent]
    default: present
author:
  - claude_code.observability maintainers (@claude-code-observability)
"""

EXAMPLES = r"""
- name: The Claude Code overview dashboard, from a file on the managed host
  claude_code.observability.grafana_dashboard:
    url: http://127.0.0.1:3000
    token: "{{ grafana_service_account_token }}"
    src: /etc/claude-code-observability/dashboards/claude-code-overview.json
    folder_uid: claude-code

- name: A dashboard kept next to the playbook (on the controller)
  claude_code.observability.grafana_dashboard:
    url: http://127.0.0.1:3000
    token: "{{ grafana_service_account_token }}"
    dashboard: "{{ lookup('ansible.builtin.file', 'dashboards/claude-code-cost.json') | from_json }}"
    folder_uid: claude-code
    overwrite: false

- name: Remove a dashboard
  claude_code.observability.grafana_dashboard:
    url: http://127.0.0.1:3000
    token: "{{ grafana_service_account_token }}"
    uid: claude-code-old
    state: absent
"""

RETURN = r"""
dashboard:
  description: The dashboard JSON as Grafana stores it after the run (with its C(id) and C(version)).
  returned: when O(state=present)
  type: dict
  sample: {uid: claude-code-overview, title: Claude Code, id: 12, version: 3, panels: []}
uid:
  description: UID of the dashboard.
  returned: always
  type: str
  sample: claude-code-overview
folder_uid:
  description: UID of the folder holding the dashboard after the run (V("") for the root).
  returned: when O(state=present)
  type: str
url:
  description: Path of the dashboard in Grafana's UI.
  returned: when O(state=present) and the dashboard exists
  type: str
  sample: /d/claude-code-overview/claude-code
version:
  description: Version number Grafana gave the dashboard with this run's save.
  returned: when the dashboard was saved
  type: int
  sample: 4
diff:
  description: Stored and desired dashboard JSON and folder, in diff mode.
  returned: when diff mode is on and something changed
  type: dict
"""

import io  # noqa: E402
import json  # noqa: E402

from ansible.module_utils.common.text.converters import to_native  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.api_client import (  # noqa: E402
    ApiError,
    quote_path,
)
from ansible_collections.claude_code.observability.plugins.module_utils.api_module import ApiModule  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.compare import strip_keys  # noqa: E402

# Grafana sets these on every save; they say nothing about what the dashboard shows.
SERVER_FIELDS = ("id", "version", "iteration")

PRECONDITION_HINTS = {
    "version-mismatch": "Someone else saved the dashboard after this run read it; nothing was written. "
    "Run again to compare with their version, or set overwrite=true to replace it",
    "name-exists": "Another dashboard with the same title exists in that folder; nothing was written. "
    "Change one of the titles, or set overwrite=true to replace the other dashboard",
    "plugin-dashboard": "The dashboard belongs to a plugin; nothing was written",
}


def load_dashboard(api, p):
    """The dashboard model from src or dashboard, or a failure that says what is wrong and where."""
    if p["src"]:
        where = "Dashboard file %s" % p["src"]
        try:
            with io.open(p["src"], encoding="utf-8") as handle:
                text = handle.read()
        except (IOError, OSError) as exc:
            api.fail("%s cannot be read: %s" % (where, to_native(exc)))
        except UnicodeDecodeError as exc:
            api.fail("%s is not UTF-8 text: %s" % (where, to_native(exc)))
        try:
            data = json.loads(text)
        except ValueError as exc:
            lineno, colno = getattr(exc, "lineno", None), getattr(exc, "colno", None)
            position = " at line %s, column %s" % (lineno, colno) if lineno is not None else ""
            api.fail(
                "%s is not valid JSON%s: %s. Nothing was changed."
                % (where, position, to_native(getattr(exc, "msg", exc))),
                error=dict(file=p["src"], line=lineno, column=colno),
            )
    else:
        where = "The dashboard option"
        data = p["dashboard"]
    if isinstance(data, dict) and isinstance(data.get("dashboard"), dict):
        # An export from the UI or GET /api/dashboards/uid/<uid>: the model is one level down.
        data = data["dashboard"]
    if not isinstance(data, dict):
        api.fail("%s must hold a JSON object (the dashboard model), not %s." % (where, type(data).__name__))
    return where, dict(data)


def read(api, uid):
    return api.read("dashboard %s" % uid, "api/dashboards/uid/" + quote_path(uid))


def comparable(model, folder_uid):
    return dict(dashboard=strip_keys(model, SERVER_FIELDS), folderUid=folder_uid or "")


def main():
    api = ApiModule(
        dict(
            src=dict(type="path"),
            dashboard=dict(type="dict"),
            uid=dict(type="str"),
            folder_uid=dict(type="str"),
            overwrite=dict(type="bool", default=True),
            commit_message=dict(type="str", default="Saved by Ansible (claude_code.observability.grafana_dashboard)"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        mutually_exclusive=[("src", "dashboard")],
        required_if=[
            ("state", "present", ("src", "dashboard"), True),
            ("state", "absent", ("uid", "src", "dashboard"), True),
        ],
    )
    p = api.params
    model = None
    if p["src"] or p["dashboard"] is not None:
        where, model = load_dashboard(api, p)
        if p["uid"]:
            model["uid"] = p["uid"]
        if not model.get("uid"):
            api.fail(
                '%s has no uid: set "uid" in the dashboard JSON or the uid option. Without one Grafana makes '
                "up a new uid on every save and the dashboard could not be found again. Nothing was changed." % where
            )
        if p["state"] == "present" and not str(model.get("title") or "").strip():
            api.fail("%s has no title: Grafana requires one. Nothing was changed." % where, uid=model["uid"])
    uid = model["uid"] if model else p["uid"]
    name = "dashboard %s" % uid
    current = read(api, uid)
    cur_dash = (current or {}).get("dashboard")
    cur_meta = (current or {}).get("meta") or {}

    if p["state"] == "absent":
        api.ensure_absent(
            current,
            comparable(cur_dash, cur_meta.get("folderUid")),
            name,
            delete=lambda cur: api.delete(name, "api/dashboards/uid/" + quote_path(uid)),
            result=dict(uid=uid),
        )

    cur_folder = cur_meta.get("folderUid") or ""
    folder_uid = p["folder_uid"] if p["folder_uid"] is not None else cur_folder
    before = comparable(cur_dash, cur_folder) if current else None
    after = comparable(model, folder_uid)

    def write(cur):
        to_save = dict(model)
        to_save["id"] = cur_dash.get("id") if cur_dash else None
        to_save["version"] = cur_dash.get("version") if cur_dash else None
        to_save.pop("iteration", None)
        body = dict(dashboard=to_save, overwrite=p["overwrite"], message=p["commit_message"])
        if folder_uid:
            body["folderUid"] = folder_uid
        action = "%s %s" % ("update" if cur else "create", name)
        try:
            answer = api.client.post("api/dashboards/db", body=body)
        except ApiError as exc:
            if exc.status == 412:
                status = (exc.body or {}).get("status") if isinstance(exc.body, dict) else None
                exc.hint = PRECONDITION_HINTS.get(status, "Grafana refused the save; nothing was written")
                if status:
                    exc.reason = "%s (%s)" % (exc.reason, status)
            api.fail_api(action, exc)
        api.applied.append("%s saved" % name)
        stored = read(api, uid) or {}
        return dict(
            dashboard=stored.get("dashboard"),
            uid=uid,
            folder_uid=(stored.get("meta") or {}).get("folderUid", folder_uid),
            url=(answer or {}).get("url"),
            version=(answer or {}).get("version"),
        )

    api.ensure_present(
        current,
        before,
        after,
        name,
        write,
        result=dict(dashboard=cur_dash, uid=uid, folder_uid=cur_folder, url=cur_meta.get("url")),
        check_result=dict(dashboard=cur_dash, uid=uid, folder_uid=cur_folder if current else folder_uid),
    )


if __name__ == "__main__":
    main()
