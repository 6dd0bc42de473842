"""The claude_code_settings module, run for real (in-process through the shared module runner, and
once through ansible itself) against real files in a temporary directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.module_runner import run as run_module

ROOT = Path(__file__).resolve().parents[3]
SECRET = "Authorization=Bearer tok-9f8e7d6c5b4a"


def run(tmp_path: Path, check: bool = False, diff: bool = False, **args) -> dict:
    """The shared in-process runner (module_runner.py); the files live under tmp_path."""
    return run_module("claude_code_settings", args, check=check, diff=diff)


@pytest.fixture
def settings(tmp_path: Path) -> Path:
    path = tmp_path / "settings.json"
    # The layout Claude Code itself writes: two-space indent, no trailing newline.
    path.write_text(
        json.dumps({"model": "opus", "permissions": {"allow": ["Bash(ls)"]}, "env": {"FOO": "bar"}}, indent=2)
    )
    return path


def test_creates_file_private_with_owner(tmp_path):
    path = tmp_path / "new" / "settings.json"
    path.parent.mkdir()
    res = run(
        tmp_path,
        path=str(path),
        env={"CLAUDE_CODE_ENABLE_TELEMETRY": "1", "N": 60000, "B": True},
        owner="4242",
        group="4343",
    )
    assert res["changed"] is True and res["created"] is True, res
    assert json.loads(path.read_text()) == {"env": {"CLAUDE_CODE_ENABLE_TELEMETRY": "1", "N": "60000", "B": "1"}}
    st = path.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (4242, 4343, 0o600)
    assert path.read_text().endswith("}\n")
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == [".settings.json.claude-code-observability.json", "settings.json"], "temporary file left behind"


def test_second_run_writes_nothing(tmp_path, settings):
    env = {"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert run(tmp_path, path=str(settings), env=env)["changed"] is True
    os.utime(settings, ns=(1_000_000_000, 1_000_000_000))
    before = settings.stat()
    res = run(tmp_path, path=str(settings), env=env, diff=True)
    after = settings.stat()
    assert res["changed"] is False, res
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert res["diff"]["before"] == res["diff"]["after"]


def test_keeps_other_keys_order_format_owner_and_mode(tmp_path, settings):
    os.chown(settings, 4242, 4343)
    os.chmod(settings, 0o640)
    original = settings.read_text()
    res = run(tmp_path, path=str(settings), env={"OTEL_LOGS_EXPORTER": "otlp"}, settings={"includeCoAuthoredBy": False})
    assert res["changed"] is True
    assert res["added"] == ["env.OTEL_LOGS_EXPORTER", "includeCoAuthoredBy"]
    text = settings.read_text()
    doc = json.loads(text)
    assert list(doc) == ["model", "permissions", "env", "includeCoAuthoredBy"]
    assert list(doc["env"]) == ["FOO", "OTEL_LOGS_EXPORTER"]
    assert doc["permissions"] == {"allow": ["Bash(ls)"]}
    assert not text.endswith("\n") and '\n  "model"' in text
    st = settings.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (4242, 4343, 0o640)
    # Removal gives back the original bytes.
    res = run(
        tmp_path,
        path=str(settings),
        state="absent",
        env={"OTEL_LOGS_EXPORTER": ""},
        settings={"includeCoAuthoredBy": None},
    )
    assert res["removed"] == ["env.OTEL_LOGS_EXPORTER", "includeCoAuthoredBy"]
    assert settings.read_text() == original


def test_keeps_four_space_indent_and_trailing_newline(tmp_path):
    path = tmp_path / "settings.json"
    original = '{\n    "theme": "dark"\n}\n'
    path.write_text(original)
    run(tmp_path, path=str(path), env={"A": "1"})
    assert path.read_text() == '{\n    "theme": "dark",\n    "env": {\n        "A": "1"\n    }\n}\n'
    run(tmp_path, path=str(path), remove_env=["A"])
    assert path.read_text() == original


def test_check_mode_reports_and_touches_nothing(tmp_path, settings):
    original = settings.read_bytes()
    res = run(tmp_path, check=True, diff=True, path=str(settings), env={"OTEL_METRICS_EXPORTER": "otlp"})
    assert res["changed"] is True and res["added"] == ["env.OTEL_METRICS_EXPORTER"]
    assert '"OTEL_METRICS_EXPORTER": "otlp"' in res["diff"]["after"]
    assert settings.read_bytes() == original
    # A file in a directory that does not exist yet: check mode must not fail.
    missing = tmp_path / "nohome" / ".claude" / "settings.json"
    res = run(tmp_path, check=True, path=str(missing), env={"A": "1"}, create_dirs=True)
    assert res.get("failed") is not True and res["changed"] is True and res["created"] is True, res
    assert not missing.parent.exists()


def test_diff_shows_before_and_after(tmp_path, settings):
    res = run(tmp_path, diff=True, path=str(settings), env={"FOO": "baz"})
    assert res["updated"] == ["env.FOO"]
    assert '"FOO": "bar"' in res["diff"]["before"] and '"FOO": "baz"' in res["diff"]["after"]
    assert res["diff"]["before_header"] == str(settings)


@pytest.mark.parametrize(
    ("text", "line", "col"),
    [
        ('{\n  "model": "opus"\n  "env": {}\n}\n', 3, 3),
        ('{\n  "env": {\n    "A": "1",\n  }\n}', 4, 3),
        ("// comment\n{}", 1, 1),
    ],
)
def test_malformed_json_is_left_alone_with_line_and_column(tmp_path, text, line, col):
    path = tmp_path / "settings.json"
    path.write_text(text)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = path.stat()
    res = run(tmp_path, path=str(path), env={"A": "2"}, backup=True)
    assert res["failed"] is True
    assert f"line {line}, column {col}" in res["msg"], res["msg"]
    assert "left untouched" in res["msg"] and "json.tool" in res["msg"]
    assert path.read_text() == text
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_wrong_shapes_are_refused(tmp_path):
    path = tmp_path / "settings.json"
    for text, word in (('["a"]', "JSON object"), ('{"env": "x"}', "'env' key")):
        path.write_text(text)
        res = run(tmp_path, path=str(path), env={"A": "1"})
        assert res["failed"] is True and word in res["msg"], res
        assert path.read_text() == text


def test_removal_drops_emptied_env_and_deletes_emptied_file(tmp_path):
    path = tmp_path / "settings.json"
    run(tmp_path, path=str(path), env={"A": "1", "B": "2"})
    res = run(tmp_path, path=str(path), state="absent", remove_env=["A", "B", "C"], delete_if_empty=True, diff=True)
    assert res["changed"] is True and res["deleted"] is True and res["removed"] == ["env.A", "env.B"]
    assert not path.exists()
    assert res["diff"]["after"] == ""
    # Nothing to do on a second removal, and a missing file is not created.
    res = run(tmp_path, path=str(path), state="absent", remove_env=["A"], delete_if_empty=True)
    assert res["changed"] is False and not path.exists()
    # A file that was {} before is kept: nothing of ours was in it.
    path.write_text("{}")
    res = run(tmp_path, path=str(path), state="absent", remove_env=["A"], delete_if_empty=True)
    assert res["changed"] is False and path.read_text() == "{}"


def test_backup_keeps_previous_content(tmp_path, settings):
    original = settings.read_text()
    res = run(tmp_path, path=str(settings), env={"A": "1"}, backup=True)
    backup = Path(res["backup_file"])
    assert backup.parent == settings.parent and backup.read_text() == original
    res = run(tmp_path, path=str(settings), env={"A": "1"}, backup=True)
    assert "backup_file" not in res


def test_secrets_never_in_results_or_diff(tmp_path, settings):
    res = run(
        tmp_path, diff=True, path=str(settings), env={"A": "1"}, secret_env={"OTEL_EXPORTER_OTLP_HEADERS": SECRET}
    )
    assert res["changed"] is True
    assert json.loads(settings.read_text())["env"]["OTEL_EXPORTER_OTLP_HEADERS"] == SECRET
    assert "tok-9f8e7d6c5b4a" not in res["_raw"]
    assert res["env"]["OTEL_EXPORTER_OTLP_HEADERS"] == "********"
    # A changed secret: still masked, but the diff shows that it changed.
    res = run(tmp_path, diff=True, path=str(settings), secret_env={"OTEL_EXPORTER_OTLP_HEADERS": SECRET + "x"})
    assert res["updated"] == ["env.OTEL_EXPORTER_OTLP_HEADERS"]
    assert "tok-9f8e7d6c5b4a" not in res["_raw"] and "(changed)" in res["diff"]["after"]
    # Removing it by name (the value is not passed at all) must not show the old value either.
    res = run(tmp_path, diff=True, path=str(settings), remove_env=["OTEL_EXPORTER_OTLP_HEADERS"])
    assert res["removed"] == ["env.OTEL_EXPORTER_OTLP_HEADERS"]
    assert "tok-9f8e7d6c5b4a" not in res["_raw"] and "********" in res["diff"]["before"]


def test_through_ansible_adhoc(tmp_path, settings):
    """The module resolves by FQCN from the collection link, as playbooks call it."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    args = json.dumps({"path": str(settings), "env": {"OTEL_METRICS_EXPORTER": "otlp"}})
    cmd = [
        str(Path(sys.executable).parent / "ansible"),
        "localhost",
        "-m",
        "claude_code.observability.claude_code_settings",
        "-a",
        args,
    ]
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False)
    assert first.returncode == 0 and "CHANGED" in first.stdout, first.stdout + first.stderr
    second = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False)
    assert second.returncode == 0 and "SUCCESS" in second.stdout, second.stdout + second.stderr


