"""CPU of a repeated converge (nothing to change) with the test venv's module fork server and without
(tests/testbed/module_forkserver.py): the figure the suite's time follows, since it runs hundreds.

Brings up a metrics-only stack with the test bed's images, then converges it again --runs times with
each setting, alternating; CPU is the whole machine's (/proc/stat), so the forked modules, which are
not the playbook's children, count too: run it on an otherwise idle machine. Removes what it started.

    make venv-test testbed && .venv/bin/python benchmarks/module_forkserver.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import deploy, playbook  # noqa: E402
from stack_converge import testbed_env  # noqa: E402
from testbed import module_forkserver  # noqa: E402


def machine_cpu() -> float:
    """CPU seconds the whole machine has spent busy since boot."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def converge(extra: dict) -> tuple[float, float]:
    wall, cpu = time.monotonic(), machine_cpu()
    _proc, recap = playbook.run("site.yml", extra)
    assert recap["localhost"]["changed"] == 0, recap
    return time.monotonic() - wall, machine_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="converges with each setting")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        socket_path = Path(tmp) / "socket"
        server = module_forkserver.start(socket_path)
        extra = deploy.stack_vars(testbed_env(), Path(tmp), "bench")
        try:
            playbook.run("site.yml", extra)
            figures = {"own python3": [], "fork server": []}
            for _run in range(args.runs):
                for setting, runs in figures.items():
                    os.environ["CCO_MODULE_FORKSERVER"] = str(socket_path) if setting == "fork server" else "0"
                    runs.append(converge(extra))
        finally:
            deploy.down(extra)
            server.terminate()
            server.wait(timeout=10)
    print(f"repeated converge of a metrics-only stack, median of {args.runs}")
    print(f"{'modules run in':<16}{'wall s':>10}{'CPU s':>10}")
    medians = {
        setting: (statistics.median(w for w, _c in runs), statistics.median(c for _w, c in runs))
        for setting, runs in figures.items()
    }
    for setting, (wall, cpu) in medians.items():
        print(f"{setting:<16}{wall:>10.2f}{cpu:>10.2f}")
    own, forked = medians["own python3"], medians["fork server"]
    print(f"fork server / own python3: wall {forked[0] / own[0]:.2f}x, CPU {forked[1] / own[1]:.2f}x")


if __name__ == "__main__":
    main()
