# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The marker of playbooks/verify.yml's test session, and the selector that leaves it out.

verify.yml sends its session as a Claude Code app of its own (resource
attribute ``service.name``), so no total counts it: the recording and alert
rules and the cost report select every other app, the dashboards offer only
Claude Code's apps in their App variable, and the OpenSearch saved objects
filter it out. It stays findable by that name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

VERIFY_SERVICE = "claude-code-verify"
# Prometheus: service.name is a label of every Claude Code sample (the collector copies resource attributes).
NOT_VERIFY = 'service_name!="%s"' % VERIFY_SERVICE


def without_verify(metric):
    """``metric`` as a PromQL selector that leaves verify.yml's session out."""
    return "%s{%s}" % (metric, NOT_VERIFY)
