# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The stack's compose project, merged from what each component role published, and
compose's failures traced back to the variables of those roles.

Filter ``compose_project(parts, name)``

parts  the list the stack role keeps in ``stack__compose_parts``: one dict per
       component role, ``{'role': <role name>, 'services': {...},
       'volumes': {...}}``; ``services`` and ``volumes`` may be left out.
name   the compose project's name (``stack_project_name``).

Example::

  {{ stack__compose_parts | claude_code.observability.compose_project(stack_project_name)
     | to_nice_yaml(indent=2, sort_keys=false) }}

Returns ``{'name': name, 'services': {...}, 'volumes': {...}}`` with the
services and volumes of every part, in the order of the parts. Two parts that
publish the same service or volume name are an error naming both roles: one
would otherwise replace the other without a word. So are two services that
publish the same host port: compose would start the first and leave the other
down.

Filter ``compose_external_volumes(project)``

The names of the volumes a rendered compose project (``compose.yaml``, parsed)
declares ``external``: a component creates those itself (the collector's
queue, which must exist before compose with the ownership its user needs), so
``docker compose down --volumes`` leaves them, and removing the stack's data
removes them by these names. Empty for a project without volumes.

Filter ``compose_port_conflicts(parts, listeners, own)``

Whether the host ports the parts publish are free before compose touches a
running service: ``listeners`` are the texts of ``/proc/net/tcp`` and
``/proc/net/tcp6`` of the host, ``own`` the ``docker compose ps --format json``
output of the project (its running containers' ports are not a conflict).
Returns one message per port something else listens on, naming the service,
the role's variables and the fix; empty when all are free.

Filter ``config_check(image, entrypoint, args, path)``

The ``validate`` command of a template task: the component's own tool, from
the image the stack runs (``docker run --network none``), reads the rendered
file mounted at ``path`` (``{file}`` in ``args``). A file it refuses is not
written, and no running service is touched. When the image is not on the host
yet (a first run, before compose pulls it), the check is left to compose's
start and its health wait.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common._collections_compat import Mapping, Sequence
from ansible.module_utils.six import string_types
from ansible.module_utils.six.moves import shlex_quote
from ansible_collections.claude_code.observability.plugins.plugin_utils.compose import compose_not_up, ps_entries

SECTIONS = (("services", "service"), ("volumes", "volume"))


def _fail(msg):
    raise AnsibleFilterError("compose_project: " + msg)


def _label(part, index):
    role = part.get("role")
    return "the %s role" % role if role else "part %d of stack__compose_parts" % (index + 1)


def compose_project(parts, name):
    """Merge the parts' services and volumes into one compose project."""
    if parts is None:
        parts = []
    if isinstance(parts, (string_types, Mapping)) or not isinstance(parts, Sequence):
        _fail("expects a list of parts ({'role': ..., 'services': {...}, 'volumes': {...}}), got %r" % (parts,))
    project = {"name": name, "services": {}, "volumes": {}}
    owner = {"services": {}, "volumes": {}}
    for index, part in enumerate(parts):
        if not isinstance(part, Mapping):
            _fail("part %d is not a dict: %r" % (index + 1, part))
        label = _label(part, index)
        for section, what in SECTIONS:
            entries = part.get(section) or {}
            if not isinstance(entries, Mapping):
                _fail("%s of %s must be a dict, got %r" % (section, label, entries))
            for key, value in entries.items():
                if key in owner[section]:
                    _fail(
                        "%s %s is published by both %s and %s; each %s name must be unique in the project"
                        % (what, key, owner[section][key], label, what)
                    )
                owner[section][key] = label
                project[section][key] = value
    seen = {}
    for service, bind, port, label in _published(parts):
        for other_service, other_bind, other_label in seen.get(port, []):
            if _overlap(bind, other_bind):
                _fail(
                    "host port %s is published by both the %s service (%s) and the %s service (%s): give one of them "
                    "another port (the %s_*port and %s_*port variables)"
                    % (port, other_service, other_label, service, label, _role(other_label), _role(label))
                )
        seen.setdefault(port, []).append((service, bind, label))
    return project


def compose_external_volumes(project):
    """The names of the project's external volumes, in the file's order."""
    if project is None:
        return []
    if not isinstance(project, Mapping):
        _fail("compose_external_volumes expects the parsed compose file (a dict), got %r" % (project,))
    volumes = project.get("volumes") or {}
    if not isinstance(volumes, Mapping):
        _fail("the compose file's volumes must be a dict, got %r" % (volumes,))
    return [
        (spec.get("name") or key)
        for key, spec in volumes.items()
        if isinstance(spec, Mapping) and spec.get("external") in (True, "true", "yes")
    ]


WILDCARDS = ("", "0.0.0.0", "::", "[::]")


def _role(label):
    """The role of a part's label ("the prometheus role"), for naming its variables."""
    words = label.split()
    return words[1] if len(words) == 3 and words[0] == "the" else "<role>"


def _overlap(bind, other):
    return bind == other or bind in WILDCARDS or other in WILDCARDS


def _port_spec(spec):
    """(host address, host port) of a compose ports entry, or None when it publishes no fixed host port."""
    if isinstance(spec, Mapping):
        published = spec.get("published")
        return (spec.get("host_ip") or "", int(published)) if published else None
    text = "%s" % spec
    text = text.split("/", maxsplit=1)[0]
    if text.startswith("["):  # [::1]:4317:4317
        host, _sep, rest = text[1:].partition("]:")
        fields = [host] + rest.split(":")
    else:
        fields = text.split(":")
    if len(fields) == 3 and fields[1]:
        return fields[0], int(fields[1])
    if len(fields) == 2 and fields[0]:
        return "", int(fields[0])
    return None


def _published(parts):
    out = []
    for index, part in enumerate(parts or []):
        if not isinstance(part, Mapping):
            continue
        label = _label(part, index)
        for service, spec in (part.get("services") or {}).items():
            for entry in (spec or {}).get("ports") or []:
                found = _port_spec(entry)
                if found:
                    out.append((service, found[0], found[1], label))
    return out


def _listening(texts):
    """{(address, port)} of the TCP sockets that listen, from /proc/net/tcp and tcp6."""
    found = set()
    for text in texts or []:
        for line in ("%s" % (text or "")).splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4 or fields[3] != "0A":  # 0A: LISTEN
                continue
            address, _sep, port = fields[1].partition(":")
            found.add((_address(address), int(port, 16)))
    return found


def _address(hexaddr):
    if len(hexaddr) == 8:
        raw = bytes.fromhex(hexaddr)[::-1]
        return ".".join(str(b) for b in raw)
    words = [bytes.fromhex(hexaddr[i : i + 8])[::-1].hex() for i in range(0, 32, 8)]
    text = "".join(words)
    if text == "0" * 32:
        return "::"
    if text.startswith("0" * 20 + "ffff"):
        tail = bytes.fromhex(text[24:])
        return ".".join(str(b) for b in tail)
    return ":".join(text[i : i + 4] for i in range(0, 32, 4))


def _own_ports(own):
    """Host ports the project's running containers publish (docker compose ps --format json)."""
    ports = set()
    for entry in ps_entries(own):
        for publisher in entry.get("Publishers") or []:
            if isinstance(publisher, Mapping) and publisher.get("PublishedPort"):
                ports.add(int(publisher["PublishedPort"]))
    return ports


def compose_port_conflicts(parts, listeners, own=""):
    """Messages for each published host port something other than this project listens on."""
    listening = _listening(listeners)
    mine = _own_ports(own)
    messages = []
    for service, bind, port, label in _published(parts):
        if port in mine:
            continue
        taken = sorted(addr for addr, p in listening if p == port and _overlap(bind, addr))
        if taken:
            messages.append(
                "port %s (%s service, %s) is already taken on this host (something listens on %s): stop what "
                "listens there, or give the service another port (the %s_*port variables)"
                % (port, service, label, ", ".join("%s:%s" % (a, port) for a in taken), _role(label))
            )
    return messages


def config_check(image, entrypoint, args, path, mounts=None):
    """The validate command of a template task that checks the rendered file with the image's own tool.
    mounts: {host directory: container path} the file refers to (certificates, password files), read-only."""
    if not image or not entrypoint or not path:
        _fail("config_check needs an image, the tool's path in it and where the file goes")
    extra = []
    for source, target in sorted((mounts or {}).items()):
        extra += ["-v", "%s:%s:ro" % (source, target)]
    run = (
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--pull",
            "never",
            "--user",
            "0:0",
            "--entrypoint",
            entrypoint,
            "-v",
            "%s:" + path + ":ro",
        ]
        + extra
        + [
            image,
        ]
        + [("%s" % a).replace("{file}", path) for a in (args or [])]
    )
    # The template module runs validate without a shell: sh decides whether the image is here.
    script = "if docker image inspect %s >/dev/null 2>&1; then exec %s; fi" % (
        shlex_quote(image),
        " ".join(a if a == "%s:" + path + ":ro" else shlex_quote(a) for a in run),
    )
    return "sh -c %s" % shlex_quote(script)


