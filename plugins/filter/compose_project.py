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
would otherwise replace the other without a word.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common._collections_compat import Mapping, Sequence
from ansible.module_utils.six import string_types

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
    return project


def _pulled_services(result, msg):
    """Services compose was pulling an image for when it failed."""
    services = set()
    if isinstance(result, Mapping):
        for action in result.get("actions") or []:
            if isinstance(action, Mapping) and action.get("what") == "image" and action.get("id"):
                services.add(action["id"])
    services.update(re.findall(r"Error when processing (?:image )?([^\s:]+):", msg))
    return services


def compose_failure(result, parts):
    """Compose's error (the failed task's result, or its message), with the images it could not
    pull traced back to the variable that sets each.

    A component role publishes its service with the image of ``<role>_image``; an
    image that cannot be pulled (no registry reachable, a typo, a mirror not
    logged in) is then named with that variable, so the fix is one line of
    inventory.
    """
    msg = "%s" % (result.get("msg", result) if isinstance(result, Mapping) else result,)
    pulled = _pulled_services(result, msg)
    named = []
    for part in parts or []:
        if not isinstance(part, Mapping) or not part.get("role"):
            continue
        for service, spec in (part.get("services") or {}).items():
            image = spec.get("image") if isinstance(spec, Mapping) else None
            if image and (service in pulled or image in msg):
                named.append((image, service, "%s_image" % part["role"]))
    if not named:
        return "docker compose failed: %s" % msg
    lines = [
        "docker compose could not get the image %s of the %s service: set %s to an image this host can pull "
        "(a mirror or a local registry), or load it with docker load and set stack_pull: never." % entry
        for entry in named
    ]
    return "\n".join(lines + ["docker compose said: %s" % msg])


class FilterModule(object):
    def filters(self):
        return {"compose_project": compose_project, "compose_failure": compose_failure}
