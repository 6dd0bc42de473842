# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The first task of a role: its options typed once, as the fact <role>__opts (see
plugins/modules/role_options.py for the documentation, plugins/plugin_utils/role_options.py
for the rules)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.plugins.action import ActionBase
from ansible_collections.claude_code.observability.plugins.plugin_utils.role_options import (
    RoleOptionsError,
    load_options,
    role_name,
    role_options,
)

try:
    from ansible.template import trust_as_template
except ImportError:  # pragma: no cover - before ansible-core 2.19 every string is a template

    def trust_as_template(value):
        return value


def _trusted(value):
    """A spec default as a template: "{{ inventory_hostname }}" in it is templated."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, Mapping):
        return dict((key, _trusted(item)) for key, item in value.items())
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    return value


def _secret_set(options, values):
    """Whether an option the spec marks no_log holds something (the result is then censored)."""
    for name, raw_spec in options.items():
        spec = raw_spec or {}
        value = values.get(name) if isinstance(values, Mapping) else None
        if spec.get("no_log") and value not in (None, "", [], {}):
            return True
        if spec.get("options") and isinstance(value, Mapping) and _secret_set(spec["options"], value):
            return True
        if spec.get("options") and isinstance(value, list):
            if any(_secret_set(spec["options"], item) for item in value):
                return True
    return False


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("role",))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = self.validate_argument_spec(argument_spec={"role": {"type": "str", "required": True}})[1]
        role = role_name(args["role"])
        try:
            options = load_options(role)
        except ValueError as exc:
            result.update(failed=True, msg="%s" % exc)
            return result
        # The role's variables as the role sees them (defaults, inventory, role and include
        # params, extra vars), templated: the values the role would otherwise read.
        given = dict((name, task_vars[name]) for name in options if name in task_vars)
        given = self._templar.template(given)
        try:
            typed = role_options(role, given, resolve_default=lambda value: self._templar.template(_trusted(value)))
        except RoleOptionsError as exc:
            result.update(failed=True, msg="%s" % exc, problems=exc.problems)
            return result
        result["changed"] = False
        result["ansible_facts"] = {"%s__opts" % role: typed}
        if _secret_set(options, typed):
            result["_ansible_no_log"] = True
        return result