def _pulled_services(result, msg):
    """Services compose was pulling an image for when it failed."""
    services = set()
    if isinstance(result, Mapping):
        for action in result.get("actions") or []:
            if isinstance(action, Mapping) and action.get("what") == "image" and action.get("id"):
                services.add(action["id"])
    services.update(re.findall(r"Error when processing (?:image )?([^\s:]+):", msg))
    return services


def _refused(result):
    """The words of a task whose validate command refused the rendered file (a template task,
    or project_files, which returns the file's path and its validate command)."""
    args = (result.get("invocation") or {}).get("module_args") or {}
    if result.get("validate"):
        args = {"validate": result["validate"], "dest": result.get("path")}
    check = "%s" % (args.get("validate") or "")
    tool = re.search(r"--entrypoint (\S+)", check)
    said = "\n".join(
        ("%s" % result.get(k)).strip() for k in ("stderr", "stdout") if ("%s" % (result.get(k) or "")).strip()
    )
    return "%s refused the rendered %s, so it was not written. It said:\n%s" % (
        tool.group(1).rsplit("/", 1)[-1] if tool else "The check",
        args.get("dest") or "file",
        said or "(nothing)",
    )


def _names_image(msg, image):
    """Whether the message names the image as a whole word (not inside a container name)."""
    return re.search(r"(?<![\w./:@-])%s(?![\w./@-]|:\w)" % re.escape(image), msg) is not None


