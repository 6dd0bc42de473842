# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The reversible managed block of a shell profile, as the shell_profiles module plans and writes it
on the host; the client role's filters build its body with the same header."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.text.converters import to_text

CREATED_LINE = "# This file was created for this block only; removing the block removes the file."


class ProfileError(ValueError):
    """A block that cannot be written as asked."""


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


def plan(content, body, state="present", path=None, created_dirs=None, name=NAME):
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
        raise ProfileError("plan: state must be present or absent, not %r" % state)
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
            raise ProfileError("plan: directory %r cannot be recorded (space or line break)" % directory)
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
