"""The shell_profiles module, run in-process through the shared module runner against a real
home under tmp_path."""

from __future__ import annotations

import os
import stat

import pytest
from helpers.module_runner import run as run_module

BODY = "# Claude Code telemetry\nexport CLAUDE_CODE_ENABLE_TELEMETRY=1\n"
SECRET_BODY = BODY + "export OTEL_EXPORTER_OTLP_HEADERS='Authorization=Bearer tok-1234'\n"
BEGIN = "# >>> claude_code.observability (managed by Ansible) >>>"


def run(home, profiles, state="present", check=False, diff=False, **extra):
    args = {"home": str(home), "state": state, "profiles": profiles, **extra}
    return run_module("shell_profiles", args, check=check, diff=diff)


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return path


def test_block_goes_in_and_comes_back_out_byte_for_byte(home):
    original = "alias ll='ls -l'\n# no newline at the end"
    (home / ".bashrc").write_text(original)
    os.chmod(home / ".bashrc", 0o640)
    res = run(home, [{"path": ".bashrc", "body": BODY}])
    assert res["changed"] is True and res["profiles"][0]["action"] == "updated"
    text = (home / ".bashrc").read_text()
    assert text.startswith(original) and BEGIN in text and "CLAUDE_CODE_ENABLE_TELEMETRY=1" in text
    assert stat.S_IMODE(os.stat(home / ".bashrc").st_mode) == 0o640
    os.utime(home / ".bashrc", ns=(1_000_000_000, 1_000_000_000))
    again = run(home, [{"path": ".bashrc", "body": BODY}], diff=True)
    assert again["changed"] is False and again["diff"] == []
    assert os.stat(home / ".bashrc").st_mtime_ns == 1_000_000_000
    gone = run(home, [{"path": ".bashrc"}], state="absent")
    assert gone["changed"] is True and (home / ".bashrc").read_text() == original


def test_a_profile_made_for_the_block_goes_with_its_directories(home):
    profiles = [{"path": ".config/fish/config.fish", "body": BODY}]
    res = run(home, profiles, owner="4242", group="4343")
    assert res["profiles"][0]["action"] == "created"
    st = os.stat(home / ".config" / "fish")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (4242, 4343, 0o755)
    st = os.stat(home / ".config" / "fish" / "config.fish")
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (4242, 0o644)
    assert run(home, profiles, state="absent")["profiles"][0]["action"] == "removed"
    assert os.listdir(home) == []


def test_a_directory_that_was_there_before_stays(home):
    (home / ".config").mkdir()
    (home / ".config" / "other").write_text("mine")
    profiles = [{"path": ".config/fish/config.fish", "body": BODY}]
    run(home, profiles)
    run(home, profiles, state="absent")
    assert sorted(os.listdir(home / ".config")) == ["other"]


def test_missing_profiles_are_created_only_when_asked(home):
    res = run(home, [{"path": ".bashrc", "body": BODY}, {"path": ".zshrc", "body": BODY, "create": False}])
    assert [p["action"] for p in res["profiles"]] == ["created", "skipped"]
    assert sorted(os.listdir(home)) == [".bashrc"]


def test_check_mode_tells_and_writes_nothing(home):
    (home / ".zshrc").write_text("setopt x\n")
    res = run(home, [{"path": ".bashrc", "body": BODY}, {"path": ".zshrc", "body": BODY}], check=True, diff=True)
    assert res["changed"] is True and [p["action"] for p in res["profiles"]] == ["created", "updated"]
    assert sorted(os.listdir(home)) == [".zshrc"] and (home / ".zshrc").read_text() == "setopt x\n"
    assert all(BEGIN in d["after"] for d in res["diff"])


def test_a_stray_marker_refuses_every_profile_and_touches_none(home):
    (home / ".zshrc").write_text("setopt x\n")
    (home / ".bashrc").write_text("ok\n%s\nexport A=1\n" % BEGIN)
    before = {p: (home / p).read_bytes() for p in (".zshrc", ".bashrc")}
    res = run(home, [{"path": ".zshrc", "body": BODY}, {"path": ".bashrc", "body": BODY}])
    assert res["rc"] == 1 and ".bashrc has the begin marker" in res["msg"] and "on line 2" in res["msg"], res
    assert {p: (home / p).read_bytes() for p in before} == before


def test_read_only_profile_and_home_are_refused(home):
    (home / ".bashrc").write_text("mine\n")
    os.chmod(home / ".bashrc", 0o444)
    res = run(home, [{"path": ".bashrc", "body": BODY}])
    assert res["rc"] == 1 and "is read-only (mode 0444)" in res["msg"]
    assert (home / ".bashrc").read_text() == "mine\n"
    os.chmod(home, 0o555)
    try:
        res = run(home, [{"path": ".zshrc", "body": BODY}])
        assert res["rc"] == 1 and "cannot be created" in res["msg"] and str(home) in res["msg"]
    finally:
        os.chmod(home, 0o755)


def test_a_link_is_kept_and_its_target_written_a_dangling_one_refused(home, tmp_path):
    dots = tmp_path / "dots"
    dots.mkdir()
    (dots / "bashrc").write_text("mine\n")
    os.symlink(dots / "bashrc", home / ".bashrc")
    run(home, [{"path": ".bashrc", "body": BODY}])
    assert os.path.islink(home / ".bashrc") and BEGIN in (dots / "bashrc").read_text()
    os.symlink(dots / "missing", home / ".zshrc")
    res = run(home, [{"path": ".zshrc", "body": BODY}])
    assert res["rc"] == 1 and "which does not exist" in res["msg"]
    assert run(home, [{"path": ".zshrc", "body": BODY, "create": False}])["changed"] is False


def test_the_header_value_never_shows_in_the_diff(home):
    res = run(home, [{"path": ".bashrc", "body": SECRET_BODY}], diff=True)
    assert "tok-1234" not in "".join(d["after"] for d in res["diff"])
    assert "OTEL_EXPORTER_OTLP_HEADERS ********" in res["diff"][0]["after"]
    gone = run(home, [{"path": ".bashrc"}], state="absent", diff=True)
    assert "tok-1234" not in gone["_raw"]


def test_backup_keeps_the_previous_text(home):
    (home / ".bashrc").write_text("mine\n")
    res = run(home, [{"path": ".bashrc", "body": BODY}], backup=True)
    backup = res["profiles"][0]["backup_file"]
    assert open(backup).read() == "mine\n"
