"""The shell-profile target, executed: the real role writes the block, then real bash, zsh and fish
start as the user would start them (interactive, reading their own profile from $HOME) and every
variable must arrive with exactly the value meant, including spaces, quotes, '$', commas and a
bearer token."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from client_playbook import run_playbook, temp_users, write_inventory  # noqa: E402
from helpers import procs  # noqa: E402

SHELLS = ("bash", "zsh", "fish")
TOKEN = "tok-$HOME-'q'-\"dq\"-`x`"  # every character a shell could expand or end a quote on
DUMP = "import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith(('OTEL_', 'CLAUDE_'))}))"


def require_shells():
    missing = [s for s in SHELLS if shutil.which(s) is None]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], capture_output=True, check=False)
        missing = [s for s in SHELLS if shutil.which(s) is None]
    if missing:
        pytest.fail(
            f"shells {missing} are not installed and could not be installed: "
            f"run 'apt-get install -y {' '.join(missing)}' (the test bed installs zsh and fish)"
        )


def shell_env(shell: str, home: Path) -> dict:
    """Start `shell` interactively with a clean environment, as a terminal would, and return the
    telemetry variables it ends up with."""
    argv = {
        "bash": ["bash", "-i", "-c"],
        "zsh": ["zsh", "-i", "-c"],
        "fish": ["fish", "-i", "-c"],
    }[shell]
    proc = subprocess.run(
        [*argv, f'{sys.executable} -c "{DUMP}"'],
        env={"HOME": str(home), "PATH": os.environ["PATH"], "TERM": "dumb"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=home,
    )
    assert proc.returncode == 0, (shell, proc.stdout, proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    require_shells()
    tmp = tmp_path_factory.mktemp("client-shells")
    with temp_users(1) as (user,):
        yield {"user": user, "home": Path(user.pw_dir), "inventory": write_inventory(tmp / "hosts.json")}


def test_profiles_export_every_value_exactly(home):
    user, path = home["user"], home["home"]
    # The user's own lines stay in force next to the block.
    (path / ".bashrc").write_text('export PATH="$HOME/bin:$PATH"\nexport MY_OWN=kept\n')
    port = procs.free_port()
    variables = {
        "client_users": [user.pw_name],
        "client_targets": ["shell_profiles"],
        "client_shells": list(SHELLS),
        "client_check_reachability": False,
        "client_otlp_port": port,
        "client_otlp_headers": {"Authorization": f"Bearer {TOKEN}"},
        "client_resource_attributes": {"machine.name": "Anna's Mac"},
        "client_resource_attributes_extra": {"team": 'platform eng, "core"', "cost.center": "a=b;$x%"},
        "client_extra_env": {"CLAUDE_CODE_EXTRA_TEST": 'it\'s $HOME `date` \\ "x"'},
        "client_log_user_prompts": True,
    }
    res = run_playbook(home["inventory"], variables)
    assert res.rc == 0, res.explain()
    assert TOKEN not in res.stdout

    expected = {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_TRACES_EXPORTER": "none",
        "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "0",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {TOKEN}",
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta",
        "OTEL_METRIC_EXPORT_INTERVAL": "60000",
        "OTEL_LOGS_EXPORT_INTERVAL": "5000",
        "OTEL_LOG_USER_PROMPTS": "1",
        "OTEL_LOG_TOOL_DETAILS": "0",
        "OTEL_METRICS_INCLUDE_SESSION_ID": "true",
        "OTEL_METRICS_INCLUDE_VERSION": "false",
        "OTEL_METRICS_INCLUDE_ACCOUNT_UUID": "true",
        "OTEL_METRICS_INCLUDE_REPOSITORY": "true",
        # W3C baggage: space, quote, comma, ';', '=' and '%' percent-encoded; '$' and "'" are legal.
        "OTEL_RESOURCE_ATTRIBUTES": (
            "machine.name=Anna's%20Mac,team=platform%20eng%2C%20%22core%22,cost.center=a%3Db%3B$x%25"
        ),
        "CLAUDE_CODE_EXTRA_TEST": 'it\'s $HOME `date` \\ "x"',
    }
    for shell in SHELLS:
        got = shell_env(shell, path)
        assert got == expected, (shell, {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v})

    # bash still runs the user's own lines.
    out = subprocess.run(
        ["bash", "-i", "-c", "echo $MY_OWN; echo $PATH"],
        env={"HOME": str(path), "PATH": "/usr/bin:/bin", "TERM": "dumb"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out[-2:] == ["kept", f"{path}/bin:/usr/bin:/bin"]

    # Switched off again: the shells no longer export anything of ours.
    absent = run_playbook(home["inventory"], {**variables, "client_state": "absent"})
    assert absent.rc == 0, absent.explain()
    for shell in SHELLS:
        assert shell_env(shell, path) == {}, shell
    assert (path / ".bashrc").read_text() == 'export PATH="$HOME/bin:$PATH"\nexport MY_OWN=kept\n'
