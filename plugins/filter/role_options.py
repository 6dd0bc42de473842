# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A role's options typed from its argument spec, read from any mapping: another host's
hostvars, or a dict (plugins/plugin_utils/role_options.py has the rules)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.claude_code.observability.plugins.plugin_utils import role_options as _options


def role_options(variables, role, names=None):
    """The typed options of `role` (a role name, or an argument spec's options as a dict, for a
    playbook's own switches) read from `variables`; only `names` when given."""
    if variables is None:
        variables = {}
    if not isinstance(variables, Mapping):
        raise AnsibleFilterError("role_options expects the variables as a mapping, got %s" % type(variables).__name__)
    if names is not None and (isinstance(names, str) or not isinstance(names, (list, tuple))):
        raise AnsibleFilterError("role_options: names must be a list of option names, got %r" % (names,))
    try:
        if isinstance(role, Mapping):
            return _options.typed_options(dict(role), variables, names, "playbook's")
        return _options.role_options(role, variables, names)
    except ValueError as exc:  # RoleOptionsError too, and a spec that cannot be read
        raise AnsibleFilterError("%s" % exc) from None


class FilterModule(object):
    def filters(self):
        return {"role_options": role_options}
