# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The client role's environment as text, for its filters (plugins/filter/otel_env.py).

otel_pct_encode(value)         one value of OTEL_RESOURCE_ATTRIBUTES, percent-encoded
profile_env_lines(env, shell)  lines that export every variable, in bash/zsh or fish syntax
profile_env_block(env, shell)  the body of the managed block of a shell profile
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    from shlex import quote as sh_quote
except ImportError:  # pragma: no cover - Python 2
    from pipes import quote as sh_quote

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible_collections.claude_code.observability.plugins.module_utils.shell_profile import BLOCK_HEADER

# W3C baggage: a value may hold printable ASCII except space, '"', ',', ';' and '\'. '%' starts an
# escape and '=' splits key from value in the OpenTelemetry parsers, so both are escaped as well.
_SAFE = frozenset(b"!#$&'()*+-./0123456789:<>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~")


def otel_pct_encode(value):
    """Percent-encode one value for OTEL_RESOURCE_ATTRIBUTES (not for OTEL_EXPORTER_OTLP_HEADERS: see otel_headers)."""
    out = []
    for byte in bytearray(to_bytes(to_text(value), errors="surrogate_or_strict")):
        out.append(chr(byte) if byte in _SAFE else "%%%02X" % byte)
    return "".join(out)


def _fish_quote(value):
    # Inside fish single quotes only backslash and the quote itself are special.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def profile_env_lines(env, shell):
    """Shell lines that export every key of env: POSIX 'export K=V' or fish 'set -gx K V'."""
    if not isinstance(env, dict):
        raise AnsibleFilterError("profile_env_lines expects a dict, got %s" % type(env).__name__)
    lines = []
    for raw_key, raw in env.items():
        key = to_text(raw_key)
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise AnsibleFilterError("%r is not a valid environment variable name" % key)
        value = to_text(raw)
        if shell == "fish":
            lines.append("set -gx %s %s" % (key, _fish_quote(value)))
        elif shell in ("bash", "zsh", "sh"):
            lines.append("export %s=%s" % (key, sh_quote(value)))
        else:
            raise AnsibleFilterError("profile_env_lines: unknown shell %r (bash, zsh, fish)" % shell)
    return "\n".join(lines) + ("\n" if lines else "")


def profile_env_block(env, shell):
    """The body of the managed block: a comment line, then one export per variable.

    Every line is built here rather than in a template, so that no escape sequence depends on
    how a template engine treats backslashes (a literal '\\n' once glued the first export onto the
    comment, and telemetry stayed off).
    """
    return BLOCK_HEADER + "\n" + profile_env_lines(env, shell)
