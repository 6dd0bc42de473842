# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""OpenSearch Dashboards' opensearch_dashboards.yml, built as data from the opensearch_dashboards role's options.

Filter ``opensearch_dashboards_config(options)``

Options (a dict; the opensearch_dashboards role passes ``opensearch_dashboards__config_options``):
  opensearch_url       the OpenSearch REST API as the container reaches it
                       (``http(s)://host:port``)
  username             the user OpenSearch Dashboards logs in to OpenSearch
                       with; empty when OpenSearch's security plugin is off
                       (the security dashboards plugin is then removed, so no
                       ``opensearch_security.*`` setting may be written)
  password_env         the environment variable that holds that user's
                       password; the file says ``${<password_env>}``, which
                       OpenSearch Dashboards replaces when it reads its
                       config, so the password is never in the file
  https_with_security  the URL's scheme follows the security plugin: https
                       with a username, http without (the stack's OpenSearch,
                       whose address the placement gives as http://)
  verification_mode    ``none``, ``certificate`` or ``full``, written for an
                       https URL only; empty is ``full``
  workspace            turn the workspace feature on (``workspace.enabled``
                       and the new home page it needs; with the security
                       plugin, multi-tenancy stays off as the workspace
                       documentation requires)
  settings             more settings, as opensearch_dashboards.yml names them
                       (dotted keys); each replaces the one built here

Example::

  {{ opensearch_dashboards__config_options | claude_code.observability.opensearch_dashboards_config
     | to_nice_yaml(indent=2, sort_keys=false) }}

Returns the settings as a dict with dotted keys, in a fixed order, so the
rendered file (and the config-hash label made from it) only changes when an
option does.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common._collections_compat import Mapping
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.module_utils.six import string_types

DEFAULTS = {
    "opensearch_url": "",
    "username": "",
    "password_env": "OSD_OPENSEARCH_PASSWORD",
    "https_with_security": False,
    "verification_mode": "",
    "workspace": True,
    "settings": {},
}
MODES = ("none", "certificate", "full")
URL = re.compile(r"^(https?)://([^/\s]+?)/?$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The port inside the container; the host port is the compose service's business.
PORT = 5601


def _fail(msg):
    raise AnsibleFilterError("opensearch_dashboards_config: " + msg)


def _bool(opts, key):
    try:
        return boolean(opts[key], strict=True)
    except TypeError:
        _fail("%s must be true or false, got %r" % (key, opts[key]))


def _options(spec):
    if not isinstance(spec, Mapping):
        _fail("expects a dict of options, got %s" % type(spec).__name__)
    unknown = sorted(set(spec) - set(DEFAULTS))
    if unknown:
        _fail("unknown option(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(DEFAULTS))))
    opts = dict(DEFAULTS)
    opts.update({key: value for key, value in spec.items() if value is not None})
    for key in ("opensearch_url", "username", "password_env", "verification_mode"):
        if not isinstance(opts[key], string_types):
            _fail("%s must be a string, got %r" % (key, opts[key]))
    for key in ("https_with_security", "workspace"):
        opts[key] = _bool(opts, key)
    if not isinstance(opts["settings"], Mapping):
        _fail("settings must be a dict of opensearch_dashboards.yml settings, got %r" % (opts["settings"],))
    if opts["verification_mode"] and opts["verification_mode"] not in MODES:
        _fail("verification_mode must be one of %s, got %r" % (", ".join(MODES), opts["verification_mode"]))
    if opts["username"] and not ENV_NAME.match(opts["password_env"]):
        _fail("password_env must be an environment variable name, got %r" % (opts["password_env"],))
    return opts


def _url(opts):
    match = URL.match(opts["opensearch_url"].strip())
    if not match:
        _fail(
            "opensearch_url must be the base URL of OpenSearch's REST API, e.g. https://opensearch:9200, got %r"
            % (opts["opensearch_url"],)
        )
    scheme, authority = match.groups()
    if opts["https_with_security"]:
        scheme = "https" if opts["username"] else "http"
    return "%s://%s" % (scheme, authority)


def opensearch_dashboards_config(spec):
    """The settings of opensearch_dashboards.yml for these options."""
    opts = _options(spec)
    url = _url(opts)
    secured = bool(opts["username"])
    config = {
        "server.name": "opensearch-dashboards",
        # Inside the container: every interface, the published port decides who reaches it.
        "server.host": "0.0.0.0",
        "server.port": PORT,
        "opensearch.hosts": [url],
    }
    if secured:
        config["opensearch.username"] = opts["username"]
        config["opensearch.password"] = "${%s}" % opts["password_env"]
        config["opensearch.requestHeadersWhitelist"] = ["authorization", "securitytenant"]
    if url.startswith("https://"):
        config["opensearch.ssl.verificationMode"] = opts["verification_mode"] or "full"
    if secured:
        # Workspaces replace the security plugin's tenants; served over plain HTTP, so the
        # session cookie cannot be a secure one.
        config["opensearch_security.multitenancy.enabled"] = False
        config["opensearch_security.cookie.secure"] = False
    if opts["workspace"]:
        config["workspace.enabled"] = True
        config["uiSettings"] = {"overrides": {"home:useNewHomePage": True}}
    for key, value in opts["settings"].items():
        if not isinstance(key, string_types) or not key:
            _fail("settings keys must be setting names, got %r" % (key,))
        config[key] = value
    if not secured:
        stray = sorted(key for key in config if key.startswith("opensearch_security"))
        if stray:
            _fail(
                "%s set, but OpenSearch's security plugin is off (no username): the security dashboards plugin is "
                "removed then and OpenSearch Dashboards refuses its settings" % ", ".join(stray)
            )
    return config


class FilterModule(object):
    def filters(self):
        return {"opensearch_dashboards_config": opensearch_dashboards_config}
