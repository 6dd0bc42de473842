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
    """Percent-encode one value for OTEL_RESOURCE_ATTRIBUTES (not for OTEL_EXPORTER_OTLP_HEADERS: see otel_headers)."""
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


NAME = "claude_code.observability"
BLOCK_HEADER = "# Claude Code telemetry for the observability stack; remove with client_state=absent."
# The directories made for a profile the block created are listed in the block itself, so that
# removal takes out exactly those (when empty) and never a directory that was there before.
DIRS_PREFIX = "# Directories created for this file (removed with it when empty): "


def _markers(name):
    return "# >>> %s (managed by Ansible) >>>\n" % name, "# <<< %s <<<\n" % name


def profile_env_block(env, shell):
    """The body of the managed block: a comment line, then one export per variable.

    Every line is built here rather than in a template, so that no escape sequence depends on
    how a template engine treats backslashes (a literal '\\n' once glued the first export onto the
    comment, and telemetry stayed off).
    """
    return BLOCK_HEADER + "\n" + profile_env_lines(env, shell)


def _marker_lines(lines, name):
    begin_prefix, end_prefix = "# >>> " + name, "# <<< " + name
    begins = [i for i, line in enumerate(lines) if line.lstrip().startswith(begin_prefix)]
    ends = [i for i, line in enumerate(lines) if line.lstrip().startswith(end_prefix)]
    return begins, ends


def _marker_problem(lines, begins, ends, name, path):
    begin, end = _markers(name)
    begin, end = begin.strip(), end.strip()
    if not begins and not ends:
        return None
    if len(begins) == 1 and len(ends) == 1 and begins[0] < ends[0]:
        return None
    if len(begins) > 1 or len(ends) > 1:
        found = ", ".join(str(i + 1) for i in sorted(begins + ends))
        what = "holds more than one %s marker (lines %s)" % (name, found)
        fix = "keep one block (from '%s' to '%s') and delete the other marker lines" % (begin, end)
    elif begins and not ends:
        what = "has the begin marker '%s' on line %d but no end marker" % (begin, begins[0] + 1)
        fix = "delete that line (and the exports below it that belong to it), or put '%s' after the block" % end
    elif ends and not begins:
        what = "has the end marker '%s' on line %d but no begin marker" % (end, ends[0] + 1)
        fix = "delete that line, or put '%s' before the block" % begin
    else:
        what = "has its end marker (line %d) before its begin marker (line %d)" % (ends[0] + 1, begins[0] + 1)
        fix = "put the lines back in order or delete both markers"
    return "%s %s. The file was left untouched. To fix: %s, then run again." % (path or "The profile", what, fix)


def profile_plan(content, body, state="present", path=None, created_dirs=None, name=NAME):
    """Plan the edit of one shell profile; never raises for the file's content.

    Returns a dict: text (the new content, None when the file is to be deleted), error (a message
    naming the file and the fix when the markers are not exactly one begin followed by one end;
    the file must then be left alone), remove_dirs (directories, relative as given, innermost
    first, that were created for this file and go with it).

    Removal gives back exactly the bytes there were before the block was first inserted: the one
    newline put in front of the block is taken out with it, and a file that only existed for the
    block goes away.
    """
    result = {"text": content, "error": None, "remove_dirs": []}
    if state not in ("present", "absent"):
        raise AnsibleFilterError("profile_plan: state must be present or absent, not %r" % state)
    begin, end = _markers(name)
    created = False
    dirs = []
    before = after = ""
    if content is not None:
        lines = content.splitlines(True)
        begins, ends = _marker_lines(lines, name)
        problem = _marker_problem(lines, begins, ends, name, path)
        if problem:
            result["error"] = problem
            return result
        if begins:
            block = lines[begins[0] : ends[0] + 1]
            created = CREATED_LINE + "\n" in block
            for line in block:
                if line.startswith(DIRS_PREFIX):
                    dirs = [d for d in line[len(DIRS_PREFIX) :].strip().split(" ") if d]
            before = "".join(lines[: begins[0]])
            after = "".join(lines[ends[0] + 1 :])
            if before:
                before = before[:-1] if before.endswith("\n") else before
        else:
            before = content
    if state == "absent":
        if content is None:
            result["text"] = None
            return result
        remaining = before + after
        if created and remaining == "":
            result["text"] = None
            result["remove_dirs"] = list(reversed(dirs))
            return result
        result["text"] = remaining
        return result
    if content is None:
        created = True
        dirs = [to_text(d) for d in (created_dirs or [])]
    for directory in dirs:
        if " " in directory or "\n" in directory:
            raise AnsibleFilterError("profile_plan: directory %r cannot be recorded (space or line break)" % directory)
    text = to_text(body)
    if text and not text.endswith("\n"):
        text += "\n"
    head = begin
    if created:
        head += CREATED_LINE + "\n"
        if dirs:
            head += DIRS_PREFIX + " ".join(dirs) + "\n"
    result["text"] = before + ("\n" if before else "") + head + text + end + after
    return result


def profile_block(content, block, state="present", name=NAME):
    """profile_plan's text, raising on stray or duplicated markers (for callers without a path)."""
    plan = profile_plan(content, block, state, name=name)
    if plan["error"]:
        raise AnsibleFilterError(plan["error"])
    return plan["text"]


def path_problem(lstat, parent=None, home=None, path=None, what="file", readable=None):
    """Why a file may not be written, from ansible.builtin.stat results (lstat: follow=false of the
    file; parent: its directory; home: the fallback when the directory is still to be created).
    Empty string when it may. Read-only means no write bit at all: root could write anyway, but
    the owner made it so on purpose."""
    lstat = lstat or {}
    if lstat.get("exists"):
        if lstat.get("islnk") and readable is False:
            return (
                "%s is a symbolic link to %s, which does not exist. It was left untouched. Create the target (for "
                "example with your dotfile manager) or remove the link, then run again."
                % (path, lstat.get("lnk_source"))
            )
        if lstat.get("islnk"):
            # The link itself is kept; its target (a dotfile manager's copy) is what gets written.
            return ""
        if not lstat.get("isreg"):
            return (
                "%s is not a regular file. It was left untouched; move it aside or fix the path, then run again." % path
            )
        if not (lstat.get("wusr") or lstat.get("wgrp") or lstat.get("woth")):
            return (
                "%s is read-only (mode %s). It was left untouched. Make it writable (chmod u+w %s) or leave this %s "
                "out of client_targets, then run again." % (path, lstat.get("mode"), path, what)
            )
        return ""
    for directory in (parent, home):
        if directory and directory.get("exists"):
            if not (directory.get("wusr") or directory.get("wgrp") or directory.get("woth")):
                where = directory.get("path", "its directory")
                return (
                    "%s cannot be created: %s is read-only (mode %s). Nothing was written. Make it writable "
                    "(chmod u+w %s) or leave this %s out of client_targets, then run again."
                    % (path, where, directory.get("mode"), where, what)
                )
            return ""
    return ""


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
            "otel_pct_encode": otel_pct_encode,
            "otel_key_values": otel_key_values,
            "otel_headers": otel_headers,
            "profile_block": profile_block,
            "profile_plan": profile_plan,
            "profile_env_lines": profile_env_lines,
            "profile_env_block": profile_env_block,
            "path_problem": path_problem,
            "client_problems": client_problems,
            "parent_dirs": parent_dirs,
        }
