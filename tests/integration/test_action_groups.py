"""meta/runtime.yml action groups: module_defaults set once reach every module of a group."""

from __future__ import annotations

from pathlib import Path

from helpers import playbook, procs


def test_module_defaults_groups_reach_every_module():
    port = procs.free_port()  # nothing listens: each module must fail naming this url
    proc, recap = playbook.run(
        str(Path(__file__).parent / "playbooks" / "module_defaults_groups.yml"), {"closed_port": port}
    )
    assert recap["localhost"]["failed"] == 0
    assert proc.stdout.count(f"127.0.0.1:{port}") >= 3
