"""The client role against this machine's real files: throw-away users and homes, every target,
idempotence, an honest check mode, and a removal that gives back exactly what was there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from client_playbook import run_playbook, snapshot, temp_users, write_inventory  # noqa: E402
from helpers import procs  # noqa: E402

pytestmark = pytest.mark.slow(seconds=80)  # the conftest starts the longest first

TOKEN = "tok-51c0f78485e7ae77"
BASHRC = "# ~/.bashrc of a real person\nexport EDITOR=vim  # keep me\nalias ll='ls -l'"  # no final newline
SETTINGS = json.dumps({"model": "opus", "env": {"MY_OWN": "x"}, "permissions": {"allow": ["Bash(ls)"]}}, indent=2)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two users: one with a lived-in home (settings, .bashrc, zsh as login shell), one with an
    empty home and fish as login shell. Shells are detected (client_shells: auto)."""
    tmp = tmp_path_factory.mktemp("client-role")
    with temp_users(2, shells=["/bin/zsh", "/usr/bin/fish"]) as (alice, bob):
        home = Path(alice.pw_dir)
        (home / ".claude").mkdir(mode=0o700)
        (home / ".claude" / "settings.json").write_text(SETTINGS)
        (home / ".claude" / "settings.json").chmod(0o644)
        (home / ".bashrc").write_text(BASHRC)
        for path in (home / ".claude", home / ".claude" / "settings.json", home / ".bashrc"):
            os.chown(path, alice.pw_uid, alice.pw_gid)
        managed = tmp / "etc" / "claude-code" / "managed-settings.json"
        managed.parent.parent.mkdir()  # like /etc: there before, there after
        yield {
            "alice": alice,
            "bob": bob,
            "tmp": tmp,
            "inventory": write_inventory(tmp / "hosts.json"),
            "managed": managed,
            "roots": [Path(alice.pw_dir), Path(bob.pw_dir), tmp / "etc"],
        }


def base_vars(world, **extra) -> dict:
    return {
        "client_users": [world["alice"].pw_name, world["bob"].pw_name],
        "client_targets": ["user_settings", "managed_settings", "shell_profiles"],
        "client_managed_settings_path": str(world["managed"]),
        "client_otlp_port": procs.free_port(),  # nothing listens there: the default action only warns
        "client_reachability_timeout": 1,
        "client_otlp_headers": {"Authorization": f"Bearer {TOKEN}"},
        "client_resource_attributes_extra": {"team": "platform eng, core"},
        "client_log_tool_details": True,
        **extra,
    }


