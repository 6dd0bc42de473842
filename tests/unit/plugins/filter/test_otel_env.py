"""Filters of the client role: W3C-baggage encoding, OTLP headers and reversible profile blocks."""

from __future__ import annotations

import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import otel_env  # noqa: E402


def test_plain_values_are_left_readable():
    assert otel_env.otel_key_values({"machine.name": "ci-box", "project": "demo"}) == "machine.name=ci-box,project=demo"


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("dev laptop", "dev%20laptop"),
        ("a,b", "a%2Cb"),
        ("k=v", "k%3Dv"),
        ("100%", "100%25"),
        ('say "hi"; \\', "say%20%22hi%22%3B%20%5C"),
        ("Zoë", "Zo%C3%AB"),
    ],
)
def test_special_characters_are_percent_encoded(value, encoded):
    assert otel_env.otel_pct_encode(value) == encoded
    assert urllib.parse.unquote(encoded) == value


def test_key_values_round_trip_and_types():
    data = {"machine.name": "Anna's Mac, 2", "team": "platform=core", "on": True, "n": 3, "skip": None}
    out = otel_env.otel_key_values(data)
    pairs = dict(p.split("=", 1) for p in out.split(","))
    assert {k: urllib.parse.unquote(v) for k, v in pairs.items()} == {
        "machine.name": "Anna's Mac, 2",
        "team": "platform=core",
        "on": "true",
        "n": "3",
    }
    assert otel_env.otel_key_values({}) == "" and otel_env.otel_key_values(None) == ""


@pytest.mark.parametrize("key", ["bad key", "a,b", "a=b", ""])
def test_bad_keys_are_refused(key):
    with pytest.raises(AnsibleFilterError):
        otel_env.otel_key_values({key: "x"})


def test_headers_are_raw_and_refuse_commas():
    assert otel_env.otel_headers({"Authorization": "Bearer a=b", "X-Scope-OrgID": "t1"}) == (
        "Authorization=Bearer a=b,X-Scope-OrgID=t1"
    )
    with pytest.raises(AnsibleFilterError, match="comma"):
        otel_env.otel_headers({"Authorization": "Bearer a,b"})


def test_env_lines_are_valid_shell_for_each_shell(tmp_path):
    env = {"A": "plain", "B": "it's a $HOME `x` \\ test", "C": "k=v,x=y"}
    posix = otel_env.profile_env_lines(env, "bash")
    script = tmp_path / "env.sh"
    script.write_text(posix + 'printf "%s|%s|%s" "$A" "$B" "$C"\n')
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True).stdout
    assert out == "plain|it's a $HOME `x` \\ test|k=v,x=y"
    fish = otel_env.profile_env_lines(env, "fish")
    assert fish.splitlines()[0] == "set -gx A 'plain'"
    assert fish.splitlines()[1] == "set -gx B 'it\\'s a $HOME `x` \\\\ test'"
    with pytest.raises(AnsibleFilterError):
        otel_env.profile_env_lines({"1BAD": "x"}, "bash")
    with pytest.raises(AnsibleFilterError):
        otel_env.profile_env_lines(env, "tcsh")


BLOCK = "export A=1\n"


@pytest.mark.parametrize(
    "original",
    [
        "# my bashrc\nalias ll='ls -l'\n",
        "# no newline at the end",
        "",
        "line\n\n\n",
    ],
)
def test_profile_block_removal_restores_exact_text(original):
    added = otel_env.profile_block(original, BLOCK)
    assert BLOCK in added and added.startswith(original)
    assert otel_env.profile_block(added, BLOCK) == added, "not idempotent"
    changed = otel_env.profile_block(added, "export A=2\n")
    assert "export A=2" in changed and "export A=1" not in changed
    assert otel_env.profile_block(changed, BLOCK, "absent") == original
    assert otel_env.profile_block(original, BLOCK, "absent") == original


def test_profile_block_keeps_lines_added_after_it():
    added = otel_env.profile_block("top\n", BLOCK) + "later\n"
    assert otel_env.profile_block(added, BLOCK, "absent") == "top\nlater\n"


def test_profile_block_created_file_goes_away():
    created = otel_env.profile_block(None, BLOCK)
    assert otel_env.CREATED_LINE in created
    assert otel_env.profile_block(otel_env.profile_block(created, "export B=1\n"), BLOCK, "absent") is None
    # ...unless the user put something of their own in it since.
    assert otel_env.profile_block(created + "mine\n", BLOCK, "absent") == "mine\n"
    assert otel_env.profile_block(None, BLOCK, "absent") is None


def test_parent_dirs():
    assert otel_env.parent_dirs(".config/fish/config.fish") == [".config", ".config/fish"]
    assert otel_env.parent_dirs(".bashrc") == []
