# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters for the client role: OTEL key=value lists and reversible shell-profile blocks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    from shlex import quote as sh_quote
except ImportError:  # pragma: no cover - Python 2
    from pipes import quote as sh_quote

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_bytes, to_text

# W3C baggage: a value may hold printable ASCII except space, '"', ',', ';' and '\'. '%' starts an
# escape and '=' splits key from value in the OpenTelemetry parsers, so both are escaped as well.
_SAFE = frozenset(b"!#$&'()*+-./0123456789:<>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~")
_KEY = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")

CREATED_LINE = "# This file was created for this block only; removing the block removes the file."


def otel_pct_encode(value):
    """Percent-encode one value for OTEL_RESOURCE_ATTRIBUTES / OTEL_EXPORTER_OTLP_HEADERS."""
    out = []
    for byte in bytearray(to_bytes(to_text(value), errors="surrogate_or_strict")):
        out.append(chr(byte) if byte in _SAFE else "%%%02X" % byte)
    return "".join(out)


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


def parent_dirs(relative_path):
    """'.config/fish/config.fish' -> ['.config', '.config/fish']: the directories to create, outermost first."""
    parts = [p for p in to_text(relative_path).split("/")[:-1] if p and p != "."]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _markers(name):
    return "# >>> %s (managed by Ansible) >>>\n" % name, "# <<< %s <<<\n" % name


def profile_block(content, block, state="present", name="claude_code.observability"):
    """Return the new text of a shell profile holding (or no longer holding) one managed block.

    content is the current text, or None when the file does not exist. The result is None when
    the file should be deleted. Removal gives back exactly the bytes there were before the block
    was first inserted: the one newline put in front of the block is taken out with it, and a file
    that only existed for the block goes away.
    """
    begin, end = _markers(name)
    text = content
    created = False
    before = after = ""
    if text is not None:
        start = text.find(begin)
        stop = text.find(end, start + len(begin)) if start != -1 else -1
        if start != -1 and stop != -1:
            created = CREATED_LINE + "\n" in text[start:stop]
            before = text[:start]
            after = text[stop + len(end) :]
            if before:
                before = before[:-1] if before.endswith("\n") else before
        else:
            before = text
    if state == "absent":
        if text is None:
            return None
        remaining = before + after
        if created and remaining == "":
            return None
        return remaining
    if state != "present":
        raise AnsibleFilterError("profile_block: state must be present or absent, not %r" % state)
    if text is None:
        created = True
    body = to_text(block)
    if body and not body.endswith("\n"):
        body += "\n"
    lines = begin + (CREATED_LINE + "\n" if created else "") + body + end
    return before + ("\n" if before else "") + lines + after


class FilterModule(object):
    def filters(self):
        return {
            "otel_pct_encode": otel_pct_encode,
            "otel_key_values": otel_key_values,
            "otel_headers": otel_headers,
            "profile_block": profile_block,
            "profile_env_lines": profile_env_lines,
            "parent_dirs": parent_dirs,
        }
