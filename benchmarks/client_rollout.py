"""Time to roll the client role out to N machines, for N = 1, 5, 20 (or --sizes).

Client machines are containers on this machine's Docker (the test bed's
client-host image) reached with the community.docker.docker connection; the
server side is not started (the client only needs its address). Prints one row
per N: first run, second run (changed=0 expected), and per-host time.

    .venv-test/bin/python benchmarks/client_rollout.py [--sizes 1 5 20] [--forks 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import multihost, playbook  # noqa: E402


def testbed_env() -> dict:
    cache = os.environ.get("CLAUDE_OBS_CACHE") or os.path.expanduser("~/.cache/claude-code-observability")
    env = {}
    for line in Path(cache, "testbed.env").read_text().splitlines():
        key, _sep, value = line.partition("=")
        env[key] = value
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--forks", type=int, default=10)
    args = parser.parse_args()
    tb = testbed_env()
    server = multihost.bridge_address()
    extra = {"client_otlp_protocol": "http/json", "client_unreachable_action": "warn"}
    print(f"{'N':>3}  {'first run':>10}  {'second run':>10}  {'per host (first)':>16}  changed on 2nd")
    for n in args.sizes:
        clients = multihost.start_clients(tb["CLIENT_HOST_IMAGE"], n, prefix=f"cco-bench-{n}")
        try:
            with tempfile.TemporaryDirectory() as tmp:
                inv = multihost.inventory(Path(tmp) / "inventory.json", server, clients)
                t0 = time.monotonic()
                playbook.run("client.yml", extra, "-i", str(inv), "--forks", str(args.forks))
                first = time.monotonic() - t0
                t0 = time.monotonic()
                _proc, recap = playbook.run("client.yml", extra, "-i", str(inv), "--forks", str(args.forks))
                second = time.monotonic() - t0
                changed = sum(recap[c]["changed"] for c in clients)
                print(f"{n:>3}  {first:>9.1f}s  {second:>9.1f}s  {first / n:>15.2f}s  {changed}")
        finally:
            multihost.remove_clients(clients)


if __name__ == "__main__":
    main()
