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
    assert shell_profile.CREATED_LINE in created
    assert otel_env.profile_block(otel_env.profile_block(created, "export B=1\n"), BLOCK, "absent") is None
    # ...unless the user put something of their own in it since.
    assert otel_env.profile_block(created + "mine\n", BLOCK, "absent") == "mine\n"
    assert otel_env.profile_block(None, BLOCK, "absent") is None


def test_parent_dirs():
    assert otel_env.parent_dirs(".config/fish/config.fish") == [".config", ".config/fish"]
    assert otel_env.parent_dirs(".bashrc") == []


def test_block_body_puts_every_export_on_its_own_line(tmp_path):
    body = otel_env.profile_env_block({"CLAUDE_CODE_ENABLE_TELEMETRY": "1", "B": "x y"}, "bash")
    lines = body.splitlines()
    assert lines[0].startswith("# ") and "\\n" not in body
    assert lines[1] == "export CLAUDE_CODE_ENABLE_TELEMETRY=1"
    script = tmp_path / "rc"
    script.write_text(otel_env.profile_block("", body) + 'printf "%s|%s" "$CLAUDE_CODE_ENABLE_TELEMETRY" "$B"\n')
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True).stdout
    assert out == "1|x y"


BEGIN = "# >>> claude_code.observability (managed by Ansible) >>>"
END = "# <<< claude_code.observability <<<"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (f"a\n{BEGIN}\nexport PATH=/x:$PATH\n", ["begin marker", "line 2", "no end marker"]),
        (f"a\n{END}\n", ["end marker", "line 2", "no begin marker"]),
        (f"{BEGIN}\n{END}\n{BEGIN}\n{END}\n", ["more than one", "lines 1, 2, 3, 4"]),
        (f"{END}\n{BEGIN}\n", ["before its begin marker"]),
        ("# >>> claude_code.observability >>>\nexport PATH=/x\n", ["begin marker", "line 1"]),
    ],
)
def test_stray_or_duplicated_markers_are_refused(text, words):
    for state in ("present", "absent"):
        plan = otel_env.profile_plan(text, BLOCK, state, "/home/a/.bashrc")
        assert plan["text"] == text
        for word in words + ["/home/a/.bashrc", "left untouched", "To fix"]:
            assert word in plan["error"], (word, plan["error"])
    with pytest.raises(AnsibleFilterError, match="begin marker|end marker|more than one"):
        otel_env.profile_block(text, BLOCK, "absent")


def test_created_directories_are_recorded_in_the_block_and_only_they_go():
    plan = otel_env.profile_plan(None, BLOCK, "present", "/h/.config/fish/config.fish", [".config/fish"])
    assert shell_profile.DIRS_PREFIX + ".config/fish\n" in plan["text"]
    gone = otel_env.profile_plan(plan["text"], BLOCK, "absent")
    assert gone["text"] is None and gone["remove_dirs"] == [".config/fish"]
    again = otel_env.profile_plan(plan["text"], "export A=2\n", "present")
    assert shell_profile.DIRS_PREFIX + ".config/fish\n" in again["text"]
    # An existing file was not created by the block: nothing to remove but the block.
    kept = otel_env.profile_plan(otel_env.profile_plan("mine\n", BLOCK)["text"], BLOCK, "absent")
    assert kept == {"text": "mine\n", "error": None, "remove_dirs": []}


def _stat(**kw):
    base = {"exists": True, "isreg": True, "islnk": False, "wusr": True, "wgrp": False, "woth": False, "mode": "0644"}
    base.update(kw)
    return base


def test_path_problems():
    assert otel_env.path_problem(_stat(), path="/h/.bashrc") == ""
    ro = otel_env.path_problem(_stat(wusr=False, mode="0444"), path="/h/.bashrc")
    assert "/h/.bashrc is read-only (mode 0444)" in ro and "chmod u+w /h/.bashrc" in ro
    home = {"exists": True, "path": "/h", "wusr": False, "wgrp": False, "woth": False, "mode": "0555"}
    msg = otel_env.path_problem({"exists": False}, {"exists": False}, home, "/h/.zshrc")
    assert "/h is read-only" in msg and "chmod u+w /h" in msg
    link = _stat(islnk=True, isreg=False, lnk_source="/h/dots/bashrc")
    assert otel_env.path_problem(link, path="/h/.bashrc", readable=True) == ""
    assert "/h/dots/bashrc, which does not exist" in otel_env.path_problem(link, path="/h/.bashrc", readable=False)
    assert "not a regular file" in otel_env.path_problem(_stat(isreg=False, isdir=True), path="/h/.bashrc")


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
        "body": otel_env.profile_env_block({"A": "1 2"}, "fish"),
        "create": False,
    }
    assert "set -gx A '1 2'" in spec["body"]
    assert otel_env.profile_spec("bash", files, {}, ["bash"])["create"] is True
    with pytest.raises(AnsibleFilterError, match="client_shell_profile_files"):
        otel_env.profile_spec("zsh", files, {})
