"""Figures for the interpreter the venv is made from (the Makefile's PYTHON): CPU seconds of the three
things every Ansible run repeats thousands of times, for each Python 3.11+ found here, and the ratio to
the first one.

- start: an interpreter that imports nothing (each module run starts one);
- module: the import of ansible.module_utils.basic (the floor of every module run);
- work: a pure-Python loop of dict, str and JSON work, like the templating of a task.

Each interpreter runs with -S and the venv's site-packages on PYTHONPATH, so all of them load the same
Ansible. Writes nothing.

    .venv-test/bin/python benchmarks/python_interpreters.py [--repeat 10] [PYTHON ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig

WORK = """
import json
rows = [{"name": str(i), "labels": {"a": i, "b": str(i) * 3}, "values": [i] * 5} for i in range(20000)]
for _ in range(10):
    json.loads(json.dumps(rows))
total = sum(len(r["name"]) + r["labels"]["a"] % 7 for r in rows * 20)
"""

PROBES = {
    "start": "pass",
    "module": "import ansible.module_utils.basic",
    "work": WORK,
}


def cpu_seconds(python: str, code: str, repeat: int, site: str) -> float:
    """User plus system CPU of `repeat` fresh processes (children's rusage, so startup counts)."""
    before = os.times()
    for _run in range(repeat):
        subprocess.run([python, "-S", "-c", code], env={**os.environ, "PYTHONPATH": site}, check=True)
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)


def candidates(given: list[str]) -> list[str]:
    found = given or [
        os.path.realpath(sys.executable),
        "/usr/bin/python3",
        shutil.which("python3") or "",
    ]
    seen, out = set(), []
    for python in found:
        if not python or not os.path.exists(python):
            continue
        real = os.path.realpath(python)
        version = subprocess.run(
            [real, "-c", "import sys; print(sys.version_info >= (3, 11))"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if real not in seen and version == "True":
            seen.add(real)
            out.append(real)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("python", nargs="*", help="interpreters (default: the venv's, /usr/bin/python3, PATH's)")
    args = parser.parse_args()
    site = sysconfig.get_paths()["purelib"]
    pythons = candidates(args.python)
    figures = {p: {name: cpu_seconds(p, code, args.repeat, site) for name, code in PROBES.items()} for p in pythons}
    first = pythons[0]
    print(f"CPU seconds for {args.repeat} processes each (ratio to {first})")
    print(f"{'interpreter':48} " + " ".join(f"{name:>16}" for name in PROBES))
    for python, row in figures.items():
        cells = " ".join(f"{row[n]:7.2f} ({row[n] / figures[first][n]:4.2f}x)" for n in PROBES)
        print(f"{python:48} {cells}")


if __name__ == "__main__":
    main()
