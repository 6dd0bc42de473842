# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What playbooks/backup.yml keeps of each component and restore.yml puts back: the `backup`
key of the component catalog (docs/components.md, "Backups"), so neither playbook names a
component."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping, Sequence

from ansible_collections.claude_code.observability.plugins.plugin_utils.components import SNAPSHOTS


class BackupError(ValueError):
    pass


def _list(value, what):
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise BackupError("%s must be a list, got %r" % (what, value))
    return list(value)


def _snapshot_components(catalog):
    """{type: record} of the components whose data is a snapshot; one component per type."""
    out = {}
    for record in catalog.values():
        kind = ((record.get("backup") or {}).get("snapshot") or {}).get("type")
        if kind is None:
            continue
        if kind in out:
            raise BackupError(
                "components %s and %s both take a %s snapshot: backup.yml keeps one per host"
                % (out[kind]["name"], record["name"], kind)
            )
        out[kind] = record
    return out


def plan(catalog, services, manifest=None):
    """What a backup of a host running `services` (its compose services) takes.

    Returns {files, volumes, snapshots, services}:
    files      every component's `backup.files`, in catalog order (saved where they exist)
    volumes    [{service, volumes}] of the services here that name volumes, in the order of `services`
    snapshots  {type: {name, title, service[, path]}} of the components here whose data is a snapshot;
               with `manifest` (an archive's manifest.json), those of the types the archive holds
    services   the services whose data is taken, or with `manifest`, whose data the archive holds
    """
    services = [str(s) for s in _list(services, "services")]
    by_type = _snapshot_components(catalog)
    by_service = dict((record["service"], record) for record in catalog.values())
    files = []
    for record in catalog.values():
        for rel in (record.get("backup") or {}).get("files", []):
            if rel not in files:
                files.append(rel)
    volumes = []
    for service in services:
        names = ((by_service.get(service) or {}).get("backup") or {}).get("volumes") or []
        if names:
            volumes.append({"service": service, "volumes": list(names)})
    snapshots = {}
    for kind in SNAPSHOTS:
        record = by_type.get(kind)
        if manifest is not None:
            if not manifest.get(kind):
                continue
            if record is None:
                raise BackupError(
                    "the archive holds a %s snapshot, but no component of this collection takes one" % kind
                )
        elif record is None or record["service"] not in services:
            continue
        entry = {"name": record["name"], "title": record["title"], "service": record["service"]}
        for key in SNAPSHOTS[kind]:
            entry[key] = record["backup"]["snapshot"][key]
        snapshots[kind] = entry
    data = [entry["service"] for entry in snapshots.values()]
    if manifest is not None:
        stored = _list(manifest.get("volumes") or [], "the manifest's volumes")
        data += [v.get("service") for v in stored if isinstance(v, Mapping)]
    else:
        data += [v["service"] for v in volumes]
    return {
        "files": files,
        "volumes": volumes,
        "snapshots": snapshots,
        "services": [s for i, s in enumerate(data) if s and s not in data[:i]],
    }


def volumes(containers, wanted, project):
    """The volumes to copy out of `docker inspect` of the plan's volume services: [{service, volume,
    path, file}], the manifest's `volumes`. `wanted` is the plan's [{service, volumes}]; a volume is
    named as its compose file names it (compose prefixes it with the project's name)."""
    names = dict((w["service"], list(w["volumes"])) for w in _list(wanted, "the plan's volumes"))
    prefix = "%s_" % project
    out = []
    for container in _list(containers, "the output of docker inspect"):
        if not isinstance(container, Mapping):
            raise BackupError("docker inspect gave %r, not a container" % (container,))
        service = ((container.get("Config") or {}).get("Labels") or {}).get("com.docker.compose.service")
        for mount in container.get("Mounts") or []:
            if mount.get("Type") != "volume":
                continue
            volume = mount.get("Name") or ""
            volume = volume[len(prefix) :] if volume.startswith(prefix) else volume
            if volume in names.get(service, []):
                out.append(
                    {
                        "service": service,
                        "volume": volume,
                        "path": mount["Destination"],
                        "file": "volumes/%s/%s.tar" % (service, volume),
                    }
                )
    return out