def record_of(path: Path) -> Path:
    return path.parent / f".{path.name}.claude-code-observability.json"


def test_absent_without_a_record_touches_nothing(tmp_path):
    """Keys with the names the role uses, written by the user: not provably ours, so they stay."""
    path = tmp_path / "settings.json"
    for content in ('{"env": {"OTEL_METRICS_EXPORTER": "console"}, "model": "opus"}', "", "\n"):
        path.write_text(content)
        res = run(tmp_path, path=str(path), state="absent", delete_if_empty=True)
        assert res["changed"] is False and res["removed"] == [], res
        assert path.read_text() == content


def test_replaced_values_come_back_and_the_record_goes(tmp_path):
    path = tmp_path / "settings.json"
    original = '{\n  "env": {\n    "OTEL_METRICS_EXPORTER": "console",\n    "MINE": "x"\n  },\n  "model": "opus"\n}'
    path.write_text(original)
    res = run(tmp_path, path=str(path), env={"OTEL_METRICS_EXPORTER": "otlp", "CLAUDE_CODE_ENABLE_TELEMETRY": "1"})
    assert res["updated"] == ["env.OTEL_METRICS_EXPORTER"] and res["added"] == ["env.CLAUDE_CODE_ENABLE_TELEMETRY"]
    record = json.loads(record_of(path).read_text())
    assert record["env"]["OTEL_METRICS_EXPORTER"]["previous"] == "console"
    assert record["env"]["CLAUDE_CODE_ENABLE_TELEMETRY"]["had"] is False
    # A change of configuration keeps the first previous value, not our own earlier one.
    run(tmp_path, path=str(path), env={"OTEL_METRICS_EXPORTER": "none"})
    assert "CLAUDE_CODE_ENABLE_TELEMETRY" not in json.loads(path.read_text())["env"]
    res = run(tmp_path, path=str(path), state="absent")
    assert res["restored"] == ["env.OTEL_METRICS_EXPORTER"], res
    assert path.read_text() == original and not record_of(path).exists()


