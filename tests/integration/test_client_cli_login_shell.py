"""The shell-profile target end to end: the real role writes the block into a Debian-style home,
then the real Claude Code CLI, started from an interactive login bash of that user, exports its
metrics and events (OTLP/HTTP JSON) to a sink. Nothing else tells Claude Code where to send."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import client_otlp_sink  # noqa: E402
from client_playbook import run_playbook, temp_users, write_inventory  # noqa: E402
from helpers.claude_cli import CLI_VERSION  # noqa: E402
from stand_ins import messages_api  # noqa: E402

TOKEN = "tok-login-5a1f"
# What Debian's /etc/skel gives a new user: ~/.profile sources ~/.bashrc in a login bash.
PROFILE = 'if [ -n "$BASH_VERSION" ] && [ -f "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi\n'


def test_cli_started_from_a_login_bash_sends_telemetry(claude_bin, tmp_path):
    with client_otlp_sink.serve() as sink, messages_api.serve() as api, temp_users(1) as (user,):
        home = Path(user.pw_dir)
        skel = Path("/etc/skel")
        for name, fallback in ((".profile", PROFILE), (".bashrc", "")):
            if (skel / name).exists():
                shutil.copy(skel / name, home / name)
            else:
                (home / name).write_text(fallback)
            shutil.chown(home / name, user.pw_uid, user.pw_gid)
        port = int(sink.url.rsplit(":", 1)[1])
        variables = {
            "client_users": [user.pw_name],
            "client_targets": ["shell_profiles"],
            "client_shells": ["bash"],
            "client_otlp_host": "127.0.0.1",
            "client_otlp_port": port,
            "client_otlp_protocol": "http/json",
            "client_otlp_headers": {"Authorization": f"Bearer {TOKEN}"},
            "client_resource_attributes": {"machine.name": "laptop 42"},
            "client_resource_attributes_extra": {"team": "platform eng, core"},
            "client_metric_export_interval": 1000,
            "client_logs_export_interval": 500,
            "client_unreachable_action": "fail",
        }
        inventory = write_inventory(tmp_path / "hosts.json")
        res = run_playbook(inventory, variables)
        assert res.rc == 0, res.explain()
        assert not (home / ".claude" / "settings.json").exists()

        command = f"{claude_bin} -p 'say hi' --output-format json"
        proc = subprocess.run(
            [
                "runuser",
                "-u",
                user.pw_name,
                "--",
                "env",
                "-i",
                f"HOME={home}",
                f"USER={user.pw_name}",
                "PATH=/usr/local/bin:/usr/bin:/bin",
                "TERM=dumb",
                f"ANTHROPIC_BASE_URL={api.url}",
                "ANTHROPIC_API_KEY=sk-ant-test-dummy",
                "DISABLE_AUTOUPDATER=1",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
                "bash",
                "-l",
                "-i",
                "-c",
                command,
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=180,
            cwd=home,
            check=False,
        )
        assert proc.returncode == 0, f"claude failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out["result"] == messages_api.REPLY, out
        sink.wait(
            lambda s: "claude_code.session.count" in s.metric_names() and "user_prompt" in s.event_names(),
            timeout=45,
            what="Claude Code metrics and events from the login shell",
        )
        for signal in ("metrics", "logs"):
            for resource in sink.resources(signal):
                attrs = client_otlp_sink.attributes(resource["resource"]["attributes"])
                assert attrs["service.version"] == CLI_VERSION
                assert (attrs["machine.name"], attrs["team"]) == ("laptop 42", "platform eng, core"), attrs
        sums = [
            m["sum"]
            for r in sink.resources("metrics")
            for sm in r.get("scopeMetrics", [])
            for m in sm.get("metrics", [])
            if "sum" in m
        ]
        # OTLP: 1 is AGGREGATION_TEMPORALITY_DELTA, what client_metrics_temporality asks for.
        assert sums and all(s.get("aggregationTemporality") == 1 for s in sums), sums
