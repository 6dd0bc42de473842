"""Never lose a user's data: the real client role against real homes. Removal takes back only what
the role provably wrote; bad input (files or variables) is refused with a message naming the file
or variable and the fix, and every file of the user stays byte-identical (sha256 before/after)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from client_playbook import run_playbook, snapshot, temp_users, write_inventory  # noqa: E402

pytestmark = pytest.mark.slow(seconds=120)  # the conftest starts the longest first

BEGIN = "# >>> claude_code.observability (managed by Ansible) >>>"
END = "# <<< claude_code.observability <<<"
RECORD = ".settings.json.claude-code-observability.json"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("client-safety")
    with temp_users(1) as (user,):
        yield {"user": user, "home": Path(user.pw_dir), "inventory": write_inventory(tmp / "hosts.json")}


@pytest.fixture
def home(world):
    """An empty home for each test (the user stays)."""
    path = world["home"]
    yield path
    os.chmod(path, 0o750)
    for child in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if child.is_symlink() or child.is_file():
            child.chmod(0o600) if not child.is_symlink() else None
            child.unlink()
        else:
            child.chmod(0o700)
            child.rmdir()


def hashes(root: Path) -> dict:
    """sha256 of every file under root, plus type, owner and mode of every path (links not followed)."""
    out = {}
    for path, entry in snapshot(root).items():
        out[path] = entry[:4] + ((hashlib.sha256(entry[4]).hexdigest(),) if len(entry) > 4 else ())
        if os.path.islink(path):
            out[path] += (os.readlink(path),)
    return out


def play(world, *args, **variables):
    base = {
        "client_users": [world["user"].pw_name],
        "client_check_reachability": False,
        "client_otlp_port": 14318,
    }
    return run_playbook(world["inventory"], {**base, **variables}, *args)


def own(world, *paths):
    for path in paths:
        os.lchown(path, world["user"].pw_uid, world["user"].pw_gid)


def write_settings(world, home, content: bytes, mode=0o644) -> Path:
    (home / ".claude").mkdir(mode=0o700, exist_ok=True)
    path = home / ".claude" / "settings.json"
    path.write_bytes(content)
    path.chmod(mode)
    own(world, home / ".claude", path)
    return path


# --- Reproductions of issue #12 -------------------------------------------------------------


def test_absent_leaves_a_settings_file_the_role_never_wrote(world, home):
    path = write_settings(world, home, b'{"env": {"OTEL_METRICS_EXPORTER": "console"}, "model": "opus"}')
    before = hashes(home)
    res = play(world, client_state="absent")
    assert res.rc == 0, res.explain()
    assert hashes(home) == before
    assert path.read_bytes() == b'{"env": {"OTEL_METRICS_EXPORTER": "console"}, "model": "opus"}'
    assert res.changed == 0, res.changed_tasks()


def test_absent_leaves_an_empty_settings_file_the_user_made(world, home):
    path = write_settings(world, home, b"")
    before = hashes(home)
    res = play(world, client_state="absent")
    assert res.rc == 0, res.explain()
    assert hashes(home) == before
    # Written into and taken back out: the user's empty file (and ~/.claude) are still there.
    assert play(world).rc == 0
    assert json.loads(path.read_text())["env"]["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    res = play(world, client_state="absent")
    assert res.rc == 0, res.explain()
    assert hashes(home) == before


def test_absent_restores_replaced_values_and_keeps_the_users_keys(world, home):
    original = b'{\n  "env": {\n    "OTEL_METRICS_EXPORTER": "console"\n  },\n  "model": "opus"\n}\n'
    path = write_settings(world, home, original)
    before = hashes(home)
    res = play(world)
    assert res.rc == 0, res.explain()
    env = json.loads(path.read_text())["env"]
    assert env["OTEL_METRICS_EXPORTER"] == "otlp" and env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    record = json.loads((home / ".claude" / RECORD).read_text())
    assert record["env"]["OTEL_METRICS_EXPORTER"]["previous"] == "console"
    assert record["env"]["CLAUDE_CODE_ENABLE_TELEMETRY"]["had"] is False
    assert play(world).changed == 0
    absent = play(world, client_state="absent")
    assert absent.rc == 0, absent.explain()
    assert hashes(home) == before
    assert path.read_bytes() == original


def test_a_value_changed_by_hand_since_is_the_users(world, home):
    path = write_settings(world, home, b'{"model": "opus"}')
    assert play(world).rc == 0
    doc = json.loads(path.read_text())
    doc["env"]["OTEL_LOGS_EXPORTER"] = "console"
    path.write_text(json.dumps(doc))
    res = play(world, client_state="absent")
    assert res.rc == 0, res.explain()
    assert json.loads(path.read_text()) == {"model": "opus", "env": {"OTEL_LOGS_EXPORTER": "console"}}


def test_settings_and_directory_created_by_the_role_go_and_nothing_else(world, home):
    before = hashes(home)
    assert play(world).rc == 0
    assert (home / ".claude" / "settings.json").exists() and (home / ".claude" / RECORD).exists()
    assert play(world, client_state="absent").rc == 0
    assert hashes(home) == before
    # Claude Code puts its own files there meanwhile: the directory is no longer only ours.
    assert play(world).rc == 0
    (home / ".claude" / "projects").mkdir()
    assert play(world, client_state="absent").rc == 0
    assert sorted(p.name for p in (home / ".claude").iterdir()) == ["projects"]


def test_stray_begin_marker_is_refused_not_eaten(world, home):
    bashrc = home / ".bashrc"
    text = f"# mine\n{BEGIN}\nexport PATH=/opt/mine/bin:$PATH\nalias ll='ls -l'\n"
    bashrc.write_text(text)
    own(world, bashrc)
    before = hashes(home)
    for state in ("absent", "present"):
        res = play(world, client_state=state, client_targets=["shell_profiles"], client_shells=["bash"])
        assert res.rc != 0, res.explain()
        msg = " ".join(res.failures())
        assert str(bashrc) in msg and "begin marker" in msg and "line 2" in msg and "To fix" in msg, msg
        assert hashes(home) == before
    assert bashrc.read_text() == text


def test_symlinked_settings_and_profile_are_written_through(world, home):
    dots = home / "dotfiles"
    dots.mkdir()
    (dots / "settings.json").write_text('{"model": "opus"}\n')
    (dots / "bashrc").write_text("export EDITOR=vim\n")
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").symlink_to(dots / "settings.json")
    (home / ".bashrc").symlink_to("dotfiles/bashrc")
    own(world, dots, dots / "settings.json", dots / "bashrc", home / ".claude", home / ".claude" / "settings.json")
    before = hashes(home)
    res = play(world, client_targets=["user_settings", "shell_profiles"], client_shells=["bash"])
    assert res.rc == 0, res.explain()
    assert (home / ".claude" / "settings.json").is_symlink() and (home / ".bashrc").is_symlink()
    assert json.loads((dots / "settings.json").read_text())["env"]["OTEL_METRICS_EXPORTER"] == "otlp"
    assert "export OTEL_METRICS_EXPORTER=otlp" in (dots / "bashrc").read_text()
    again = play(world, client_targets=["user_settings", "shell_profiles"], client_shells=["bash"])
    assert again.rc == 0 and again.changed == 0, again.changed_tasks()
    assert play(world, client_state="absent").rc == 0
    assert hashes(home) == before


# --- Bad input: refused by name, nothing touched -----------------------------------------------

SETTINGS_OK = b'{\n  "model": "opus",\n  "env": {\n    "MINE": "1"\n  }\n}\n'
BASHRC_OK = b"export PATH=/opt/mine/bin:$PATH\n"


def _settings(content, mode=0o644):
    return lambda world, home: write_settings(world, home, content, mode)


def _bashrc(content, mode=0o644):
    def make(world, home):
        (home / ".bashrc").write_bytes(content)
        (home / ".bashrc").chmod(mode)
        own(world, home / ".bashrc")

    return make


def _both(world, home):
    _settings(SETTINGS_OK)(world, home)
    _bashrc(BASHRC_OK)(world, home)


def _dangling(world, home):
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").symlink_to(home / "dotfiles" / "missing.json")


def _read_only_home(world, home):
    _bashrc(BASHRC_OK)(world, home)
    home.chmod(0o555)


PROFILES = {"client_targets": ["shell_profiles"], "client_shells": ["bash"]}

# (id, setup, variables, words the message must hold; {settings}/{bashrc}/{home} are paths)
CASES = [
    (
        "invalid-json",
        _settings(b'{\n  "model": "opus"\n  "env": {}\n}\n'),
        {},
        ["{settings}", "line 3, column 3", "Fix it"],
    ),
    ("top-level-list", _settings(b'[{"model": "opus"}]\n'), {}, ["{settings}", "a list", "wrap the settings in"]),
    (
        "env-not-object",
        _settings(b'{"env": "OTEL_METRICS_EXPORTER=otlp"}'),
        {},
        ["{settings}", "'env' key must be a JSON object"],
    ),
    (
        "byte-order-mark",
        _settings(b'\xef\xbb\xbf{"model": "opus"}'),
        {},
        ["{settings}", "byte order mark", "without BOM"],
    ),
    ("read-only-settings", _settings(SETTINGS_OK, 0o444), {}, ["{settings}", "read-only", "chmod u+w"]),
    ("read-only-home", _read_only_home, {}, ["{home}", "read-only", "chmod u+w {home}"]),
    ("dangling-settings-link", _dangling, {}, ["{settings}", "does not exist", "remove the link"]),
    (
        "stray-begin-marker",
        _bashrc(f"{BEGIN}\nexport PATH=/x:$PATH\n".encode()),
        PROFILES,
        ["{bashrc}", "begin marker", "line 1", "To fix"],
    ),
    ("stray-end-marker", _bashrc(f"export A=1\n{END}\n".encode()), PROFILES, ["{bashrc}", "end marker", "To fix"]),
    (
        "duplicated-block",
        _bashrc(f"{BEGIN}\n{END}\nx=1\n{BEGIN}\n{END}\n".encode()),
        PROFILES,
        ["{bashrc}", "more than one", "lines 1, 2, 4, 5"],
    ),
    ("read-only-profile", _bashrc(BASHRC_OK, 0o444), PROFILES, ["{bashrc}", "read-only", "chmod u+w"]),
    (
        "typo-client-targets",
        _both,
        {"client_targets": ["user_settings", "shell_profile"]},
        ["client_targets", "shell_profiles"],
    ),
    ("typo-client-state", _both, {"client_state": "absnet"}, ["client_state", "present, absent"]),
    ("typo-client-otlp-protocol", _both, {"client_otlp_protocol": "http"}, ["client_otlp_protocol", "http/protobuf"]),
    (
        "typo-client-unreachable-action",
        _both,
        {"client_unreachable_action": "warning"},
        ["client_unreachable_action", "warn"],
    ),
    (
        "typo-client-shells",
        _both,
        {**PROFILES, "client_shells": ["bash", "zhs"]},
        ["client_shells", "'zhs'", "bash, zsh or fish"],
    ),
    ("shells-not-a-list", _both, {**PROFILES, "client_shells": "bash"}, ["client_shells", "auto or a list"]),
    ("typo-temporality", _both, {"client_metrics_temporality": "cumulative"}, ["client_metrics_temporality", "delta"]),
    (
        "interval-not-a-number",
        _both,
        {"client_metric_export_interval": "60s"},
        ["client_metric_export_interval", "int"],
    ),
    ("interval-zero", _both, {"client_logs_export_interval": 0}, ["client_logs_export_interval", "greater than 0"]),
    (
        "header-newline",
        _both,
        {**PROFILES, "client_otlp_headers": {"Authorization": "Bearer x\nexport EVIL=1"}},
        ["client_otlp_headers", "Authorization", "line break"],
    ),
    ("header-comma", _both, {"client_otlp_headers": {"Authorization": "Bearer a,b"}}, ["client_otlp_headers", "comma"]),
    (
        "bad-resource-key",
        _both,
        {"client_resource_attributes_extra": {"my team": "x"}},
        ["client_resource_attributes_extra", "'my team'"],
    ),
    ("bad-extra-env-name", _both, {"client_extra_env": {"MY-VAR": "x"}}, ["client_extra_env", "'MY-VAR'"]),
    (
        "endpoint-without-scheme",
        _both,
        {"client_otlp_endpoint": "collector.lan:4318"},
        ["client_otlp_endpoint", "http://"],
    ),
]


@pytest.mark.parametrize(("setup", "variables", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_nothing_is_touched(world, home, setup, variables, words):
    setup(world, home)
    before = hashes(home)
    res = play(world, **variables)
    assert res.rc != 0, res.explain()
    msg = " ".join(res.failures())
    paths = {"settings": home / ".claude" / "settings.json", "bashrc": home / ".bashrc", "home": home}
    for word in words:
        assert word.format(**paths) in msg, (word.format(**paths), msg)
    assert "Bearer x" not in res.stdout
    assert hashes(home) == before
