"""The reversible managed block of a shell profile, as the shell_profiles module plans it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.claude_code.observability.plugins.module_utils import shell_profile  # noqa: E402

BLOCK = "export A=1\n"


def _text(content, body, state="present"):
    """The planned text, which must be writable (no stray markers)."""
    plan = shell_profile.plan(content, body, state)
    assert plan["error"] is None, plan["error"]
    return plan["text"]


@pytest.mark.parametrize(
    "original",
    [
        "# my bashrc\nalias ll='ls -l'\n",
        "# no newline at the end",
        "",
        "line\n\n\n",
    ],
)
def test_block_removal_restores_exact_text(original):
    added = _text(original, BLOCK)
    assert BLOCK in added and added.startswith(original)
    assert _text(added, BLOCK) == added, "not idempotent"
    changed = _text(added, "export A=2\n")
    assert "export A=2" in changed and "export A=1" not in changed
    assert _text(changed, BLOCK, "absent") == original
    assert _text(original, BLOCK, "absent") == original


def test_block_keeps_lines_added_after_it():
    added = _text("top\n", BLOCK) + "later\n"
    assert _text(added, BLOCK, "absent") == "top\nlater\n"


def test_created_file_goes_away():
    created = _text(None, BLOCK)
    assert shell_profile.CREATED_LINE in created
    assert _text(_text(created, "export B=1\n"), BLOCK, "absent") is None
    # ...unless the user put something of their own in it since.
    assert _text(created + "mine\n", BLOCK, "absent") == "mine\n"
    assert _text(None, BLOCK, "absent") is None


def test_parent_dirs():
    assert shell_profile.parent_dirs(".config/fish/config.fish") == [".config", ".config/fish"]
    assert shell_profile.parent_dirs(".bashrc") == []


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
        plan = shell_profile.plan(text, BLOCK, state, "/home/a/.bashrc")
        assert plan["text"] == text
        for word in words + ["/home/a/.bashrc", "left untouched", "To fix"]:
            assert word in plan["error"], (word, plan["error"])
    assert shell_profile.plan(text, BLOCK, "absent")["error"].startswith("The profile ")


def test_created_directories_are_recorded_in_the_block_and_only_they_go():
    plan = shell_profile.plan(None, BLOCK, "present", "/h/.config/fish/config.fish", [".config/fish"])
    assert shell_profile.DIRS_PREFIX + ".config/fish\n" in plan["text"]
    gone = shell_profile.plan(plan["text"], BLOCK, "absent")
    assert gone["text"] is None and gone["remove_dirs"] == [".config/fish"]
    again = shell_profile.plan(plan["text"], "export A=2\n", "present")
    assert shell_profile.DIRS_PREFIX + ".config/fish\n" in again["text"]
    # An existing file was not created by the block: nothing to remove but the block.
    kept = shell_profile.plan(shell_profile.plan("mine\n", BLOCK)["text"], BLOCK, "absent")
    assert kept == {"text": "mine\n", "error": None, "remove_dirs": []}


def test_what_cannot_be_planned_is_an_error():
    with pytest.raises(shell_profile.ProfileError, match="state must be present or absent"):
        shell_profile.plan("", BLOCK, "gone")
    with pytest.raises(shell_profile.ProfileError, match="cannot be recorded"):
        shell_profile.plan(None, BLOCK, "present", "/h/a b/rc", ["a b"])


def _stat(**kw):
    base = {"exists": True, "isreg": True, "islnk": False, "wusr": True, "wgrp": False, "woth": False, "mode": "0644"}
    base.update(kw)
    return base


def test_path_problems():
    assert shell_profile.path_problem(_stat(), path="/h/.bashrc") == ""
    ro = shell_profile.path_problem(_stat(wusr=False, mode="0444"), path="/h/.bashrc")
    assert "/h/.bashrc is read-only (mode 0444)" in ro and "chmod u+w /h/.bashrc" in ro
    home = {"exists": True, "path": "/h", "wusr": False, "wgrp": False, "woth": False, "mode": "0555"}
    msg = shell_profile.path_problem({"exists": False}, {"exists": False}, home, "/h/.zshrc")
    assert "/h is read-only" in msg and "chmod u+w /h" in msg
    link = _stat(islnk=True, isreg=False, lnk_source="/h/dots/bashrc")
    assert shell_profile.path_problem(link, path="/h/.bashrc", readable=True) == ""
    assert "/h/dots/bashrc, which does not exist" in shell_profile.path_problem(link, path="/h/.bashrc", readable=False)
    assert "not a regular file" in shell_profile.path_problem(_stat(isreg=False, isdir=True), path="/h/.bashrc")
