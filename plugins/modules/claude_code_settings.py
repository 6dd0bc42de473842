#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: claude_code_settings
short_description: Set or take back keys in a Claude Code settings JSON file
version_added: "1.0.0"
description:
  - Edits a Claude Code settings file (the user file C(~/.claude/settings.json), a project
    C(.claude/settings.json) or the organisation-managed C(managed-settings.json)).
  - Sets keys inside the C(env) object (and top-level keys) and keeps a record of what it
    changed in a small file next to the settings file (see I(record_path)), namely the keys it
    added, the values it replaced, whether it created the C(env) object, the file or its
    directories. Removal (C(state=absent)) takes back exactly that, from the record, and never
    guesses from the content. A key whose value was changed by hand since is left as it is now.
  - Every other key, the key order and the file's indentation and trailing newline are kept.
  - The write is atomic (a temporary file in the same directory, then a rename) and keeps the
    owner, group and mode of an existing file. A symbolic link (dotfile managers) is kept; its
    target is written.
  - The file is read once. Nothing is written when nothing differs.
  - A file that is not valid JSON, whose top level is not an object or whose C(env) is not an
    object is never rewritten; the error names the file, the line and the fix. So is a file (or
    directory) without any write permission bit, and a link whose target does not exist.
  - Values of secret keys (I(secret_env), I(mask_env)) never appear in the diff or the results.
author:
  - claude_code.observability maintainers (@claude-code-observability)
options:
  path:
    description:
      - The settings file. Its directory must exist unless I(create_dirs=true).
    type: path
    required: true
  state:
    description:
      - C(present) sets I(env), I(secret_env) and I(settings); keys set by an earlier run that are
        no longer asked for are taken back (their previous value restored, or removed). Keys named
        in I(remove_env) and I(remove) are removed.
      - C(absent) takes back every key of the record (restoring values it replaced), removes an
        C(env) object and a file it created once they are empty, and removes the record. Keys named
        in I(remove_env) and I(remove) are removed as well. I(env), I(secret_env) and I(settings)
        are ignored.
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
        C(OTEL_EXPORTER_OTLP_HEADERS) holding a token). Masked in the diff and the results; the
        record keeps only a SHA-256 digest of what was written.
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
      - Names of C(env) keys to remove whoever wrote them. Their values are not restored later.
    type: list
    elements: str
    default: []
  remove:
    description:
      - Names of top-level keys to remove whoever wrote them.
    type: list
    elements: str
    default: []
  record_path:
    description:
      - The record of what this module changed in I(path). Empty means
        C(.<file name>.claude-code-observability.json) in the directory of I(path). It gets the
        owner, group and mode of the settings file.
    type: path
  create_dirs:
    description:
      - Create missing directories of I(path) (mode I(dir_mode), owner I(owner), group I(group)).
        They are recorded and removed again by C(state=absent) when empty.
    type: bool
    default: false
  dir_mode:
    description: Mode of directories created by I(create_dirs).
    type: raw
    default: "0700"
  delete_if_empty:
    description:
      - Obsolete; kept for compatibility. Only a file this module created is deleted, and only when
        no key is left in it.
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
  - An empty file (only whitespace) is read as C({}); removal writes its exact bytes back.
  - Keys written before this module kept records (release 0.1.0) are not in any record, so
    C(state=absent) leaves them; remove them with I(remove_env).
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
    create_dirs: true
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
    create_dirs: true
    dir_mode: "0755"
    create_mode: "0644"
    env:
      CLAUDE_CODE_ENABLE_TELEMETRY: "1"
      OTEL_LOG_USER_PROMPTS: "0"

