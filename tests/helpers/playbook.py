"""Run the collection's playbooks the way a user does, and read the recap."""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def run(playbook: str, extra_vars: dict, *args: str, timeout: int = 900, check: bool = True):
    """Run ansible-playbook from the repository root; returns (proc, {host: recap}).

    site.yml leaves this machine's Claude Code alone unless the test asks (site_clients): the
    local inventory's machine is also a client, and its home is not the test's to change."""
    if Path(playbook).name == "site.yml":
        extra_vars = {"site_clients": False, **extra_vars}
    vars_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"cco-vars-{os.getpid()}-{abs(hash(playbook))}.json"
    vars_file.write_text(json.dumps(extra_vars))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    started, cpu = time.monotonic(), _children_cpu()
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), playbook, "-e", f"@{vars_file}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    vars_file.unlink(missing_ok=True)
    _log_run(playbook, args, time.monotonic() - started, _children_cpu() - cpu)
    recap = {
        m[0]: {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]), "failed": int(m[4])}
        for m in RECAP.findall(proc.stdout)
    }
    if check:
        assert proc.returncode == 0, (
            f"ansible-playbook {playbook} {args} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
        )
    return proc, recap


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _log_run(playbook, args, seconds, cpu):
    """With CCO_PLAYBOOK_LOG set, append one line per run: where the suite spends its time (wall
    seconds, then the CPU seconds of ansible-playbook and every process it waited for)."""
    log = os.environ.get("CCO_PLAYBOOK_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
            fh.write(f"{seconds:.1f}\t{playbook}\t{' '.join(args)}\t{test}\t{cpu:.1f}\n")
