#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: claude_code_settings
short_description: Set or remove keys in a Claude Code settings JSON file
version_added: "0.1.0"
description:
  - Edits a Claude Code settings file (the user file C(~/.claude/settings.json), a project
    C(.claude/settings.json) or the organisation-managed C(managed-settings.json)).
  - Sets and removes top-level keys and keys inside the C(env) object. Every other key, the key
    order and the file's indentation and trailing newline are kept.
  - An existing file keeps its owner, group and mode; the write is atomic (a temporary file in the
    same directory, then a rename).
  - The file is read once. Nothing is written when nothing differs.
  - A file that is not valid JSON is never rewritten; the error names the line and column.
  - Values of secret keys (I(secret_env), I(mask_env)) never appear in the diff or the results.
author:
  - claude_code.observability maintainers (@claude-code-observability)
options:
  path:
    description:
      - The settings file. Its directory must exist (unless in check mode).
    type: path
    required: true
  state:
    description:
      - C(present) sets I(env), I(secret_env) and I(settings) and removes the keys named in
        I(remove_env) and I(remove).
      - C(absent) removes every key named in I(env), I(secret_env), I(settings), I(remove_env) and
        I(remove); the values given are ignored. An C(env) object left empty is removed.
    type: str
    choices: [present, absent]
    default: present
  env:
    description:
      - Keys to set inside the C(env) object. Claude Code reads them as environment variables,
        so every value is written as a string; C(true)/C(false) become C("1")/C("0").
    type: dict
    default: {}
  secret_env:
    description:
      - Like I(env), for values that must never be shown (for example
        C(OTEL_EXPORTER_OTLP_HEADERS) holding a token). Masked in the diff and the results.
    type: dict
    default: {}
  mask_env:
    description:
      - Names of C(env) keys whose values are masked in the diff even when this task does not set
        them (for example when removing them, or when another tool wrote them).
    type: list
    elements: str
    default: [OTEL_EXPORTER_OTLP_HEADERS]
  settings:
    description:
      - Top-level keys to set, with any JSON value. C(env) cannot be set here; use I(env).
    type: dict
    default: {}
  remove_env:
    description:
      - Names of C(env) keys to remove.
    type: list
    elements: str
    default: []
  remove:
    description:
      - Names of top-level keys to remove.
    type: list
    elements: str
    default: []
  delete_if_empty:
    description:
      - Delete the file when no key is left in it (C({})), so that a file this module created
        disappears again on removal.
    type: bool
    default: false
  backup:
    description:
      - Keep a timestamped copy of the file before changing or deleting it.
    type: bool
    default: false
  owner:
    description:
      - Owner (name or uid) of the file when this module creates it. An existing file keeps its owner.
    type: str
  group:
    description:
      - Group (name or gid) of the file when this module creates it. An existing file keeps its group.
    type: str
  create_mode:
    description:
      - Mode of the file when this module creates it. An existing file keeps its mode.
      - The default keeps a new file private, since it may hold a token.
    type: raw
    default: "0600"
notes:
  - Formatting is detected from the existing file (indent unit, compact or indented, trailing newline)
    and reused; a new file is written with two-space indentation and a trailing newline.
  - An empty file (only whitespace) is read as C({}).
attributes:
  check_mode:
    description: Reports what would change (including a file that would be created) without writing.
    support: full
  diff_mode:
    description: Shows the file before and after, with secret values masked.
    support: full
"""

EXAMPLES = r"""
- name: Send this user's Claude Code telemetry to the collector
  claude_code.observability.claude_code_settings:
    path: /home/alice/.claude/settings.json
    owner: alice
    group: alice
    env:
      CLAUDE_CODE_ENABLE_TELEMETRY: "1"
      OTEL_METRICS_EXPORTER: otlp
      OTEL_EXPORTER_OTLP_ENDPOINT: http://observability.lan:4318
    secret_env:
      OTEL_EXPORTER_OTLP_HEADERS: "Authorization=Bearer {{ otlp_token }}"

- name: Organisation-wide settings (needs root)
  become: true
  claude_code.observability.claude_code_settings:
    path: /etc/claude-code/managed-settings.json
    create_mode: "0644"
    env:
      CLAUDE_CODE_ENABLE_TELEMETRY: "1"
      OTEL_LOG_USER_PROMPTS: "0"

- name: Take the telemetry keys back out; delete the file if nothing else is left
  claude_code.observability.claude_code_settings:
    path: /home/alice/.claude/settings.json
    state: absent
    remove_env:
      - CLAUDE_CODE_ENABLE_TELEMETRY
      - OTEL_METRICS_EXPORTER
      - OTEL_EXPORTER_OTLP_ENDPOINT
      - OTEL_EXPORTER_OTLP_HEADERS
    delete_if_empty: true