- name: Take back what the first task wrote (the user's own keys and values stay)
  claude_code.observability.claude_code_settings:
    path: /home/alice/.claude/settings.json
    state: absent
"""

RETURN = r"""
path:
  description: The settings file.
  returned: always
  type: str
  sample: /home/alice/.claude/settings.json
record_path:
  description: The record of what this module changed in the file.
  returned: always
  type: str
  sample: /home/alice/.claude/.settings.json.claude-code-observability.json
created:
  description: Whether the file did not exist and was (or, in check mode, would be) created.
  returned: always
  type: bool
  sample: false
deleted:
  description: Whether the file was (or would be) deleted because this module created it and nothing is left in it.
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
restored:
  description: Keys given back the value they had before this module replaced it.
  returned: always
  type: list
  elements: str
  sample: [env.OTEL_METRICS_EXPORTER]
kept:
  description: Recorded keys left alone on removal because their value was changed by hand since.
  returned: always
  type: list
  elements: str
  sample: []
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

import copy  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import stat  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.files import (  # noqa: E402
    FileError,
    atomic_write,
    parse_mode,
    resolve_id,
)

# The collection's file helpers raise FileError; this module's own checks say the same.
SettingsError = FileError

MASK = "********"
RECORD_SUFFIX = ".claude-code-observability.json"
RECORD_VERSION = 1


def env_value(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None:
        return ""
    return to_text(value)


def digest(value):
    """What the record keeps of a value it wrote: enough to tell whether it is still ours, nothing
    that would disclose a secret."""
    return hashlib.sha256(to_bytes(json.dumps(value, sort_keys=True, ensure_ascii=False))).hexdigest()


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
        kind = {list: "a list ([...])", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(doc), "a number"
        )
        raise SettingsError(
            "%s must hold a JSON object ({...}) at the top level but holds %s. The file was left untouched; "
            "fix it (for example wrap the settings in {...}) or move it aside, then run again." % (path, kind)
        )
    if "env" in doc and not isinstance(doc["env"], dict):
        raise SettingsError(
            '%s: the \'env\' key must be a JSON object ({"NAME": "value"}) but is a %s. The file was left '
            "untouched; fix it or move it aside, then run again." % (path, type(doc["env"]).__name__)
        )
    return doc


def masked(doc, secret_keys, changed_secrets=()):
    if not isinstance(doc.get("env"), dict):
        return doc
    out = dict(doc)
    env = dict(doc["env"])
    for key in env:
        if key in secret_keys:
            env[key] = MASK + (" (changed)" if key in changed_secrets else "")
    out["env"] = env
    return out


def empty_record():
    return {
        "version": RECORD_VERSION,
        "file_created": False,
        "blank_text": None,
        "env_created": False,
        "dirs_created": [],
        "env": {},
        "settings": {},
    }


def load_record(path):
    if not os.path.lexists(path):
        return None
    try:
        with open(path, "rb") as handle:
            record = json.loads(handle.read().decode("utf-8"))
    except (ValueError, UnicodeDecodeError, OSError, IOError) as exc:
        raise SettingsError(
            "the record %s of what was changed cannot be read (%s). The settings file was left untouched. "
            "Delete the record to start over (the keys it listed then stay where they are), then run again."
            % (path, to_native(exc))
        ) from None
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
        raise SettingsError(
            "the record %s is not one this module wrote (version %r). The settings file was left untouched. "
            "Delete the record to start over, then run again."
            % (path, record.get("version") if isinstance(record, dict) else None)
        )
    base = empty_record()
    base.update(record)
    return base


def take_back(container, key, entry, restored, removed, kept, prefix):
    """Undo one recorded change if the value is still the one written; a value changed by hand
    since belongs to the user and stays."""
    if key not in container:
        return
    if digest(container[key]) != entry.get("written"):
        kept.append(prefix + key)
        return
    if entry.get("had"):
        container[key] = entry.get("previous")
        restored.append(prefix + key)
    else:
        del container[key]
        removed.append(prefix + key)


def apply_changes(doc, params, record):
    """Return (new_doc, new_record, report) without touching doc or record."""
    if "env" in params["settings"]:
        raise SettingsError("set keys inside 'env' with the env option, not with settings")
    if "env" in params["remove"]:
        raise SettingsError("remove env keys with remove_env; the whole env object cannot be removed")
    new = copy.deepcopy(doc)
    rec = copy.deepcopy(record)
    report = dict(added=[], updated=[], removed=[], restored=[], kept=[])
    had_env = "env" in new
    env = new.get("env") if had_env else {}
    if not had_env and not rec["env"]:
        rec["env_created"] = True

    wanted_env = {}
    wanted_settings = {}
    if params["state"] == "present":
        wanted_env = dict((k, env_value(v)) for k, v in params["env"].items())
        wanted_env.update((k, env_value(v)) for k, v in params["secret_env"].items())
        wanted_settings = dict(params["settings"])

    for container, wanted, entries, prefix in (
        (env, wanted_env, rec["env"], "env."),
        (new, wanted_settings, rec["settings"], ""),
    ):
        for key in [k for k in entries if k not in wanted]:
            take_back(container, key, entries.pop(key), report["restored"], report["removed"], report["kept"], prefix)
        for key, value in wanted.items():
            entry = entries.get(key)
            if entry is None or key not in container or digest(container[key]) != entry.get("written"):
                # First write, or the user changed or dropped it since: what is there now is the
                # value to give back later.
                entries[key] = {"had": key in container, "previous": container.get(key), "written": digest(value)}
            entries[key]["written"] = digest(value)
            if key not in container:
                report["added"].append(prefix + key)
            elif container[key] != value:
                report["updated"].append(prefix + key)
            container[key] = value

    for key in params["remove_env"]:
        if key in env:
            del env[key]
            rec["env"].pop(key, None)
            report["removed"].append("env." + key)
    for key in params["remove"]:
        if key in new:
            del new[key]
            rec["settings"].pop(key, None)
            report["removed"].append(key)

    if env:
        new["env"] = env
    elif had_env and not rec["env_created"]:
        new["env"] = env
    elif had_env or "env" in new:
        # Only ever held keys that were taken back: it was created for them.
        new.pop("env", None)
    if not rec["env"] and "env" not in new:
        rec["env_created"] = False
    return new, rec, report


def writable_bits(mode):
    return bool(stat.S_IMODE(mode) & 0o222)


def check_writable(real, exists, path):
    """Refuse what the owner made read-only, even when running as root (who could write anyway)."""
    if exists:
        st = os.stat(real)
        if not writable_bits(st.st_mode):
            raise SettingsError(
                "%s is read-only (mode %04o). It was left untouched. Make it writable (chmod u+w %s) or do not "
                "manage this file, then run again." % (path, stat.S_IMODE(st.st_mode), real)
            )
    directory = os.path.dirname(real) or "."
    probe = directory
    while not os.path.isdir(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if not writable_bits(os.stat(probe).st_mode):
        raise SettingsError(
            "%s cannot be written: its directory %s is read-only (mode %04o). Nothing was changed. Make it "
            "writable (chmod u+w %s) or do not manage this file, then run again."
            % (path, probe, stat.S_IMODE(os.stat(probe).st_mode), probe)
        )


def missing_dirs(directory):
    out = []
    while directory and not os.path.isdir(directory):
        if os.path.lexists(directory):
            raise SettingsError("%s exists and is not a directory" % directory)
        out.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return list(reversed(out))


def removable_dirs(created, going):
    """Recorded directories, innermost first, that hold nothing but what is about to go."""
    out = []
    gone = set(going)
    for directory in sorted(created, key=len, reverse=True):
        if not os.path.isdir(directory) or os.path.islink(directory):
            continue
        entries = set(os.path.join(directory, e) for e in os.listdir(directory))
        if entries <= gone:
            out.append(directory)
            gone.add(directory)
    return out


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
            record_path=dict(type="path"),
            create_dirs=dict(type="bool", default=False),
            dir_mode=dict(type="raw", default="0700"),
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
    record_path = params["record_path"] or os.path.join(
        os.path.dirname(path) or ".", "." + os.path.basename(path) + RECORD_SUFFIX
    )
    secret_keys = set(params["mask_env"]) | set(params["secret_env"])
    result = dict(
        changed=False,
        path=path,
        record_path=record_path,
        created=False,
        deleted=False,
        added=[],
        updated=[],
        removed=[],
        restored=[],
        kept=[],
        env={},
    )

    try:
        mode = parse_mode(params["create_mode"], "create_mode")
        dir_mode = parse_mode(params["dir_mode"], "dir_mode")
        is_link = os.path.islink(path)
        real = os.path.realpath(path) if is_link else path
        if is_link and not os.path.exists(real):
            raise SettingsError(
                "%s is a symbolic link to %s, which does not exist. Nothing was changed. Create the target "
                "(for example with your dotfile manager) or remove the link, then run again." % (path, real)
            )
        if os.path.isdir(real):
            raise SettingsError("%s is a directory, not a settings file. Move it aside or fix the path." % path)
        exists = os.path.exists(real)
        if exists:
            with open(real, "rb") as handle:
                raw = handle.read()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SettingsError(
                    "%s is not UTF-8 text (byte %d). The file was left untouched; save it as UTF-8, then run again."
                    % (path, exc.start)
                ) from None
            if text.startswith("\ufeff"):
                raise SettingsError(
                    "%s starts with a byte order mark, which JSON does not allow. "
                    "The file was left untouched; save it as UTF-8 without BOM, then run again." % path
                )
        else:
            text = ""
        doc = parse(text, path)
        old_record = load_record(record_path)
        record = old_record or empty_record()
        if not exists:
            # Whatever an older record said about the keys went with the file; the directories it
            # created are still the module's to remove.
            dirs = record["dirs_created"]
            record = empty_record()
            record["dirs_created"] = dirs
            if params["state"] == "present":
                record["file_created"] = True
        elif old_record is None and not text.strip():
            record["blank_text"] = text
        new, new_record, report = apply_changes(doc, params, record)
    except SettingsError as exc:
        module.fail_json(msg=to_native(exc), **result)

    to_create = []
    if params["state"] == "present" and not exists:
        try:
            to_create = missing_dirs(os.path.dirname(real))
        except SettingsError as exc:
            module.fail_json(msg=to_native(exc), **result)
        if to_create and not params["create_dirs"]:
            module.fail_json(
                msg="directory %s does not exist; create it or set create_dirs=true" % os.path.dirname(real), **result
            )
        new_record["dirs_created"] = new_record["dirs_created"] + to_create

    style = detect_style(text) if exists else (2, (",", ": "), True)
    deleted = False
    remove_dirs = []
    if params["state"] == "absent":
        final_record = None
        if not exists:
            new_text = None
        elif not new and new_record["file_created"] and not is_link:
            deleted, new_text = True, None
        elif not new and new_record["blank_text"] is not None:
            new_text = new_record["blank_text"]
        else:
            new_text = render(new, style) if new != doc else text
        if deleted or not exists:
            remove_dirs = removable_dirs(new_record["dirs_created"], {real, record_path})
    else:
        if not exists and not new:
            new_text = None
        else:
            new_text = render(new, style) if (new != doc or not exists) else text
        keep = new_record["env"] or new_record["settings"] or new_record["file_created"] or new_record["env_created"]
        final_record = new_record if keep and new_text is not None else None
    file_changed = (exists and (deleted or new_text != text)) or (not exists and new_text is not None)
    record_changed = final_record != old_record and not (final_record is None and old_record is None)
    changed = file_changed or record_changed or bool(remove_dirs)

    if file_changed and not deleted:
        try:
            check_writable(real, exists, path)
        except SettingsError as exc:
            module.fail_json(msg=to_native(exc), **result)

    result.update(report)
    result.update(created=not exists and new_text is not None, deleted=deleted, changed=changed)
    result["env"] = masked(new, secret_keys).get("env", {}) if new_text is not None else {}

    if module._diff:
        changed_secrets = {k[4:] for k in report["updated"] if k[4:] in secret_keys}
        before = render(masked(doc, secret_keys), style) if exists else ""
        after = "" if new_text is None else render(masked(new, secret_keys, changed_secrets), style)
        if not file_changed:
            after = before
        result["diff"] = dict(before=before, after=after, before_header=path, after_header=path)

    if changed and not module.check_mode:
        try:
            if params["backup"] and exists and file_changed:
                result["backup_file"] = module.backup_local(real)
            uid, gid = resolve_id(params["owner"], "user"), resolve_id(params["group"], "group")
            for directory in to_create:
                os.mkdir(directory, dir_mode)
                os.chmod(directory, dir_mode)
                if uid != -1 or gid != -1:
                    os.chown(directory, uid, gid)
            if exists:
                st = os.stat(real)
                fmode, fuid, fgid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
            else:
                fmode, fuid, fgid = mode, uid, gid
            # The record first: should the settings write fail, the record only claims values that
            # are not there, and removal leaves what is there alone.
            if final_record is not None and record_changed:
                atomic_write(record_path, json.dumps(final_record, indent=2, sort_keys=True) + "\n", fuid, fgid, fmode)
            if deleted:
                os.unlink(real)
            elif file_changed:
                atomic_write(real, new_text, fuid, fgid, fmode)
            if final_record is None and os.path.lexists(record_path):
                os.unlink(record_path)
            for directory in remove_dirs:
                try:
                    os.rmdir(directory)
                except OSError:
                    # Something else lives there now: the directory is no longer only ours.
                    break
        except (OSError, IOError, SettingsError) as exc:
            module.fail_json(msg="cannot write %s: %s" % (path, to_native(exc)), **result)

    module.exit_json(**result)


if __name__ == "__main__":
    main()
