# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Alertmanager's configuration, built as data from the alertmanager role's options.

Filter ``alertmanager_config(options)``

Options (a dict; the alertmanager role passes ``alertmanager__config_options``):
  webhook_urls         list of URLs, one webhook_configs entry each
  discord_webhook_url  a Discord webhook URL ('' for none)
  email_to             address alerts are mailed to ('' for none); needs
                       smtp_smarthost and email_from
  email_from, smtp_smarthost, smtp_require_tls
                       Alertmanager's global SMTP settings, written only
                       when email_to is set
  smtp_username, smtp_password
                       SMTP authentication, written only when a username
                       is given
  group_wait, group_interval, repeat_interval
                       timers of the one route

Example::

  {{ alertmanager__config_options | claude_code.observability.alertmanager_config
     | to_nice_yaml(indent=2, sort_keys=false) }}

Returns the configuration as a dict: ``global``, one ``route`` to the
receiver ``claude-code`` and ``receivers`` (that one receiver, with the
channels given; with none, alerts stay in Alertmanager's UI). Values are
written as given, so the rendered file does not change with the release that
builds it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common._collections_compat import Mapping, Sequence
from ansible.module_utils.six import string_types

RECEIVER = "claude-code"

DEFAULTS = {
    "webhook_urls": [],
    "discord_webhook_url": "",
    "email_to": "",
    "email_from": "",
    "smtp_smarthost": "",
    "smtp_username": "",
    "smtp_password": "",
    "smtp_require_tls": True,
    "group_wait": "30s",
    "group_interval": "5m",
    "repeat_interval": "4h",
}


def _fail(msg):
    raise AnsibleFilterError("alertmanager_config: " + msg)


def _options(spec):
    if not isinstance(spec, Mapping):
        _fail("expects a dict of options, got %s" % type(spec).__name__)
    unknown = sorted(set(spec) - set(DEFAULTS))
    if unknown:
        _fail("unknown option(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(DEFAULTS))))
    opts = dict(DEFAULTS)
    opts.update(spec)
    urls = opts["webhook_urls"] or []
    if isinstance(urls, string_types) or not isinstance(urls, Sequence):
        _fail("webhook_urls must be a list of URLs, got %r" % (urls,))
    opts["webhook_urls"] = list(urls)
    if opts["email_to"] and not (opts["smtp_smarthost"] and opts["email_from"]):
        _fail("email_to is set but smtp_smarthost (host:port) or email_from is empty: set both, or clear email_to")
    return opts


def alertmanager_config(spec):
    """The whole alertmanager.yml as a dict (see the module's docstring)."""
    opts = _options(spec)
    receiver = {"name": RECEIVER}
    if opts["webhook_urls"]:
        receiver["webhook_configs"] = [{"url": url} for url in opts["webhook_urls"]]
    if opts["discord_webhook_url"]:
        receiver["discord_configs"] = [{"webhook_url": opts["discord_webhook_url"]}]
    if opts["email_to"]:
        receiver["email_configs"] = [{"to": opts["email_to"]}]

    smtp = {}
    if opts["email_to"]:
        smtp["smtp_smarthost"] = opts["smtp_smarthost"]
        smtp["smtp_from"] = opts["email_from"]
        smtp["smtp_require_tls"] = opts["smtp_require_tls"]
        if opts["smtp_username"]:
            smtp["smtp_auth_username"] = opts["smtp_username"]
            smtp["smtp_auth_password"] = opts["smtp_password"]

    return {
        "global": smtp,
        "route": {
            "receiver": RECEIVER,
            "group_by": ["alertname", "user_id"],
            "group_wait": opts["group_wait"],
            "group_interval": opts["group_interval"],
            "repeat_interval": opts["repeat_interval"],
        },
        "receivers": [receiver],
    }


class FilterModule(object):
    def filters(self):
        return {"alertmanager_config": alertmanager_config}
