# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters for the client role: OTEL key=value lists, its shell profiles and the checks of its variables."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.claude_code.observability.plugins.plugin_utils.client_env import (
    otel_pct_encode,
    profile_env_block,
)

_KEY = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def otel_key_values(data):
    """Render a dict as 'k=v,k=v' (W3C baggage style), values percent-encoded, keys in given order."""
    if data is None:
        return ""
    if not isinstance(data, dict):
        raise AnsibleFilterError("otel_key_values expects a dict, got %s" % type(data).__name__)
    pairs = []
    for raw_key, raw in data.items():
        key = to_text(raw_key)
        if not _KEY.match(key):
            raise AnsibleFilterError(
                "%r cannot be an OpenTelemetry key: use letters, digits and '._-' (no spaces, ',', '=' or ';')" % key
            )
        if raw is None:
            continue
        value = ("true" if raw else "false") if isinstance(raw, bool) else raw
        pairs.append("%s=%s" % (key, otel_pct_encode(value)))
    return ",".join(pairs)


def otel_headers(data):
    """Render a dict of HTTP headers as 'k=v,k=v' for OTEL_EXPORTER_OTLP_HEADERS.

    Claude Code splits this value on ',' and at the first '=' but does not percent-decode it
    (tested with 2.1.330: 'Bearer%20x' is sent as it stands), so values are written raw and a
    value holding a comma is refused rather than silently cut in two.
    """
    if data is None:
        return ""
    if not isinstance(data, dict):
        raise AnsibleFilterError("otel_headers expects a dict, got %s" % type(data).__name__)
    pairs = []
    for raw_key, raw in data.items():
        key = to_text(raw_key)
        if not _KEY.match(key):
            raise AnsibleFilterError("%r cannot be an HTTP header name" % key)
        value = to_text(raw)
        if "," in value or "\n" in value or "\r" in value:
            raise AnsibleFilterError(
                "the value of header %s holds a comma or a line break, which OTEL_EXPORTER_OTLP_HEADERS cannot carry"
                % key
            )
        pairs.append("%s=%s" % (key, value))
    return ",".join(pairs)


def profile_spec(shell, files, env, create_shells=None):
    """One entry of the shell_profiles module for a shell: its profile (relative to the home),
    the block's body for that shell, and whether to create the profile when it is missing."""
    if shell not in (files or {}):
        raise AnsibleFilterError(
            "profile_spec: no profile file is known for the shell %r; add it to client_shell_profile_files" % (shell,)
        )
    return {"path": files[shell], "body": profile_env_block(env or {}, shell), "create": shell in (create_shells or [])}


_SHELLS = ("bash", "zsh", "fish")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def client_problems(settings):
    """Every problem of the client role's variables that the argument spec cannot express, each
    message naming the variable and the fix. Values of headers are never repeated (secrets)."""
    problems = []
    shells = settings.get("client_shells", "auto")
    if shells != "auto":
        if isinstance(shells, (str, bytes)) or not isinstance(shells, (list, tuple)):
            problems.append("client_shells must be auto or a list of bash, zsh, fish; got %r." % (shells,))
        else:
            for shell in shells:
                if shell not in _SHELLS:
                    problems.append(
                        "client_shells: %r is not a shell this role writes; use bash, zsh or fish." % (shell,)
                    )
    headers = settings.get("client_otlp_headers") or {}
    if isinstance(headers, dict):
        for raw_key, raw_value in headers.items():
            key, value = to_text(raw_key), to_text(raw_value)
            if not _KEY.match(key):
                problems.append("client_otlp_headers: %r is not an HTTP header name (letters, digits, '-')." % key)
                continue
            if "\n" in value or "\r" in value:
                problems.append(
                    "client_otlp_headers: the value of %s holds a line break, which would end the variable and "
                    "inject new lines into profiles and requests. Remove the line break (the value was not written)."
                    % key
                )
            elif "," in value:
                problems.append(
                    "client_otlp_headers: the value of %s holds a comma; OTEL_EXPORTER_OTLP_HEADERS splits on "
                    "commas and Claude Code does not percent-decode it. Remove the comma." % key
                )
    for var in ("client_resource_attributes", "client_resource_attributes_extra"):
        attrs = settings.get(var) or {}
        if not isinstance(attrs, dict):
            problems.append("%s must be a dict of attribute: value." % var)
            continue
        for key in attrs:
            if not _KEY.match(to_text(key)):
                problems.append(
                    "%s: %r cannot be an OpenTelemetry key; use letters, digits and '._-' (no spaces, ',', '=' or ';')."
                    % (var, to_text(key))
                )
    extra = settings.get("client_extra_env") or {}
    if isinstance(extra, dict):
        for key in extra:
            if not _ENV_NAME.match(to_text(key)):
                problems.append(
                    "client_extra_env: %r is not an environment variable name (letters, digits, '_', not starting "
                    "with a digit)." % to_text(key)
                )
    for var in ("client_metric_export_interval", "client_logs_export_interval", "client_reachability_timeout"):
        value = settings.get(var)
        try:
            number = None if isinstance(value, bool) else int(to_text(value).strip())
        except ValueError:
            number = None
        if value is not None and (number is None or number <= 0):
            problems.append("%s must be a whole number greater than 0, got %r." % (var, value))
    endpoint = to_text(settings.get("client_otlp_endpoint") or "")
    if endpoint and (not re.match(r"^https?://[^\s/]+", endpoint) or re.search(r"\s", endpoint)):
        problems.append(
            "client_otlp_endpoint must be an http:// or https:// URL without spaces, such as "
            "http://collector.lan:4318; got %r." % endpoint
        )
    for var in ("client_user_settings_file",):
        rel = to_text(settings.get(var) or "")
        if rel.startswith("/") or ".." in rel.split("/"):
            problems.append("%s is relative to each home and may not start with '/' or hold '..'; got %r." % (var, rel))
    return problems


class FilterModule(object):
    def filters(self):
        return {
            "otel_key_values": otel_key_values,
            "otel_headers": otel_headers,
            "profile_spec": profile_spec,
            "client_problems": client_problems,
        }
