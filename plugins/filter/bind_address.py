# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""loopback(address): whether a bind address is reachable from this host only. Every component
decides from it what it publishes and what it asks for (plugins/filter/loopback.yml)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError


def loopback(address):
    """True for localhost, ::1 and 127.0.0.0/8; a wildcard or any other address is reachable from elsewhere."""
    if address is None:
        address = ""
    if not isinstance(address, str):
        raise AnsibleFilterError("loopback expects a bind address as text, got %r" % (address,))
    return address in ("localhost", "::1") or address.startswith("127.")


class FilterModule(object):
    def filters(self):
        return {"loopback": loopback}