def compose_suspects(ps, result=None, project=""):
    """Services whose logs tell why a start failed: those not up now, those compose was
    (re)creating or starting, and those its message names (``container <project>-<service>-1 is
    unhealthy``). A restarting container may look up for a moment; what compose touched may not."""
    suspects = compose_not_up(ps)
    names = []
    if isinstance(result, Mapping):
        for action in result.get("actions") or []:
            if isinstance(action, Mapping) and action.get("what") == "container" and action.get("id"):
                names.append(action["id"])
        names += re.findall(r"container (\S+) (?:is unhealthy|exited|has exited)", "%s" % result.get("msg", ""))
    prefix = "%s-" % project if project else ""
    for name in names:
        service = name[len(prefix) :] if prefix and name.startswith(prefix) else name
        service = re.sub(r"-\d+$", "", service)
        if service and service not in suspects:
            suspects.append(service)
    return suspects


def _service_roles(parts):
    roles = {}
    for part in parts or []:
        if isinstance(part, Mapping) and part.get("role"):
            for service in part.get("services") or {}:
                roles[service] = part["role"]
    return roles


def compose_failure(result, parts, logs=None, rollback=None):
    """Compose's error (the failed task's result, or its message), with the images it could not
    pull traced back to the variable that sets each.

    A component role publishes its service with the image of ``<role>_image``; an
    image that cannot be pulled (no registry reachable, a typo, a mirror not
    logged in) is then named with that variable, so the fix is one line of
    inventory.

    ``logs`` are the results of a ``docker compose logs`` loop over the services
    that were not up (each ``{item: service, stdout}``): their last lines are
    given with the role whose variables configure the service. ``rollback`` says
    what rollback.yml did: ``{dir, last_good, touched, after}``, ``after`` the
    ``docker compose ps`` output once the last healthy services were back.
    """
    msg = "%s" % (result.get("msg", result) if isinstance(result, Mapping) else result,)
    if isinstance(result, Mapping) and msg.startswith("failed to validate"):
        msg = _refused(result)
    pulled = _pulled_services(result, msg)
    named = []
    for part in parts or []:
        if not isinstance(part, Mapping) or not part.get("role"):
            continue
        for service, spec in (part.get("services") or {}).items():
            image = spec.get("image") if isinstance(spec, Mapping) else None
            if image and (service in pulled or _names_image(msg, image)):
                named.append((image, service, "%s_image" % part["role"]))
    if named:
        lines = [
            "docker compose could not get the image %s of the %s service: set %s to an image this host can pull "
            "(a mirror or a local registry), or load it with docker load and set stack_pull: never." % entry
            for entry in named
        ]
        lines.append("docker compose said: %s" % msg)
    elif rollback is None and not logs:
        return "docker compose failed: %s" % msg
    else:
        lines = [msg]
    roles = _service_roles(parts)
    for entry in logs or []:
        if not isinstance(entry, Mapping) or not entry.get("item"):
            continue
        service = entry["item"]
        said = _telling_lines(entry.get("stdout"))
        lines.append(
            "The %s service did not come up healthy (its settings are the %s_* variables). Its last log lines:\n%s"
            % (service, roles.get(service, "<role>"), said)
        )
    if isinstance(rollback, Mapping):
        lines.append(_rollback_text(rollback))
    return "\n".join(lines)


