#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done by the action plugin of the same name (plugins/action/role_options.py) on the
# controller; this file documents it.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: role_options
short_description: Check a role's options and set them, typed, as the fact C(<role>__opts)
version_added: "1.0.0"
description:
  - The first task of a role of this collection. Reads the options of the role's C(main) entry point from its
    C(meta/argument_specs.yml), takes each one's value as the role sees it (defaults, inventory, role and include
    parameters, extra variables; templated), converts it once to the type the spec declares and sets the result as the
    fact C(<role>__opts). The role's tasks, variables and templates read C(<role>__opts.<option>), never the variable as
    it was given.
  - This matters for values given on the command line, which are text - C(-e client_log_user_prompts=false) is the
    string C(false), which a template treats as true. Booleans take what Ansible's own boolean conversion takes
    (true/false, yes/no, on/off, 1/0, any case), whole numbers also as text (C(4318)).
  - An absent or null (empty) value takes the spec's default, templated (C({{ inventory_hostname }}) in it is the
    host's name); a null without a default stays null, and a required option without one is refused. A list refuses
    a bare string unless the option's description says C(A single string is taken as a one-item list.); a dict takes
    a mapping (or JSON text); C(choices) are checked after the conversion; nested C(options) and C(elements) are
    checked the same way.
  - Every problem is reported at once, each naming the variable, what it got and what it expects; the task fails
    before the role has touched anything. Values of C(no_log) options are never shown, and a result that holds one is
    censored.
  - The fact has a name of its own because a fact cannot override an extra variable of the same name.
  - To read another host's options (for example the server's C(otel_collector_*) options from a client), use the
    P(claude_code.observability.role_options#filter) filter on its C(hostvars).
  - Runs on the controller; needs no connection to the host.
author:
  - claude_code.observability maintainers (@claude-code-observability)
options:
  role:
    description:
      - The role whose options to read, by its short name (C(client)) or its FQCN
        (C(claude_code.observability.client)). It must be a role of this collection.
    type: str
    required: true
attributes:
  check_mode:
    description: Runs the same in check mode; it changes nothing.
    support: full
  diff_mode:
    description: Nothing to show; it changes nothing.
    support: none
  platform:
    description: Runs on the controller.
    support: full
    platforms: all
notes:
  - A fact can be kept in a fact cache. The result of a run whose options hold a secret is censored, but the fact
    itself holds it like the variable does; with a persistent fact cache, keep that cache as private as the inventory.
seealso:
  - plugin: claude_code.observability.role_options
    plugin_type: filter
"""

EXAMPLES = r"""
# roles/client/tasks/main.yml: the first task; then read client__opts.client_log_user_prompts and so on.
- name: Check the role's options and type them
  claude_code.observability.role_options:
    role: client

- name: Write only when asked
  ansible.builtin.debug:
    msg: "Prompts are logged"
  when: client__opts.client_log_user_prompts
"""

RETURN = r"""
ansible_facts:
  description: The typed options, as the fact C(<role>__opts).
  returned: success
  type: dict
  contains:
    <role>__opts:
      description: Option name to its typed value, for every option of the role's C(main) entry point.
      type: dict
      sample: {"client_log_user_prompts": false, "client_otlp_port": 4318, "client_targets": ["user_settings"]}
problems:
  description: One message per variable that cannot be used, naming it, what it got and what it expects.
  returned: failure
  type: list
  elements: str
  sample:
    - "client_log_user_prompts must be true or false (also yes/no, on/off or 1/0, in any case); got 'maybe'."
"""