def test_a_value_changed_by_hand_stays_on_removal(tmp_path):
    path = tmp_path / "settings.json"
    run(tmp_path, path=str(path), env={"A": "1", "B": "2"})
    doc = json.loads(path.read_text())
    doc["env"]["B"] = "mine now"
    path.write_text(json.dumps(doc))
    res = run(tmp_path, path=str(path), state="absent")
    assert res["kept"] == ["env.B"] and res["removed"] == ["env.A"], res
    assert json.loads(path.read_text()) == {"env": {"B": "mine now"}}


def test_blank_file_and_empty_env_come_back_exactly(tmp_path):
    path = tmp_path / "settings.json"
    for original in ("", "\n\n", '{"env": {}}'):
        path.write_text(original)
        run(tmp_path, path=str(path), env={"A": "1"})
        assert json.loads(path.read_text())["env"] == {"A": "1"}
        run(tmp_path, path=str(path), state="absent")
        assert path.read_text() == original and not record_of(path).exists()


def test_record_holds_no_secret(tmp_path):
    path = tmp_path / "settings.json"
    run(tmp_path, path=str(path), secret_env={"OTEL_EXPORTER_OTLP_HEADERS": SECRET})
    assert "tok-9f8e7d6c5b4a" not in record_of(path).read_text()
    assert record_of(path).stat().st_mode & 0o777 == 0o600


