"""docker_engine fails with what to do, and passes where Docker is usable."""

from __future__ import annotations

from pathlib import Path

from helpers import playbook

PLAYS = Path(__file__).parent / "playbooks"


def test_missing_engine_names_what_to_install():
    proc, recap = playbook.run(str(PLAYS / "docker_engine_missing.yml"), {}, check=False)
    assert proc.returncode != 0 and recap["localhost"]["failed"] == 1
    assert "Docker Engine does not answer" in proc.stdout
    assert "apt-get install docker.io" in proc.stdout
    assert "docker_engine_install=true" in proc.stdout
    # The play gathered no facts: the role read the OS (Debian here, so no "Debian/Ubuntu only").
    assert "Gather the minimal facts" in proc.stdout and "(Debian/Ubuntu only)" not in proc.stdout


def test_max_map_count_too_low_is_a_clear_failure():
    current = int(Path("/proc/sys/vm/max_map_count").read_text())
    proc, recap = playbook.run(
        str(PLAYS / "docker_engine_map_count.yml"), {"map_count_needed": current + 1}, check=False
    )
    assert proc.returncode != 0
    assert f"vm.max_map_count is {current}; OpenSearch needs at least {current + 1}" in proc.stdout
    assert "docker_engine_set_max_map_count=true" in proc.stdout
    proc, recap = playbook.run(str(PLAYS / "docker_engine_map_count.yml"), {"map_count_needed": current})
    assert recap["localhost"]["changed"] == 0
