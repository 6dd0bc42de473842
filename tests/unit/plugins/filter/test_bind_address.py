"""loopback: the one decision every component makes from its bind address."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter.bind_address import loopback  # noqa: E402


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        (None, False),
        ("192.168.1.10", False),
        ("1270.0.0.1", False),
        ("127x0.0.1", False),
        ("fe80::1", False),
    ],
)
def test_loopback(address, expected):
    assert loopback(address) is expected


def test_a_value_that_is_no_address_is_refused():
    with pytest.raises(AnsibleFilterError, match="bind address as text"):
        loopback(["127.0.0.1"])
