"""The claude_code_settings module, run for real (as Ansible runs it: a Python process with an
args file) against real files in a temporary directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
MODULE = ROOT / "plugins" / "modules" / "claude_code_settings.py"
SECRET = "Authorization=Bearer tok-9f8e7d6c5b4a"


def run(tmp_path: Path, check: bool = False, diff: bool = False, **args) -> dict:
    payload = {"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check, "_ansible_diff": diff}}
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps(payload))
    proc = subprocess.run(
        [sys.executable, str(MODULE), str(args_file)], capture_output=True, text=True, timeout=60, check=False
    )
    result = json.loads(proc.stdout)
    result["_raw"] = proc.stdout
    return result


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
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"], "temporary file left behind"


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
    res = run(tmp_path, check=True, path=str(missing), env={"A": "1"})
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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["args.json", "settings.json"]


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
