"""The molecule scenario of the server side, as a user would run it: converge, idempotence,
verify, destroy (metrics only; the flavours are covered by test_stack_opensearch.py and
test_stack_flavours_render.py, which run the same site.yml)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from helpers import procs

pytestmark = pytest.mark.slow(seconds=60)  # the conftest starts the longest first

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("scenario", ["stack"])
def test_molecule_scenario(testbed, tmp_path, scenario):
    name = f"cco-mol-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        **testbed,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "STACK_PROJECT_NAME": name,
        "STACK_PROJECT_DIR": str(tmp_path / name),
        "OTLP_GRPC_PORT": str(procs.free_port()),
        "OTLP_HTTP_PORT": str(procs.free_port()),
        "HEALTH_PORT": str(procs.free_port()),
        "PROMETHEUS_PORT": str(procs.free_port()),
        "OPENSEARCH_PORT": str(procs.free_port()),
        "ANSIBLE_FORCE_COLOR": "0",
        "NO_COLOR": "1",
    }
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "molecule"), "test", "-s", scenario],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
    for step in ("converge", "idempotence", "verify", "destroy"):
        assert f"{step}: Executed: Successful" in out, f"{step} did not succeed:\n{out[-4000:]}"
    # destroy removed everything it made
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={name}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert left == ""
