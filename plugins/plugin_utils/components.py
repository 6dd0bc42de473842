# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The component catalog: each component role's meta/component.yml (docs/components.md).

The stack and the placement filter read these instead of naming components, so a
new backend is a new role with its own catalog entry.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
from collections.abc import Mapping, Sequence

try:
    import yaml

    # Every task that templates the stack's variables reads the catalog again, in
    # its own worker process: libyaml parses it about six times faster.
    _LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
except ImportError:  # pragma: no cover - Ansible always ships PyYAML
    yaml = None

# roles/ of this collection, wherever it is installed.
ROLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles")

KEYS = {
    "name",
    "title",
    "service",
    "port",
    "scheme",
    "used_by",
    "needs",
    "scrape",
    "scrapes",
    "external",
    "optional",
    "secure",
    "backup",
}
REQUIRED = ("name", "service", "port")
# The snapshots playbooks/backup.yml and restore.yml know how to take and put
# back, each with the keys its `snapshot` needs besides `type`. A component
# whose data is neither is copied as its volumes are, stopped for the copy.
SNAPSHOTS = {"prometheus": ("path",), "opensearch": ()}
BACKUP_KEYS = ("volumes", "files", "snapshot")


def plain(value):
    """Plain dicts, lists and scalars. Values Ansible hands a filter may be
    resolved on every access; a copy made of them element by element is slow,
    and they must not be kept as they are."""
    if isinstance(value, Mapping):
        return dict((k, plain(v)) for k, v in value.items())
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(v) for v in value]
    # Scalars may carry where they came from; copying that is slow too.
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return value


class CatalogError(ValueError):
    pass


def _check(record, path):
    if not isinstance(record, dict):
        raise CatalogError("%s: a component record must be a mapping" % path)
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        raise CatalogError("%s: missing %s" % (path, ", ".join(missing)))
    unknown = sorted(set(record) - KEYS)
    if unknown:
        raise CatalogError("%s: unknown key(s) %s; known: %s" % (path, ", ".join(unknown), ", ".join(sorted(KEYS))))
    port = record["port"]
    if not isinstance(port, dict) or not {"variable", "default"} <= set(port):
        raise CatalogError("%s: port must be {variable, default, container}" % path)
    for key in ("used_by", "needs"):
        if not isinstance(record.get(key, []), list):
            raise CatalogError("%s: %s must be a list of component names" % (path, key))
    external = record.get("external")
    if external is not None and (not isinstance(external, dict) or "variable" not in external):
        raise CatalogError("%s: external must be {variable, equals}" % path)
    optional = record.get("optional")
    if optional is not None:
        if isinstance(optional, str):
            optional = {"variable": optional, "default": False}
        if not isinstance(optional, dict) or "variable" not in optional:
            raise CatalogError("%s: optional must be {variable, default}" % path)
    secure = record.get("secure")
    if secure is not None:
        if not isinstance(secure, dict) or not {"variable", "user", "password_file", "ca_file"} <= set(secure):
            raise CatalogError(
                "%s: secure must be {variable, user: {variable, default}, password_file, ca_file}" % path
            )
        if not isinstance(secure["user"], dict) or not {"variable", "default"} <= set(secure["user"]):
            raise CatalogError("%s: secure.user must be {variable, default}" % path)
    _check_backup(record.get("backup"), path)
    out = dict(record)
    if optional is not None:
        out["optional"] = dict({"default": False}, **optional)
    out.setdefault("title", record["name"])
    out.setdefault("scheme", "http")
    out.setdefault("used_by", [])
    out.setdefault("needs", [])
    out["port"] = dict({"container": port["default"]}, **port)
    return out


def _names(value):
    return isinstance(value, list) and all(isinstance(item, str) and item for item in value)


def _check_backup(backup, path):
    """`backup`: false (or absent), or {volumes, files, snapshot} (docs/components.md, "Backups")."""
    if backup is None or backup is False:
        return
    if not isinstance(backup, dict):
        raise CatalogError("%s: backup must be false or {volumes, files, snapshot}" % path)
    unknown = sorted(set(backup) - set(BACKUP_KEYS))
    if unknown:
        raise CatalogError(
            "%s: unknown backup key(s) %s; known: %s" % (path, ", ".join(unknown), ", ".join(BACKUP_KEYS))
        )
    for key in ("volumes", "files"):
        if key in backup and not _names(backup[key]):
            raise CatalogError("%s: backup.%s must be a list of names" % (path, key))
    for rel in backup.get("files", []):
        if rel.startswith("/") or ".." in rel.split("/"):
            raise CatalogError("%s: backup.files: %r is not a path inside the project directory" % (path, rel))
    snapshot = backup.get("snapshot")
    if snapshot is not None:
        kind = snapshot.get("type") if isinstance(snapshot, dict) else None
        if kind not in SNAPSHOTS:
            raise CatalogError(
                "%s: backup.snapshot must be {type, ...} with type one of %s" % (path, ", ".join(sorted(SNAPSHOTS)))
            )
        missing = [key for key in SNAPSHOTS[kind] if not isinstance(snapshot.get(key), str) or not snapshot[key]]
        if missing:
            raise CatalogError("%s: a %s snapshot needs %s" % (path, kind, ", ".join(missing)))


def load_catalog(roles_dir=None):
    """{name: record} of every role that has a meta/component.yml, by name."""
    if yaml is None:  # pragma: no cover
        raise CatalogError("PyYAML is needed to read the component catalog")
    catalog = {}
    for path in sorted(glob.glob(os.path.join(roles_dir or ROLES_DIR, "*", "meta", "component.yml"))):
        with open(path) as handle:
            record = _check(yaml.load(handle, Loader=_LOADER), path)
        if record["name"] in catalog:
            raise CatalogError("%s: component %s is already defined by another role" % (path, record["name"]))
        record["role"] = os.path.basename(os.path.dirname(os.path.dirname(path)))
        catalog[record["name"]] = record
    return catalog


def select(catalog, names):
    """The records of names, in that order; an unknown name is an error that lists the known ones."""
    unknown = [name for name in names if name not in catalog]
    if unknown:
        raise CatalogError("unknown component(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(catalog))))
    return [catalog[name] for name in names]


def uses(catalog, consumer, provider):
    """Whether consumer connects to provider: said by either side."""
    return provider in catalog[consumer]["needs"] or consumer in catalog[provider]["used_by"]
