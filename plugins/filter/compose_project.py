# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The stack's compose project, merged from what each component role published.

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


class FilterModule(object):
    def filters(self):
        return {"compose_project": compose_project}
