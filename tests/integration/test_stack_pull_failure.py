"""An image this host cannot pull: site.yml fails naming the image and the variable that sets it."""

from __future__ import annotations

import subprocess

import pytest
from helpers import deploy, playbook

pytestmark = pytest.mark.testbed


def test_an_image_that_cannot_be_pulled_is_named_with_its_variable(testbed, tmp_path):
    missing = "claude-obs-testbed/no-such-prometheus:0.0.1"
    extra = deploy.stack_vars(testbed, tmp_path, "pull", {"prometheus_image": missing, "stack_pull": "missing"})
    try:
        proc, recap = playbook.run("site.yml", deploy.ansible_vars(extra), check=False)
        assert recap["localhost"]["failed"] == 1, proc.stdout[-3000:]
        assert f"could not get the image {missing} of the prometheus service: set prometheus_image" in proc.stdout, (
            proc.stdout[-3000:]
        )
        running = subprocess.run(
            ["docker", "compose", "-p", extra["stack_project_name"], "ps", "--services", "--status", "running"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        assert "prometheus" not in running
    finally:
        deploy.down(extra)
