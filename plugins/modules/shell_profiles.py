#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: shell_profiles
short_description: Put a managed block into a user's shell profiles, or take it back out
version_added: "1.0.0"
description:
  - Writes, replaces or removes the block between the C(claude_code.observability) marker lines in
    each of a user's shell profiles (C(~/.bashrc), C(~/.zshrc), C(~/.config/fish/config.fish)), in
    one run for all of them.
  - Every byte outside the block is kept. Removal gives back exactly the bytes there were before
    the block was first inserted; a profile that was created for the block goes, with the
    directories made for it, once they are empty.
  - Each profile is read once. Nothing is written when nothing differs.
  - Every profile is checked before any is written. A profile with stray, doubled or misordered
    marker lines, a read-only profile or directory, a profile that is not a regular file, and a
    link whose target does not exist are never written; the error names the file and the fix, and
    no profile of the run is touched.
  - A write is atomic (a temporary file in the same directory, then a rename) and keeps the
    owner, group and mode of an existing file. A symbolic link (dotfile managers) is kept; its
    target is written.
author:
  - claude_code.observability maintainers (@claude-code-observability)
options:
  home:
    description:
      - The user's home directory; the profiles' paths are relative to it.
    type: path
    required: true
  state:
    description:
      - C(present) writes the block into each profile (see I(profiles.create)); C(absent) takes it
        out of each.
    type: str
    choices: [present, absent]
    default: present
  profiles:
    description:
      - The profiles to manage.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - The profile, relative to I(home).
        type: str
        required: true
      body:
        description:
          - The lines of the block between its marker lines (for C(state=present)).
        type: str
        default: ""
      create:
        description:
          - Whether to create the profile (and its directories) when it does not exist. With
            C(false) a missing profile is left missing.
        type: bool
        default: true
  owner:
    description:
      - Numeric user id (or name) given to a profile or directory this module creates.
    type: str
  group:
    description:
      - Numeric group id (or name) given to a profile or directory this module creates.
    type: str
  backup:
    description:
      - Keep a copy of each profile before it is changed, beside it, with a time stamp.
    type: bool
    default: false
  mask:
    description:
      - Names of variables whose values never show in the diff (a line naming one shows the name
        and C(********)), whoever wrote them.
    type: list
    elements: str
    default: [OTEL_EXPORTER_OTLP_HEADERS]
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Shows each profile before and after.
notes:
  - Use C(no_log) on the task when the block it writes holds a secret (its arguments carry it); the
    diff masks the names in I(mask) either way.
"""

EXAMPLES = r"""
- name: Point the shells of alice at the collector
  claude_code.observability.shell_profiles:
    home: /home/alice
    owner: "1000"
    group: "1000"
    profiles:
      - {path: .bashrc, body: "export CLAUDE_CODE_ENABLE_TELEMETRY=1\n"}
      - {path: .zshrc, body: "export CLAUDE_CODE_ENABLE_TELEMETRY=1\n", create: false}

- name: Take the block back out
  claude_code.observability.shell_profiles:
    home: /home/alice
    state: absent
    profiles: [{path: .bashrc}, {path: .zshrc}, {path: .config/fish/config.fish}]
"""

RETURN = r"""
profiles:
  description: One entry per profile, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The profile's full path.
      type: str
      sample: /home/alice/.bashrc
    action:
      description:
        - C(created), C(updated), C(removed) (the file went), C(unchanged) or C(skipped) (missing
          and not to be created).
      type: str
      sample: updated
    backup_file:
      description: The copy kept with I(backup), when one was made.
      type: str
      sample: /home/alice/.bashrc.12345.2026-01-01@10:00:00~