"""

RETURN = r"""
path:
  description: The settings file.
  returned: always
  type: str
  sample: /home/alice/.claude/settings.json
created:
  description: Whether the file did not exist and was (or, in check mode, would be) created.
  returned: always
  type: bool
  sample: false
deleted:
  description: Whether the file was (or would be) deleted because it became empty.
  returned: always
  type: bool
  sample: false
added:
  description: Keys added, as C(env.NAME) or the top-level name.
  returned: always
  type: list
  elements: str
  sample: [env.OTEL_METRICS_EXPORTER]
updated:
  description: Keys whose value changed.
  returned: always
  type: list
  elements: str
  sample: [env.OTEL_EXPORTER_OTLP_ENDPOINT]
removed:
  description: Keys removed.
  returned: always
  type: list
  elements: str
  sample: [env.OTEL_LOG_USER_PROMPTS]
env:
  description: The C(env) object after the change, with secret values masked.
  returned: always
  type: dict
  sample: {"CLAUDE_CODE_ENABLE_TELEMETRY": "1", "OTEL_EXPORTER_OTLP_HEADERS": "********"}
backup_file:
  description: The backup copy, when I(backup=true) and the file changed.
  returned: changed and backup requested
  type: str
  sample: /home/alice/.claude/settings.json.12345.2026-01-01@10:00:00~
