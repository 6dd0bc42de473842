#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: project_files
short_description: Bring the directories and files of a compose project to the given state in one run
version_added: "1.0.0"
description:
  - Makes directories, writes files and removes paths, in the order given, in one module run
    (one Python start on the host instead of one per file).
  - Each path is read once. Nothing is written when content, mode, owner and group already match.
  - A file is written atomically (a temporary file in the same directory, then a rename), so a
    service reading it sees the old file or the new one. With I(validate), the temporary file is
    checked first; when the check fails the old file stays and nothing after it is touched.
  - Entries before a failing one have been applied; the error names the path and the reason.
  - In check mode nothing is written and nothing is validated; the result and the diff say what
    would change.
  - Contents never show in the result, only checksums. An entry with I(secret) keeps its content
    out of the diff and out of everything the module returns, so the task needs no C(no_log) and a
    failure still says what went wrong.
author:
  - claude_code.observability maintainers (@claude-code-observability)
options:
  files:
    description:
      - What to bring about, applied in order (list a directory before the files in it).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Absolute path on the managed host.
        type: path
        required: true
      state:
        description:
          - C(file) writes I(content) (or the content of I(src)).
          - C(directory) makes the directory and any missing parents (with the same mode).
          - C(absent) removes a file, a link or a directory with everything in it.
        type: str
        choices: [file, directory, absent]
        default: file
      content:
        description:
          - The text of the file. One of I(content) and I(src) for C(state=file).
        type: str
      src:
        description:
          - A file on the managed host whose content to copy. One of I(content) and I(src) for
            C(state=file).
        type: path
      mode:
        description:
          - Octal mode such as C("0644"). A new file without it gets C(0644) (C(0755) for a
            directory); an existing one keeps its mode.
        type: raw
      owner:
        description:
          - User name or numeric id. Left as it is when not given.
        type: str
      group:
        description:
          - Group name or numeric id. Left as it is when not given.
        type: str
      validate:
        description:
          - Command that checks the new content before it replaces the file; C(%s) is the path of
            the temporary file. Run without a shell, only when the content changes.
        type: str
      prune:
        description:
          - For C(state=directory), a shell pattern such as C(*.json). Files directly in the directory
            that match it and are not in I(files) are removed (after every entry is applied); the
            directory is the role's, and what it no longer ships goes.
        type: str
      force:
        description:
          - With C(false), an existing file keeps its content (only its mode, owner and group are
            brought to what is asked), for a secret generated once, such as a password.
        type: bool
        default: true
      secret:
        description:
          - The content is a secret (a key, a token, a password). The diff says that it changes but
            not what it holds, and I(content) is masked wherever the module's output would show it.
        type: bool
        default: false
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes, validates and removes nothing.
  diff_mode:
    support: full
    description: Shows each changed file's content, and the mode, owner or state of each other changed path.
notes:
  - A path that is a link is followed for C(state=file); C(state=absent) removes the link itself.
"""

EXAMPLES = r"""
- name: Write the collector's files
  claude_code.observability.project_files:
    files:
      - {path: /opt/claude-observability/otel-collector, state: directory, mode: "0755"}
      - path: /opt/claude-observability/otel-collector/config.yaml
        content: "{{ lookup('ansible.builtin.template', 'config.yaml.j2') }}"
        mode: "0644"
        validate: /usr/local/bin/otelcol validate --config=%s
      - {path: /opt/claude-observability/otel-collector/tls/prometheus-ca.crt, state: absent}

- name: Write the secrets
  claude_code.observability.project_files:
    files:
      - path: /opt/claude-observability/otel-collector/secrets/bearer_token
        content: "{{ token }}"
        owner: "10001"
        group: "10001"
        mode: "0600"
        secret: true
"""

RETURN = r"""
path:
  description: The file whose I(validate) command refused the new content.
  returned: when a check failed
  type: str
  sample: /opt/claude-observability/prometheus/prometheus.yml
validate:
  description: That file's I(validate) command; C(exit_status), C(stdout) and C(stderr) are what it returned.
  returned: when a check failed
  type: str
  sample: promtool check config %s
files:
  description: One entry per path, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The path.
      type: str
      sample: /opt/claude-observability/otel-collector/config.yaml
    state:
      description: The state asked for.
      type: str
      sample: file
    changed:
      description: Whether this path changed (or would, in check mode).
      type: bool
      sample: false
    exists:
      description: Whether the path exists when the module ends (in check mode, before it ran).
      type: bool
      sample: true
    checksum:
      description: SHA-1 of the content asked for (C(state=file) only, empty otherwise).
      type: str
      sample: 2aae6c35c94fcfb415dbe95f408b9ce91ee846ed