"""

import os  # noqa: E402
import stat  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.common.text.converters import to_native, to_text  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.files import (  # noqa: E402
    FileError,
    atomic_write,
    resolve_id,
)
from ansible_collections.claude_code.observability.plugins.module_utils.shell_profile import (  # noqa: E402
    ProfileError,
    parent_dirs,
    path_problem,
    plan,
)


def _modes(st, path):
    mode = stat.S_IMODE(st.st_mode)
    return {
        "exists": True,
        "path": path,
        "mode": "%04o" % mode,
        "wusr": bool(mode & stat.S_IWUSR),
        "wgrp": bool(mode & stat.S_IWGRP),
        "woth": bool(mode & stat.S_IWOTH),
    }


def describe(path, follow):
    """What ansible.builtin.stat would say of the path, as path_problem reads it."""
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except OSError:
        return {"exists": False, "path": path}
    out = _modes(st, path)
    out["islnk"] = stat.S_ISLNK(st.st_mode)
    out["isreg"] = stat.S_ISREG(st.st_mode)
    if out["islnk"]:
        out["lnk_source"] = os.path.realpath(path)
    return out


class Profile:
    """One profile: read once, planned, then written or removed."""

    def __init__(self, home, spec, state):
        self.rel = spec["path"]
        self.path = os.path.join(home, self.rel)
        self.lstat = describe(self.path, follow=False)
        self.content = None
        readable = None
        if self.lstat["exists"] and (self.lstat["isreg"] or self.lstat["islnk"]):
            try:
                with open(self.path, "rb") as handle:
                    self.content = to_text(handle.read(), errors="surrogate_or_strict")
                readable = True
            except (IOError, OSError):
                readable = False
        self.skip = self.content is None and (state == "absent" or not spec["create"])
        self.missing_dirs = []
        if self.content is None:
            self.missing_dirs = [d for d in parent_dirs(self.rel) if not os.path.isdir(os.path.join(home, d))]
        self.plan = plan(self.content, spec["body"], state, self.path, self.missing_dirs)
        self.problem = path_problem(
            self.lstat,
            describe(os.path.dirname(self.path), follow=True),
            describe(home, follow=True),
            self.path,
            "shell profile",
            readable,
        )

    @property
    def error(self):
        if self.skip:
            return None
        if self.plan["error"]:
            return self.plan["error"]
        if self.problem and self.plan["text"] != self.content:
            return self.problem
        return None

    @property
    def action(self):
        if self.skip or self.plan["text"] == self.content:
            return "skipped" if self.skip else "unchanged"
        if self.plan["text"] is None:
            return "removed"
        return "created" if self.content is None else "updated"


def masked(text, names):
    """The text with the value of every line that names a masked variable replaced."""
    out = []
    for line in (text or "").splitlines(True):
        shown = line
        for name in names:
            at = line.find(name)
            if at >= 0:
                shown = line[: at + len(name)] + " ********" + ("\n" if line.endswith("\n") else "")
                break
        out.append(shown)
    return "".join(out)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            home=dict(type="path", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            profiles=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    path=dict(type="str", required=True),
                    body=dict(type="str", default=""),
                    create=dict(type="bool", default=True),
                ),
            ),
            owner=dict(type="str"),
            group=dict(type="str"),
            backup=dict(type="bool", default=False),
            mask=dict(type="list", elements="str", default=["OTEL_EXPORTER_OTLP_HEADERS"]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    home = params["home"]
    try:
        uid = resolve_id(params["owner"], "user")
        gid = resolve_id(params["group"], "group")
        profiles = [Profile(home, spec, params["state"]) for spec in params["profiles"]]
    except (ProfileError, FileError) as exc:
        module.fail_json(msg=to_native(exc))
    errors = [p.error for p in profiles if p.error]
    if errors:
        module.fail_json(msg=" ".join(errors))

    results, diffs = [], []
    for profile in profiles:
        action = profile.action
        result = {"path": profile.path, "action": action}
        results.append(result)
        if action in ("skipped", "unchanged"):
            continue
        diffs.append(
            {
                "before_header": profile.path if profile.content is not None else "%s (absent)" % profile.path,
                "after_header": profile.path if profile.plan["text"] is not None else "%s (absent)" % profile.path,
                "before": masked(profile.content, params["mask"]),
                "after": masked(profile.plan["text"], params["mask"]),
            }
        )
        if module.check_mode:
            continue
        try:
            if params["backup"] and profile.content is not None:
                result["backup_file"] = module.backup_local(profile.path)
            if action == "removed":
                os.unlink(profile.path)
                for rel in profile.plan["remove_dirs"]:
                    directory = os.path.join(home, rel)
                    if os.path.isdir(directory) and not os.path.islink(directory) and not os.listdir(directory):
                        os.rmdir(directory)
                continue
            for rel in profile.missing_dirs:
                directory = os.path.join(home, rel)
                os.mkdir(directory)
                os.chmod(directory, 0o755)
                os.chown(directory, uid, gid)
            real = os.path.realpath(profile.path)
            if profile.content is None:
                atomic_write(real, profile.plan["text"], uid, gid, 0o644)
            else:
                st = os.stat(real)
                atomic_write(real, profile.plan["text"], st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
        except (IOError, OSError) as exc:
            module.fail_json(msg="%s: %s" % (profile.path, to_native(exc)), profiles=results)

    result = {"changed": bool(diffs), "profiles": results}
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