ERROR_WORDS = re.compile(r"error|fatal|panic|invalid|cannot|can't|failed|refused|denied|no such", re.I)


def _telling_lines(logs, most=12):
    """The log lines that say what went wrong, else the last ones. An error line starts its own
    line (indented lines are usage or stack text); a restarting service repeats it, so once."""
    lines = [line.rstrip() for line in ("%s" % (logs or "")).splitlines() if line.strip()]
    if not lines:
        return "(nothing)"
    errors = []
    for line in lines:
        said = line.split(" | ", 1)[1] if " | " in line else line
        if said[:1].strip() and ERROR_WORDS.search(said):
            if line in errors:
                errors.remove(line)
            errors.append(line)
    return "\n".join((errors or lines)[-most:])


def _rollback_text(rollback):
    where = "%s/.last-good" % rollback.get("dir", "")
    if not rollback.get("last_good"):
        return "No earlier run ended healthy here, so there was nothing to go back to; fix the above and run again."
    if not rollback.get("touched"):
        return (
            "No running service was changed; the files are back as the last healthy run left them (%s). "
            "Fix the above and run again." % where
        )
    still_down = compose_not_up(rollback.get("after"))
    if rollback.get("after") is not None and not still_down:
        return (
            "The files and services of the last healthy run are back (%s) and running; the data volumes were not "
            "touched. Fix the above and run again." % where
        )
    return (
        "The files of the last healthy run are back (%s), but these services are still not up: %s; see docker "
        "compose -p <project> logs." % (where, ", ".join(still_down) or "unknown")
    )


def project_entries(base, directories=None, files=None, prune=None, mode="0644", dir_mode="0755"):
    """The project_files entries of a directory a role owns: its directories, then its files
    ({path relative to base: content}). prune ({directory relative to base: pattern}) has the
    module remove what matches there and is not one of the files."""
    if not base or not ("%s" % base).startswith("/"):
        _fail("project_entries needs the absolute directory the files go in, got %r" % (base,))
    base = ("%s" % base).rstrip("/")
    prune = {("%s" % k).strip("/"): "%s" % v for k, v in (prune or {}).items()}

    def under(rel):
        rel = ("%s" % rel).strip("/")
        return base + "/" + rel if rel else base

    entries = []
    for rel in directories or []:
        entry = {"path": under(rel), "state": "directory", "mode": dir_mode}
        if ("%s" % rel).strip("/") in prune:
            entry["prune"] = prune[("%s" % rel).strip("/")]
        entries.append(entry)
    for rel, content in (files or {}).items():
        entries.append({"path": under(rel), "content": "%s" % content, "mode": mode})
    return entries


class FilterModule(object):
    def filters(self):
        return {
            "compose_project": compose_project,
            "compose_failure": compose_failure,
            "compose_external_volumes": compose_external_volumes,
            "compose_port_conflicts": compose_port_conflicts,
            "compose_suspects": compose_suspects,
            "config_check": config_check,
            "project_entries": project_entries,
        }
