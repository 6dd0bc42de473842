# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Writing files on the managed host the way every module of the collection does: owners by
name or number, modes as octal text, and atomic replacement."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import os
import pwd
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_text


class FileError(Exception):
    """A file that cannot be managed as asked; the message names the file and the fix."""


def resolve_id(value, kind):
    """A user or group id from a number or a name; -1 (leave as it is) for None."""
    if value is None or value == "":
        return -1
    try:
        return int(value)
    except ValueError:
        pass
    try:
        if kind == "user":
            return pwd.getpwnam(value).pw_uid
        return grp.getgrnam(value).gr_gid
    except (KeyError, AttributeError):
        raise FileError("%s %s does not exist" % (kind, value)) from None


def parse_mode(value, name):
    """An octal mode given as text ('0600') or as a number."""
    if isinstance(value, int):
        return value
    try:
        return int(to_text(value), 8)
    except ValueError:
        raise FileError("%s must be an octal number such as '0600', got %r" % (name, value)) from None


def temp_beside(real, data, uid, gid, mode):
    """Write data to a new file in the destination's directory (so a rename replaces it in one step)."""
    directory = os.path.dirname(real) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(real), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes(data, errors="surrogate_or_strict"))
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
            if uid != -1 or gid != -1:
                os.fchown(handle.fileno(), uid, gid)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def atomic_write(real, data, uid, gid, mode, check=None):
    """Write next to the destination and rename over it: a reader sees the old file or the new
    one, never half of one, and a failure leaves the old file as it was.

    check(tmp) runs before the rename; it raises to keep the old file."""
    tmp = temp_beside(real, data, uid, gid, mode)
    try:
        if check is not None:
            check(tmp)
        os.rename(tmp, real)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