def test_full_cycle(world):
    alice, bob = world["alice"], world["bob"]
    ahome, bhome = Path(alice.pw_dir), Path(bob.pw_dir)
    pristine = snapshot(*world["roots"])
    variables = base_vars(world)

    # 1. A check run on a fresh machine reports the changes and touches nothing.
    check = run_playbook(world["inventory"], variables, "--check", "--diff")
    assert check.rc == 0, check.explain()
    assert check.changed > 0
    assert snapshot(*world["roots"]) == pristine
    assert TOKEN not in check.stdout

    # 2. The real run.
    first = run_playbook(world["inventory"], variables, "--diff")
    assert first.rc == 0, first.explain()
    assert TOKEN not in first.stdout and TOKEN not in first.stderr
    assert "is not reachable" in first.stdout  # the warning
    # Check mode announced every file change the real run made (the fish profile of a home without
    # ~/.config is announced by the task that creates its directory).
    missing = set(first.changed_tasks()) - set(check.changed_tasks())
    assert all("config.fish" in t for t in missing), missing

    # User settings: other keys kept, order kept, owner kept, all telemetry keys there.
    doc = json.loads((ahome / ".claude" / "settings.json").read_text())
    assert list(doc) == ["model", "env", "permissions"] and doc["permissions"] == {"allow": ["Bash(ls)"]}
    env = doc["env"]
    assert next(iter(env)) == "MY_OWN" and env["MY_OWN"] == "x"
    port = variables["client_otlp_port"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://127.0.0.1:{port}"  # first observability server
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "machine.name=localhost,team=platform%20eng%2C%20core"
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == f"Authorization=Bearer {TOKEN}"
    assert env["OTEL_LOG_TOOL_DETAILS"] == "1" and env["OTEL_LOG_USER_PROMPTS"] == "0"
    assert "OTEL_EXPORTER_OTLP_CERTIFICATE" not in env
    st = (ahome / ".claude" / "settings.json").stat()
    assert (st.st_uid, st.st_mode & 0o777) == (alice.pw_uid, 0o644)
    # Bob had nothing: directory and file created, his, private.
    bsettings = bhome / ".claude" / "settings.json"
    assert json.loads(bsettings.read_text())["env"]["OTEL_METRICS_EXPORTER"] == "otlp"
    for path, mode in ((bhome / ".claude", 0o700), (bsettings, 0o600)):
        st = path.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (bob.pw_uid, bob.pw_gid, mode), path

    # Managed settings: world-readable, same variables.
    managed = json.loads(world["managed"].read_text())
    assert managed["env"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == env["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert world["managed"].stat().st_mode & 0o777 == 0o644

    # Shell profiles: bash keeps its lines (and gets the block), fish uses its own syntax.
    bashrc = (ahome / ".bashrc").read_text()
    assert bashrc.startswith(BASHRC + "\n") and "export EDITOR=vim  # keep me" in bashrc
    assert "export OTEL_METRICS_EXPORTER=otlp" in bashrc
    assert "# >>> claude_code.observability (managed by Ansible) >>>" in bashrc
    zshrc = (ahome / ".zshrc").read_text()
    assert "export CLAUDE_CODE_ENABLE_TELEMETRY=1" in zshrc
    fish = (bhome / ".config" / "fish" / "config.fish").read_text()
    assert "set -gx OTEL_METRICS_EXPORTER 'otlp'" in fish and "export " not in fish
    assert not (bhome / ".bashrc").exists() and not (ahome / ".config").exists()
    for path in (ahome / ".zshrc", bhome / ".config", bhome / ".config" / "fish"):
        assert path.stat().st_uid == (alice if path.is_relative_to(ahome) else bob).pw_uid, path
    # The block is real shell: sourcing it sets the variables.
    out = subprocess.run(
        ["bash", "-c", f"source {ahome / '.bashrc'} && echo $OTEL_RESOURCE_ATTRIBUTES"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == env["OTEL_RESOURCE_ATTRIBUTES"]

    # 3. Second run: nothing to do; a check run agrees.
    applied = snapshot(*world["roots"])
    second = run_playbook(world["inventory"], variables)
    assert second.rc == 0 and second.changed == 0, (second.changed_tasks(), second.explain())
    recheck = run_playbook(world["inventory"], variables, "--check", "--diff")
    assert recheck.rc == 0 and recheck.changed == 0, recheck.changed_tasks()
    assert snapshot(*world["roots"]) == applied

    # 4. A change of configuration rewrites only what differs and drops what is no longer wanted.
    changed = run_playbook(
        world["inventory"], {**variables, "client_otlp_headers": {}, "client_log_tool_details": False}
    )
    assert changed.rc == 0, changed.explain()
    env = json.loads((ahome / ".claude" / "settings.json").read_text())["env"]
    assert "OTEL_EXPORTER_OTLP_HEADERS" not in env and env["OTEL_LOG_TOOL_DETAILS"] == "0"
    assert TOKEN not in (ahome / ".bashrc").read_text()

    # 5. Removal: every file exactly as before, created files and directories gone.
    check_absent = run_playbook(world["inventory"], {**variables, "client_state": "absent"}, "--check")
    assert check_absent.rc == 0 and check_absent.changed > 0, check_absent.explain()
    absent = run_playbook(world["inventory"], {**variables, "client_state": "absent"}, "--diff")
    assert absent.rc == 0, absent.explain()
    after = snapshot(*world["roots"])
    assert after == pristine, {
        k: (pristine.get(k), after.get(k)) for k in set(after) | set(pristine) if pristine.get(k) != after.get(k)
    }
    again = run_playbook(world["inventory"], {**variables, "client_state": "absent"})
    assert again.rc == 0 and again.changed == 0, again.changed_tasks()


def test_malformed_settings_left_untouched(world):
    alice = world["alice"]
    path = Path(alice.pw_dir) / ".claude" / "settings.json"
    original = path.read_bytes()
    broken = b'{\n  "model": "opus"\n  "env": {\n    "A": "1"\n  }\n}\n'  # a comma missing on line 2
    path.write_bytes(broken)
    try:
        res = run_playbook(
            world["inventory"],
            base_vars(
                world, client_users=[alice.pw_name], client_targets=["user_settings"], client_check_reachability=False
            ),
        )
        assert res.rc != 0, res.explain()
        msg = " ".join(res.failures())
        assert str(path) in msg and "line 3, column 3" in msg and "left untouched" in msg, msg
        assert path.read_bytes() == broken
    finally:
        path.write_bytes(original)


def test_unreachable_collector_actions(world):
    alice = world["alice"]
    variables = base_vars(world, client_users=[alice.pw_name], client_targets=["user_settings"])
    path = Path(alice.pw_dir) / ".claude" / "settings.json"
    original = path.read_bytes()
    try:
        failed = run_playbook(world["inventory"], {**variables, "client_unreachable_action": "fail"})
        assert failed.rc != 0
        assert any("not reachable" in m for m in failed.failures()), failed.explain()
        assert path.read_bytes() == original

        disabled = run_playbook(world["inventory"], {**variables, "client_unreachable_action": "disable"})
        assert disabled.rc == 0, disabled.explain()
        env = json.loads(path.read_text())["env"]
        assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "0" and env["OTEL_METRICS_EXPORTER"] == "otlp"

        # Once the collector answers, the next run switches telemetry back on.
        with procs.process(
            [sys.executable, "-m", "http.server", str(variables["client_otlp_port"]), "--bind", "127.0.0.1"],
            world["tmp"] / "http.log",
            f"http://127.0.0.1:{variables['client_otlp_port']}/",
            cwd=world["tmp"],
        ):
            back = run_playbook(world["inventory"], {**variables, "client_unreachable_action": "fail"})
        assert back.rc == 0, back.explain()
        assert json.loads(path.read_text())["env"]["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    finally:
        run_playbook(world["inventory"], {**variables, "client_state": "absent"})
    assert path.read_bytes() == original
