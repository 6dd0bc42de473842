# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What playbooks/backup.yml and restore.yml take of each component, and their secret files, found
and copied in one module run each.

Filters

``backup_plan(services, manifest=None)``
    What a backup of a host running ``services`` (the compose services of its
    ``endpoints.json``) takes, from the ``backup`` key of each component's
    ``meta/component.yml``: {files, volumes, snapshots, services}. With an
    archive's ``manifest``, ``snapshots`` and ``services`` are those of the data
    it holds (plugins/plugin_utils/backup.py).

``backup_volumes(containers, volumes, project)``
    ``containers``: ``docker inspect`` of the plan's volume services;
    ``volumes``: the plan's ``volumes``. Returns the manifest's ``volumes``:
    [{service, volume, path, file}] of the volumes the components name.

``backup_secrets(found, base, wanted)``
    ``found``: the ``files`` of one ``ansible.builtin.find`` under ``base``;
    ``wanted``: paths relative to ``base``. Returns the wanted files that were
    found, in ``wanted``'s order: [{path, file, mode, uid, gid[, checksum]}]
    (``file`` is where the archive keeps it: ``files/<path>``), the manifest's
    ``secrets``.

``backup_copies(secrets, src, dest, restore=False)``
    The ``project_files`` entries that copy them: each destination directory
    (mode 0700) first, then each file. A backup copies ``src/<path>`` to
    ``dest/<file>`` (mode 0600); a restore copies ``src/<file>`` back to
    ``dest/<path>`` with the mode, owner and group the manifest recorded.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import posixpath
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six import string_types
from ansible_collections.claude_code.observability.plugins.plugin_utils import backup
from ansible_collections.claude_code.observability.plugins.plugin_utils.components import CatalogError, load_catalog


def _absolute(value, what):
    if not isinstance(value, string_types) or not value.startswith("/"):
        raise AnsibleFilterError("%s needs an absolute directory, got %r" % (what, value))
    return value.rstrip("/") or "/"


def _relative(value, what):
    rel = posixpath.normpath("%s" % value) if isinstance(value, string_types) else ""
    if not rel or rel.startswith(("/", "../")) or rel in (".", ".."):
        raise AnsibleFilterError("%s: %r is not a path inside the project" % (what, value))
    return rel


def backup_secrets(found, base, wanted):
    base = _absolute(base, "backup_secrets")
    if not isinstance(found, Sequence) or isinstance(found, string_types):
        raise AnsibleFilterError("backup_secrets expects the files of ansible.builtin.find, got %r" % (found,))
    if not isinstance(wanted, Sequence) or isinstance(wanted, string_types):
        raise AnsibleFilterError("backup_secrets expects a list of paths, got %r" % (wanted,))
    by_path = {}
    for entry in found:
        if isinstance(entry, Mapping) and entry.get("path"):
            by_path[os.path.relpath("%s" % entry["path"], base)] = entry
    out = []
    for rel in [_relative(w, "backup_secrets") for w in wanted]:
        entry = by_path.get(rel)
        if entry is None or rel in [s["path"] for s in out]:
            continue
        record = {"path": rel, "file": "files/" + rel, "mode": entry["mode"], "uid": entry["uid"], "gid": entry["gid"]}
        if entry.get("checksum"):
            record["checksum"] = entry["checksum"]
        out.append(record)
    return out


def backup_copies(secrets, src, dest, restore=False):
    src, dest = _absolute(src, "backup_copies"), _absolute(dest, "backup_copies")
    if not isinstance(secrets, Sequence) or isinstance(secrets, string_types):
        raise AnsibleFilterError("backup_copies expects the manifest's secrets, got %r" % (secrets,))
    dirs, files = [], []
    for secret in secrets:
        if not isinstance(secret, Mapping) or "path" not in secret or "file" not in secret:
            raise AnsibleFilterError("backup_copies: %r is not a secret of a backup manifest" % (secret,))
        rel, stored = _relative(secret["path"], "backup_copies"), _relative(secret["file"], "backup_copies")
        source, target = (stored, rel) if restore else (rel, stored)
        path = posixpath.join(dest, target)
        parent = posixpath.dirname(path)
        if parent != dest and parent not in dirs:
            dirs.append(parent)
        entry = {"path": path, "src": posixpath.join(src, source), "mode": "0600", "secret": True}
        if restore:
            entry.update(mode="%s" % secret["mode"], owner="%s" % secret["uid"], group="%s" % secret["gid"])
        files.append(entry)
    return [{"path": d, "state": "directory", "mode": "0700"} for d in dirs] + files


def backup_plan(services, manifest=None):
    if manifest is not None and not isinstance(manifest, Mapping):
        raise AnsibleFilterError("backup_plan expects the manifest of an archive, got %r" % (manifest,))
    try:
        return backup.plan(load_catalog(), services, manifest)
    except (CatalogError, backup.BackupError) as exc:
        raise AnsibleFilterError("backup_plan: %s" % exc) from None


def backup_volumes(containers, volumes, project):
    try:
        return backup.volumes(containers, volumes, "%s" % project)
    except (KeyError, TypeError, backup.BackupError) as exc:
        raise AnsibleFilterError("backup_volumes: %s" % exc) from None


class FilterModule(object):
    def filters(self):
        return {
            "backup_plan": backup_plan,
            "backup_volumes": backup_volumes,
            "backup_secrets": backup_secrets,
            "backup_copies": backup_copies,
        }
