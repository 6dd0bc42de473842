"""Runs the molecule scenario of the client role (molecule/client) as part of the suite."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow(seconds=50)  # the conftest starts the longest first

ROOT = Path(__file__).resolve().parents[2]


def test_molecule_client_scenario():
    bindir = Path(sys.executable).parent
    user = f"ccobsmol{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "PATH": f"{bindir}:{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "CLIENT_MOLECULE_USER": user,
        "ANSIBLE_NOCOLOR": "1",
        "NO_COLOR": "1",
    }
    proc = subprocess.run(
        [str(bindir / "molecule"), "test", "-s", "client"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
    for step in ("converge", "idempotence", "verify", "side_effect", "cleanup"):
        assert f"{step}: Executed: Successful" in out, f"{step} did not run:\n{out[-4000:]}"
    assert subprocess.run(["id", user], capture_output=True, check=False).returncode != 0, (
        "the scenario left its user behind"
    )
    assert not Path(f"/tmp/{user}").exists()