"""

import fnmatch  # noqa: E402
import hashlib  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import stat  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.files import (  # noqa: E402
    FileError,
    atomic_write,
    parse_mode,
    resolve_id,
)

FILE_MODE = 0o644
DIR_MODE = 0o755


def attributes(st, mode, uid, gid):
    """What differs between a stat result and the mode/owner asked for, as {name: (now, wanted)}."""
    out = {}
    if mode is not None and stat.S_IMODE(st.st_mode) != mode:
        out["mode"] = ("%04o" % stat.S_IMODE(st.st_mode), "%04o" % mode)
    if uid not in (-1, st.st_uid):
        out["owner"] = (st.st_uid, uid)
    if gid not in (-1, st.st_gid):
        out["group"] = (st.st_gid, gid)
    return out


def attribute_diff(path, differ):
    return {
        "before_header": path,
        "after_header": path,
        "before": "".join("%s: %s\n" % (k, v[0]) for k, v in sorted(differ.items())),
        "after": "".join("%s: %s\n" % (k, v[1]) for k, v in sorted(differ.items())),
    }


def fix_attributes(path, differ, uid, gid, mode):
    if "owner" in differ or "group" in differ:
        os.chown(path, uid, gid)
    if "mode" in differ:
        os.chmod(path, mode)


class Entry:
    """One path of the list, read once."""

    def __init__(self, module, spec, index):
        self.module = module
        self.path = spec["path"]
        self.state = spec["state"]
        where = "files[%d] (%s)" % (index, self.path)
        if not os.path.isabs(self.path):
            raise FileError("%s: the path must be absolute" % where)
        self.mode = parse_mode(spec["mode"], "%s mode" % where) if spec.get("mode") is not None else None
        self.uid = resolve_id(spec.get("owner"), "user")
        self.gid = resolve_id(spec.get("group"), "group")
        self.validate = spec.get("validate")
        self.force = spec.get("force", True) is not False
        self.secret = bool(spec.get("secret"))
        self.prune = spec.get("prune") if self.state == "directory" else None
        self.data = None
        if self.state == "file":
            if (spec.get("content") is None) == (spec.get("src") is None):
                raise FileError("%s: give either content or src for state=file" % where)
            if self.validate and "%s" not in self.validate:
                raise FileError("%s: validate must contain %%s (the file to check)" % where)
            if spec.get("content") is not None:
                self.data = to_bytes(spec["content"], errors="surrogate_or_strict")
                if self.secret and spec["content"]:
                    module.no_log_values.add(spec["content"])
            else:
                self.src = spec["src"]
        self.result = {"path": self.path, "state": self.state, "changed": False, "exists": False, "checksum": ""}
        self.diff = None

    def apply(self):
        getattr(self, "_" + self.state)()
        return self.result

    def prunable(self, listed):
        """Files of a pruned directory that match its pattern and are not listed."""
        if not self.prune or not os.path.isdir(self.path):
            return []
        return [
            os.path.join(self.path, name)
            for name in sorted(os.listdir(self.path))
            if fnmatch.fnmatch(name, self.prune)
            and not os.path.isdir(os.path.join(self.path, name))
            and os.path.realpath(os.path.join(self.path, name)) not in listed
        ]

    def _absent(self):
        if not os.path.lexists(self.path):
            return
        self.result.update(changed=True, exists=True)
        kind = "directory" if os.path.isdir(self.path) and not os.path.islink(self.path) else "file"
        self.diff = {"before_header": self.path, "after_header": self.path, "before": kind + "\n", "after": "absent\n"}
        if self.module.check_mode:
            return
        if kind == "directory":
            shutil.rmtree(self.path)
        else:
            os.unlink(self.path)
        self.result["exists"] = False

    def _directory(self):
        mode = self.mode if self.mode is not None else DIR_MODE
        if os.path.lexists(self.path) and not os.path.isdir(self.path):
            raise FileError("%s exists and is not a directory: move it aside, then run again" % self.path)
        if not os.path.isdir(self.path):
            self.result["changed"] = True
            self.diff = {"before_header": self.path, "after_header": self.path, "before": "absent\n"}
            self.diff["after"] = "directory, mode %04o\n" % mode
            if self.module.check_mode:
                return
            missing = []
            probe = self.path
            while not os.path.isdir(probe):
                missing.append(probe)
                probe = os.path.dirname(probe)
            for directory in reversed(missing):
                os.mkdir(directory)
                os.chmod(directory, mode)  # not subject to the umask
                if self.uid != -1 or self.gid != -1:
                    os.chown(directory, self.uid, self.gid)
            self.result["exists"] = True
            return
        self.result["exists"] = True
        differ = attributes(os.stat(self.path), self.mode, self.uid, self.gid)
        if differ:
            self.result["changed"] = True
            self.diff = attribute_diff(self.path, differ)
            if not self.module.check_mode:
                fix_attributes(self.path, differ, self.uid, self.gid, self.mode)

    def _read_src(self):
        try:
            with open(self.src, "rb") as handle:
                return handle.read()
        except (IOError, OSError) as exc:
            if self.module.check_mode:
                return None  # made by an earlier task that check mode did not run
            raise FileError("%s: cannot read its source %s: %s" % (self.path, self.src, to_native(exc))) from None

    def _file(self):
        data = self.data if self.data is not None else self._read_src()
        self.result["checksum"] = hashlib.sha1(data).hexdigest() if data is not None else ""
        real = os.path.realpath(self.path)
        if os.path.isdir(real):
            raise FileError("%s is a directory, not a file: move it aside, then run again" % self.path)
        exists = os.path.exists(real)
        self.result["exists"] = exists
        before = b""
        st = None
        if exists:
            st = os.stat(real)
            with open(real, "rb") as handle:
                before = handle.read()
            if not self.force:
                data = before
                self.result["checksum"] = hashlib.sha1(data).hexdigest()
        if exists and data == before:
            differ = attributes(st, self.mode, self.uid, self.gid)
            if differ:
                self.result["changed"] = True
                self.diff = attribute_diff(self.path, differ)
                if not self.module.check_mode:
                    fix_attributes(real, differ, self.uid, self.gid, self.mode)
            return
        self.result["changed"] = True
        self.diff = {
            "before_header": self.path if exists else "%s (absent)" % self.path,
            "after_header": self.path,
            "before": self._shown(before) if exists else "",
            "after": self._shown(data or b""),
        }
        if self.module.check_mode or data is None:
            return
        if not os.path.isdir(os.path.dirname(real)):
            raise FileError("%s: its directory does not exist; list the directory before it" % self.path)
        mode = self.mode if self.mode is not None else (stat.S_IMODE(st.st_mode) if st else FILE_MODE)
        uid = self.uid if self.uid != -1 or not st else st.st_uid
        gid = self.gid if self.gid != -1 or not st else st.st_gid
        atomic_write(real, data, uid, gid, mode, check=self._check if self.validate else None)
        self.result["exists"] = True

    def _shown(self, data):
        if self.secret:
            return "(secret, %d bytes, not shown)\n" % len(data)
        return to_text(data, errors="surrogate_or_replace")

    def _check(self, tmp):
        rc, out, err = self.module.run_command(self.validate % tmp)
        if rc != 0:
            raise Refused(self.path, self.validate, rc, out, err)


class Refused(FileError):
    """The validate command refused the new content; the result keeps its words."""

    def __init__(self, path, validate, rc, stdout, stderr):
        super().__init__(
            "failed to validate %s: the new content failed its check (%s, exit %d): %s. The file was left as it was."
            % (path, validate, rc, (stderr or stdout).strip())
        )
        self.fields = dict(path=path, validate=validate, exit_status=rc, stdout=stdout, stderr=stderr)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    path=dict(type="path", required=True),
                    state=dict(type="str", choices=["file", "directory", "absent"], default="file"),
                    content=dict(type="str"),
                    src=dict(type="path"),
                    mode=dict(type="raw"),
                    owner=dict(type="str"),
                    group=dict(type="str"),
                    validate=dict(type="str"),
                    prune=dict(type="str"),
                    force=dict(type="bool", default=True),
                    secret=dict(type="bool", default=False),
                ),
            ),
        ),
        supports_check_mode=True,
    )
    results, diffs = [], []
    try:
        entries = [Entry(module, spec, i) for i, spec in enumerate(module.params["files"])]
        for entry in entries:
            results.append(entry.apply())
            if entry.diff:
                diffs.append(entry.diff)
        listed = set(os.path.realpath(e.path) for e in entries)
        for entry in entries:
            for going in entry.prunable(listed):
                gone = Entry(module, {"path": going, "state": "absent", "mode": None}, len(results))
                results.append(gone.apply())
                diffs.append(gone.diff)
    except Refused as exc:
        module.fail_json(msg=to_native(exc), files=results, **exc.fields)
    except (FileError, IOError, OSError) as exc:
        module.fail_json(msg=to_native(exc), files=results)
    result = {"changed": any(r["changed"] for r in results), "files": results}
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
