"""Basic auth and TLS of a component's web port (Prometheus' and Alertmanager's web.config.file)."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import bcrypt
import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import web_security as ws  # noqa: E402

pytestmark = pytest.mark.unit


def test_a_hash_is_made_once_and_kept_while_the_password_stays():
    first = ws.web_password_hash("s3cret pass")
    assert bcrypt.checkpw(b"s3cret pass", first.encode())
    assert ws.web_password_hash("s3cret pass", first) == first  # a second run writes nothing
    changed = ws.web_password_hash("another", first)
    assert changed != first and bcrypt.checkpw(b"another", changed.encode())
    # Whatever is on disk that is not a bcrypt hash of it is replaced.
    assert bcrypt.checkpw(b"x", ws.web_password_hash("x", "not a hash").encode())


@pytest.mark.parametrize(
    ("password", "message"),
    [("", "password is empty"), ("p" * 73, "at most 72 bytes"), (5, "must be text")],
)
def test_a_password_bcrypt_cannot_take_is_refused(password, message):
    with pytest.raises(AnsibleFilterError, match=message):
        ws.web_password_hash(password)


def test_the_file_holds_what_was_asked_and_nothing_else():
    digest = ws.web_password_hash("pw")
    both = ws.web_config({"user": "claude-code", "password_hash": digest, "cert_file": "c.crt", "key_file": "c.key"})
    assert both == {
        "tls_server_config": {"cert_file": "c.crt", "key_file": "c.key"},
        "basic_auth_users": {"claude-code": digest},
    }
    assert ws.web_config({"cert_file": "c.crt", "key_file": "c.key"}) == {
        "tls_server_config": {"cert_file": "c.crt", "key_file": "c.key"}
    }
    assert ws.web_config({"user": "u", "password_hash": digest}) == {"basic_auth_users": {"u": digest}}
    assert ws.web_config({}) == {}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cert_file": "c.crt"}, "cert_file and key_file go together"),
        ({"user": "u"}, "needs its password_hash"),
        ({"user": "u", "password_hash": "plain"}, "must be a bcrypt hash"),
        ({"users": "u"}, "unknown option"),
        ("user", "expects a dict"),
    ],
)
def test_a_half_given_config_is_refused(options, message):
    with pytest.raises(AnsibleFilterError, match=message):
        ws.web_config(options)


def test_the_basic_header_decodes_to_user_and_password():
    token = ws.basic_auth_token("claude-code", "p:w $x")
    assert base64.b64decode(token).decode() == "claude-code:p:w $x"
    with pytest.raises(AnsibleFilterError, match="cannot hold ':'"):
        ws.basic_auth_token("a:b", "x")


def test_names_and_addresses_become_subject_alt_names_once():
    got = ws.subject_alt_names(["prometheus", "127.0.0.1", "0.0.0.0", "", "::1", "prometheus", "DNS:x", "[fe80::1]"])
    assert got == ["DNS:prometheus", "IP:127.0.0.1", "IP:::1", "DNS:x", "IP:fe80::1"]
