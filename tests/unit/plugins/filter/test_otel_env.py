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
from ansible_collections.claude_code.observability.plugins.module_utils import shell_profile  # noqa: E402
from ansible_collections.claude_code.observability.plugins.plugin_utils import client_env  # noqa: E402


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
    assert client_env.otel_pct_encode(value) == encoded
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
    posix = client_env.profile_env_lines(env, "bash")
    script = tmp_path / "env.sh"
    script.write_text(posix + 'printf "%s|%s|%s" "$A" "$B" "$C"\n')
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True).stdout
    assert out == "plain|it's a $HOME `x` \\ test|k=v,x=y"
    fish = client_env.profile_env_lines(env, "fish")
    assert fish.splitlines()[0] == "set -gx A 'plain'"
    assert fish.splitlines()[1] == "set -gx B 'it\\'s a $HOME `x` \\\\ test'"
    with pytest.raises(AnsibleFilterError):
        client_env.profile_env_lines({"1BAD": "x"}, "bash")
    with pytest.raises(AnsibleFilterError):
        client_env.profile_env_lines(env, "tcsh")


def test_block_body_puts_every_export_on_its_own_line(tmp_path):
    body = client_env.profile_env_block({"CLAUDE_CODE_ENABLE_TELEMETRY": "1", "B": "x y"}, "bash")
    lines = body.splitlines()
    assert lines[0].startswith("# ") and "\\n" not in body
    assert lines[1] == "export CLAUDE_CODE_ENABLE_TELEMETRY=1"
    script = tmp_path / "rc"
    script.write_text(shell_profile.plan("", body)["text"] + 'printf "%s|%s" "$CLAUDE_CODE_ENABLE_TELEMETRY" "$B"\n')
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True).stdout
    assert out == "1|x y"


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"client_shells": ["bash", "tcsh"]}, ["client_shells", "'tcsh'"]),
        ({"client_shells": "bash"}, ["client_shells", "auto or a list"]),
        ({"client_otlp_headers": {"Authorization": "Bearer t\nexport X=1"}}, ["client_otlp_headers", "line break"]),
        ({"client_otlp_headers": {"Authorization": "Bearer a\rb"}}, ["client_otlp_headers", "line break"]),
        ({"client_otlp_headers": {"Authorization": "a,b"}}, ["client_otlp_headers", "comma"]),
        ({"client_otlp_headers": {"Bad Header": "x"}}, ["client_otlp_headers", "'Bad Header'"]),
        ({"client_resource_attributes": {"a b": "x"}}, ["client_resource_attributes", "'a b'"]),
        ({"client_extra_env": {"1X": "x"}}, ["client_extra_env", "'1X'"]),
        ({"client_metric_export_interval": "60s"}, ["client_metric_export_interval", "greater than 0"]),
        ({"client_logs_export_interval": -5}, ["client_logs_export_interval"]),
        ({"client_reachability_timeout": True}, ["client_reachability_timeout"]),
        ({"client_otlp_endpoint": "collector:4318"}, ["client_otlp_endpoint", "http://"]),
        ({"client_otlp_endpoint": "http://a b:4318"}, ["client_otlp_endpoint"]),
        ({"client_user_settings_file": "../x/settings.json"}, ["client_user_settings_file", ".."]),
    ],
)
def test_client_problems_name_the_variable(settings, words):
    problems = otel_env.client_problems(settings)
    assert len(problems) == 1, problems
    for word in words:
        assert word in problems[0], (word, problems[0])
    assert "Bearer t" not in problems[0]


def test_client_problems_accept_good_settings():
    assert (
        otel_env.client_problems(
            {
                "client_shells": ["bash", "zsh", "fish"],
                "client_otlp_headers": {"Authorization": "Bearer a=b"},
                "client_resource_attributes": {"machine.name": "Anna's Mac, 2"},
                "client_extra_env": {"MY_VAR": "x\ny"},
                "client_metric_export_interval": "60000",
                "client_logs_export_interval": 5000,
                "client_otlp_endpoint": "https://[fd00::1]:4318",
                "client_user_settings_file": ".claude/settings.json",
            }
        )
        == []
    )
    assert otel_env.client_problems({"client_shells": "auto"}) == []


def test_profile_spec_gives_the_profile_the_block_and_whether_to_create_it():
    files = {"bash": ".bashrc", "fish": ".config/fish/config.fish"}
    spec = otel_env.profile_spec("fish", files, {"A": "1 2"}, ["bash"])
    assert spec == {
        "path": ".config/fish/config.fish",
        "body": client_env.profile_env_block({"A": "1 2"}, "fish"),
        "create": False,
    }
    assert "set -gx A '1 2'" in spec["body"]
    assert otel_env.profile_spec("bash", files, {}, ["bash"])["create"] is True
    with pytest.raises(AnsibleFilterError, match="client_shell_profile_files"):
        otel_env.profile_spec("zsh", files, {})