def test_symlink_is_kept_and_its_target_written(tmp_path):
    target = tmp_path / "dotfiles" / "claude.json"
    target.parent.mkdir()
    target.write_text('{"model": "opus"}')
    link = tmp_path / "settings.json"
    link.symlink_to(target)
    assert run(tmp_path, path=str(link), env={"A": "1"})["changed"] is True
    assert link.is_symlink() and json.loads(target.read_text())["env"] == {"A": "1"}
    run(tmp_path, path=str(link), state="absent")
    assert link.is_symlink() and target.read_text() == '{"model": "opus"}'
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "nowhere.json")
    res = run(tmp_path, path=str(dangling), env={"A": "1"})
    assert res["failed"] and "does not exist" in res["msg"] and str(dangling) in res["msg"]
    assert not (tmp_path / "nowhere.json").exists()


def test_read_only_file_or_directory_is_refused_even_as_root(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"model": "opus"}')
    path.chmod(0o444)
    res = run(tmp_path, path=str(path), env={"A": "1"})
    assert res["failed"] and "read-only (mode 0444)" in res["msg"] and f"chmod u+w {path}" in res["msg"], res
    assert path.read_text() == '{"model": "opus"}' and not record_of(path).exists()
    # Check mode says the same: the real run would fail.
    assert run(tmp_path, check=True, path=str(path), env={"A": "1"})["failed"]
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    res = run(tmp_path, path=str(locked / ".claude" / "settings.json"), env={"A": "1"}, create_dirs=True)
    assert res["failed"] and f"{locked} is read-only" in res["msg"], res
    assert list(locked.iterdir()) == []


def test_write_is_atomic_and_keeps_mode_and_owner(tmp_path, settings):
    os.chown(settings, 4242, 4343)
    os.chmod(settings, 0o640)
    old_inode = settings.stat().st_ino
    original = settings.read_bytes()
    with open(settings, "rb") as reader:
        run(tmp_path, path=str(settings), env={"A": "1"})
        # The old file was replaced by a rename, not rewritten in place: a reader that had it
        # open still sees all of the old content.
        assert reader.read() == original
    st = settings.stat()
    assert st.st_ino != old_inode
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (4242, 4343, 0o640)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_failed_write_leaves_the_file_whole(tmp_path, settings):
    original = settings.read_bytes()
    # The record cannot be written (its directory is missing): the settings write, which comes
    # after it, must not happen either.
    res = run(tmp_path, path=str(settings), env={"A": "1"}, record_path=str(tmp_path / "gone" / "record.json"))
    assert res["failed"] and "cannot write" in res["msg"], res
    assert settings.read_bytes() == original
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_created_directories_are_recorded_and_removed_when_empty(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    path = home / ".claude" / "settings.json"
    res = run(tmp_path, check=True, path=str(path), env={"A": "1"}, create_dirs=True)
    assert res["changed"] and not path.parent.exists()
    res = run(tmp_path, path=str(path), env={"A": "1"}, create_dirs=True, owner="4242", dir_mode="0700")
    assert res["created"] and (path.parent.stat().st_mode & 0o777, path.parent.stat().st_uid) == (0o700, 4242)
    assert run(tmp_path, path=str(path), env={"A": "1"}, create_dirs=True)["changed"] is False
    res = run(tmp_path, path=str(path), state="absent")
    assert res["deleted"] and list(home.iterdir()) == []
    # A directory that was there before stays.
    (home / ".claude").mkdir()
    run(tmp_path, path=str(path), env={"A": "1"}, create_dirs=True)
    run(tmp_path, path=str(path), state="absent")
    assert [p.name for p in home.iterdir()] == [".claude"] and list((home / ".claude").iterdir()) == []


def test_unreadable_record_is_refused(tmp_path, settings):
    original = settings.read_bytes()
    record_of(settings).write_text("{broken")
    res = run(tmp_path, path=str(settings), state="absent")
    assert res["failed"] and str(record_of(settings)) in res["msg"] and "Delete the record" in res["msg"]
    assert settings.read_bytes() == original