"""

import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text  # noqa: E402

try:
    import grp  # noqa: E402
    import pwd  # noqa: E402
except ImportError:  # pragma: no cover - not on POSIX
    grp = pwd = None

MASK = "********"


class SettingsError(Exception):
    pass


def env_value(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None:
        return ""
    return to_text(value)


def detect_style(text):
    """Indent unit, separators and trailing newline of an existing file, so that a rewrite only
    changes the keys that changed (and removal restores the original bytes)."""
    stripped = text.strip()
    if not stripped or re.match(r"^\{\s*\}$", stripped):
        return 2, (",", ": "), (text.endswith("\n") or not stripped)
    match = re.search(r"\n([ \t]+)\S", text)
    if match:
        return match.group(1), (",", ": "), text.endswith("\n")
    spaced = re.search(r'"\s*:\s', text) is not None
    return None, ((", ", ": ") if spaced else (",", ":")), text.endswith("\n")


def render(doc, style):
    indent, separators, newline = style
    out = json.dumps(doc, indent=indent, separators=separators, ensure_ascii=False)
    return out + ("\n" if newline else "")


def parse(text, path):
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        col = getattr(exc, "colno", None)
        reason = getattr(exc, "msg", to_native(exc))
        where = " at line %s, column %s" % (line, col) if line is not None else ""
        raise SettingsError(
            "%s is not valid JSON: %s%s. The file was left untouched. Fix it by hand (check with "
            "'python3 -m json.tool %s') or move it aside, then run again." % (path, reason, where, path)
        ) from None
    if not isinstance(doc, dict):
        raise SettingsError(
            "%s must hold a JSON object ({...}) but holds a %s. The file was left untouched; fix it or "
            "move it aside, then run again." % (path, type(doc).__name__)
        )
    if "env" in doc and not isinstance(doc["env"], dict):
        raise SettingsError(
            "%s: the 'env' key must be a JSON object but is a %s. The file was left untouched; fix it "
            "or move it aside, then run again." % (path, type(doc["env"]).__name__)
        )
    return doc


def masked(doc, secret_keys, changed_secrets=()):
    if not isinstance(doc.get("env"), dict):
        return doc
    copy = dict(doc)
    env = dict(doc["env"])
    for key in env:
        if key in secret_keys:
            env[key] = MASK + (" (changed)" if key in changed_secrets else "")
    copy["env"] = env
    return copy


def apply_changes(doc, params):
    """Return (new_doc, added, updated, removed) without touching doc."""
    new = dict(doc)
    env = dict(doc.get("env") or {})
    had_env = "env" in doc
    added, updated, removed = [], [], []

    wanted_env = {}
    wanted_env.update(params["env"])
    wanted_env.update(params["secret_env"])
    if "env" in params["settings"]:
        raise SettingsError("set keys inside 'env' with the env option, not with settings")

    if params["state"] == "present":
        for key, raw in wanted_env.items():
            value = env_value(raw)
            if key not in env:
                added.append("env." + key)
            elif env[key] != value:
                updated.append("env." + key)
            env[key] = value
        for key, value in params["settings"].items():
            if key not in new:
                added.append(key)
            elif new[key] != value:
                updated.append(key)
            new[key] = value
        drop_env = params["remove_env"]
        drop_top = params["remove"]
    else:
        drop_env = list(wanted_env) + params["remove_env"]
        drop_top = list(params["settings"]) + params["remove"]

    for key in drop_env:
        if key in env:
            del env[key]
            removed.append("env." + key)
    for key in drop_top:
        if key == "env":
            raise SettingsError("remove env keys with remove_env; the whole env object cannot be removed")
        if key in new:
            del new[key]
            removed.append(key)

    if env or (had_env and not any(r.startswith("env.") for r in removed)):
        new["env"] = env
    elif "env" in new:
        # The env object only held keys that were just removed: drop it, so that removal restores
        # a file that had no env object before.
        del new["env"]
    return new, added, updated, removed


def resolve_id(value, kind):
    if value is None:
        return -1
    try:
        return int(value)
    except ValueError:
        pass
    try:
        if kind == "user":
            return pwd.getpwnam(value).pw_uid
        return grp.getgrnam(value).gr_gid
    except (KeyError, AttributeError):
        raise SettingsError("%s %s does not exist" % (kind, value)) from None


def parse_mode(value):
    if isinstance(value, int):
        return value
    try:
        return int(to_text(value), 8)
    except ValueError:
        raise SettingsError("create_mode must be an octal number such as '0600', got %r" % (value,)) from None


def write(module, path, data, exists, owner, group, mode):
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise SettingsError("directory %s does not exist" % directory)
    if not exists:
        # Create the destination first with the final mode and owner, so that the atomic rename
        # (which copies the destination's attributes) never exposes the content more widely.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        os.close(fd)
        os.chmod(path, mode)
        uid, gid = resolve_id(owner, "user"), resolve_id(group, "group")
        if uid != -1 or gid != -1:
            os.chown(path, uid, gid)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes(data, errors="surrogate_or_strict"))
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            env=dict(type="dict", default={}),
            secret_env=dict(type="dict", default={}, no_log=True),
            mask_env=dict(type="list", elements="str", default=["OTEL_EXPORTER_OTLP_HEADERS"]),
            settings=dict(type="dict", default={}),
            remove_env=dict(type="list", elements="str", default=[]),
            remove=dict(type="list", elements="str", default=[]),
            delete_if_empty=dict(type="bool", default=False),
            backup=dict(type="bool", default=False),
            owner=dict(type="str"),
            group=dict(type="str"),
            create_mode=dict(type="raw", default="0600"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    path = params["path"]
    secret_keys = set(params["mask_env"]) | set(params["secret_env"])
    result = dict(changed=False, path=path, created=False, deleted=False, added=[], updated=[], removed=[], env={})

    try:
        mode = parse_mode(params["create_mode"])
        if os.path.isdir(path):
            raise SettingsError("%s is a directory" % path)
        exists = os.path.exists(path)
        if exists:
            with open(path, "rb") as handle:
                raw = handle.read()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SettingsError(
                    "%s is not UTF-8 text (byte %d). The file was left untouched." % (path, exc.start)
                ) from None
            if text.startswith("\ufeff"):
                raise SettingsError(
                    "%s starts with a byte order mark, which JSON does not allow. "
                    "The file was left untouched; save it as UTF-8 without BOM." % path
                )
        else:
            text = ""
        doc = parse(text, path)
        new, added, updated, removed = apply_changes(doc, params)
    except SettingsError as exc:
        module.fail_json(msg=to_native(exc), **result)

    style = detect_style(text) if exists else (2, (",", ": "), True)
    delete = exists and params["delete_if_empty"] and not new and bool(removed)
    create = not exists and params["state"] == "present" and new != doc
    if not exists and params["state"] == "absent":
        new = doc
    changed = delete or create or (exists and new != doc)

    result.update(added=added, updated=updated, removed=removed, created=create, deleted=delete, changed=changed)
    result["env"] = masked(new, secret_keys).get("env", {}) if not delete else {}

    if module._diff:
        changed_secrets = {k[4:] for k in updated if k[4:] in secret_keys}
        before = render(masked(doc, secret_keys), style) if exists else ""
        after = "" if delete else render(masked(new, secret_keys, changed_secrets), style)
        if not changed:
            after = before
        result["diff"] = dict(before=before, after=after, before_header=path, after_header=path)

    if changed and not module.check_mode:
        try:
            if params["backup"] and exists:
                result["backup_file"] = module.backup_local(path)
            if delete:
                os.unlink(path)
            else:
                write(module, path, render(new, style), exists, params["owner"], params["group"], mode)
        except (OSError, IOError, SettingsError) as exc:
            module.fail_json(msg="cannot write %s: %s" % (path, to_native(exc)), **result)

    module.exit_json(**result)


if __name__ == "__main__":
    main()
