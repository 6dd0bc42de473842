# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Basic auth and TLS of a component's web port, in the web configuration file
format Prometheus and Alertmanager read (--web.config.file), and what a client
of that port needs.

web_config(options)               the web configuration file as data
web_password_hash(password, now)  a bcrypt hash of password: `now` itself when it already is one of it
basic_auth_token(user, password)  the base64 credentials of an Authorization: Basic header
subject_alt_names(names)          DNS:/IP: entries of a server certificate from names and addresses
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import ipaddress

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common._collections_compat import Mapping
from ansible.module_utils.six import string_types

try:
    import bcrypt
except ImportError:  # pragma: no cover - requirements.txt installs it
    bcrypt = None

OPTIONS = ("user", "password_hash", "cert_file", "key_file")


def _text(value, what):
    if value is None:
        return ""
    if not isinstance(value, string_types):
        raise AnsibleFilterError("%s must be text, got %s" % (what, type(value).__name__))
    return value


def web_config(options):
    """{user, password_hash, cert_file, key_file} (paths inside the container)
    -> the web configuration file. A user needs its hash; a certificate its key."""
    if not isinstance(options, Mapping):
        raise AnsibleFilterError("web_config expects a dict of options, got %s" % type(options).__name__)
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise AnsibleFilterError(
            "web_config: unknown option(s) %s; known: %s" % (", ".join(unknown), ", ".join(OPTIONS))
        )
    opts = dict((key, _text(options.get(key), "web_config: " + key)) for key in OPTIONS)
    if bool(opts["cert_file"]) != bool(opts["key_file"]):
        raise AnsibleFilterError("web_config: cert_file and key_file go together")
    if bool(opts["user"]) != bool(opts["password_hash"]):
        raise AnsibleFilterError("web_config: a user needs its password_hash (and a hash its user)")
    if opts["password_hash"] and not opts["password_hash"].startswith(("$2a$", "$2b$", "$2y$")):
        raise AnsibleFilterError("web_config: password_hash must be a bcrypt hash (web_password_hash makes one)")
    config = {}
    if opts["cert_file"]:
        config["tls_server_config"] = {"cert_file": opts["cert_file"], "key_file": opts["key_file"]}
    if opts["user"]:
        config["basic_auth_users"] = {opts["user"]: opts["password_hash"]}
    return config


def web_password_hash(password, now=""):
    """A bcrypt hash of password. When `now` (the hash on disk) already is a
    hash of it, `now` itself, so a second run writes nothing."""
    password = _text(password, "web_password_hash: the password")
    now = _text(now, "web_password_hash: the current hash")
    if not password:
        raise AnsibleFilterError("web_password_hash: the password is empty")
    if bcrypt is None:
        raise AnsibleFilterError(
            "web_password_hash needs the Python package bcrypt on the controller (pip install bcrypt)"
        )
    secret = password.encode("utf-8")
    if len(secret) > 72:
        raise AnsibleFilterError("web_password_hash: bcrypt reads at most 72 bytes of a password; use a shorter one")
    if now:
        try:
            if bcrypt.checkpw(secret, now.encode("ascii")):
                return now
        except ValueError:
            pass  # not a bcrypt hash: make one
    return bcrypt.hashpw(secret, bcrypt.gensalt(rounds=10)).decode("ascii")


def basic_auth_token(user, password):
    user = _text(user, "basic_auth_token: the user")
    password = _text(password, "basic_auth_token: the password")
    if ":" in user:
        raise AnsibleFilterError("basic_auth_token: a user name cannot hold ':'")
    return base64.b64encode(("%s:%s" % (user, password)).encode("utf-8")).decode("ascii")


def subject_alt_names(names):
    """Each name or address once, in order, as DNS:name or IP:address; entries
    that already say which they are are kept; wildcard listen addresses and
    empty ones are left out."""
    out = []
    for given in names or []:
        name = _text(given, "subject_alt_names: an entry").strip()
        if not name or name in ("0.0.0.0", "::"):
            continue
        if name.startswith(("DNS:", "IP:")):
            entry = name
        else:
            try:
                entry = "IP:%s" % ipaddress.ip_address(name.strip("[]"))
            except ValueError:
                entry = "DNS:%s" % name
        if entry not in out:
            out.append(entry)
    return out


class FilterModule(object):
    def filters(self):
        return {
            "web_config": web_config,
            "web_password_hash": web_password_hash,
            "basic_auth_token": basic_auth_token,
            "subject_alt_names": subject_alt_names,
        }
