"""Helpers for the client role's tests: throw-away local users, running client.yml, and exact
snapshots of the files the role may touch."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@contextlib.contextmanager
def temp_users(count: int, shells: list[str] | None = None):
    """Create `count` local users with homes under a fresh directory; remove them afterwards."""
    if os.geteuid() != 0:
        raise RuntimeError("the client role tests create local users and must run as root")
    base = Path(tempfile.mkdtemp(prefix="claude-obs-client-"))
    os.chmod(base, 0o755)
    made = []
    try:
        for i in range(count):
            name = f"ccobs{uuid.uuid4().hex[:8]}"
            home = base / name
            shell = (shells or ["/bin/bash"])[i % len(shells or ["/bin/bash"])]
            subprocess.run(["useradd", "-M", "-d", str(home), "-s", shell, "-U", name], check=True, capture_output=True)
            made.append(name)
            home.mkdir(mode=0o750)
            entry = pwd.getpwnam(name)
            os.chown(home, entry.pw_uid, entry.pw_gid)
        yield [pwd.getpwnam(n) for n in made]
    finally:
        for name in made:
            subprocess.run(["userdel", name], check=False, capture_output=True)
            subprocess.run(["groupdel", name], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def write_inventory(path: Path, server_host: str = "127.0.0.1", server_name: str = "obs1") -> Path:
    path.write_text(
        json.dumps(
            {
                "all": {
                    "children": {
                        "observability_servers": {"hosts": {server_name: {"ansible_host": server_host}}},
                        "claude_clients": {"hosts": {"localhost": {}}},
                    },
                    "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                }
            }
        )
    )
    return path


class Run:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        try:
            self.data = json.loads(proc.stdout[proc.stdout.index("{") :]) if "{" in proc.stdout else {}
        except ValueError:
            self.data = {}

    @property
    def stats(self) -> dict:
        return self.data.get("stats", {}).get("localhost", {})

    @property
    def changed(self) -> int:
        return self.stats.get("changed", -1)

    def changed_tasks(self) -> list[str]:
        """Names of the tasks (with loop items) that reported a change."""
        out = []
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                res = task.get("hosts", {}).get("localhost", {})
                items = res.get("results") or [res]
                for item in items:
                    if item.get("changed"):
                        out.append(task["task"]["name"])
        return out

    def failures(self) -> list[str]:
        msgs = []
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                res = task.get("hosts", {}).get("localhost", {})
                if res.get("failed") and not res.get("ignore_errors"):
                    msgs.append(res.get("msg", ""))
                for item in res.get("results") or []:
                    if item.get("failed"):
                        msgs.append(item.get("msg", ""))
        return msgs

    def explain(self) -> str:
        return f"rc={self.rc}\nSTDOUT (tail):\n{self.stdout[-6000:]}\nSTDERR:\n{self.stderr[-3000:]}"


def run_playbook(
    inventory: Path, extra_vars: dict, *args: str, playbook: str = "client.yml", timeout: int = 300
) -> Run:
    vars_file = inventory.parent / f"vars-{uuid.uuid4().hex[:6]}.json"
    vars_file.write_text(json.dumps(extra_vars))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
    }
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), playbook, "-e", f"@{vars_file}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(proc)


def snapshot(*roots: Path) -> dict:
    """Every path under the roots with its type, owner, mode and content: equal snapshots mean
    byte-identical files and identical metadata."""
    out = {}
    for root in roots:
        if not root.exists():
            out[str(root)] = None
            continue
        for path in [root, *sorted(root.rglob("*"))]:
            st = path.lstat()
            entry = (stat.S_IFMT(st.st_mode), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
            if path.is_file():
                entry += (path.read_bytes(),)
            out[str(path)] = entry
    return out


def recap_counts(text: str) -> dict:
    match = re.search(r"changed=(\d+).*?failed=(\d+)", text)
    return {"changed": int(match.group(1)), "failed": int(match.group(2))} if match else {}
