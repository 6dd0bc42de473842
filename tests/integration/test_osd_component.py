"""OpenSearch Dashboards as a stack component: the opensearch_dashboards role under the
component contract (docs/components.md).

OpenSearch Dashboards cannot be obtained on the test machines (no container registry; not on
PyPI, npm, Maven, the Go proxy or Debian), so nothing here runs a real one:

* its compose service is never started; the real ``docker compose config`` (Compose v2 of the
  test bed) reads the project the stack would write, this service merged with the opensearch
  role's, and says whether compose accepts it and what it resolves it to;
* its bootstrap (tasks/bootstrap.yml) runs against the CONTRACT DOUBLE of the Dashboards HTTP
  APIs, tests/doubles/osd_double.py -- a double, not OpenSearch Dashboards. Test ids say "double".

The ``component`` variable the role is included with is built by the stack's own filters
(stack_catalog, stack_placement, stack_context), and what the role publishes is checked and
merged by stack_published and compose_project, as the stack does.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from doubles.osd_double import OsdDouble
from helpers import playbook

ROOT = Path(__file__).resolve().parents[2]
NDJSON = ROOT / "roles" / "opensearch_bootstrap" / "files" / "dashboards" / "claude-code.ndjson"
OSD_CONFIG_IN_IMAGE = "/usr/share/opensearch-dashboards/config/opensearch_dashboards.yml"
SERVICE = "opensearch-dashboards"
PROJECT = f"cco-osd-{os.getpid()}"
# A LAN address turns the opensearch role's security plugin on (TLS, generated admin password).
SECURED = {"opensearch_bind_address": "192.0.2.10"}

# One server host running OpenSearch and Dashboards, rendered the way roles/stack does it:
# the opensearch role, then opensearch_dashboards' tasks/component.yml with the `component`
# the stack's filters build, then (optionally) its tasks/bootstrap.yml.
PLAY = """\
---
- name: OpenSearch and OpenSearch Dashboards as the stack renders them
  hosts: localhost
  gather_facts: false
  vars:
    cco_components: [opensearch, opensearch_dashboards]
    cco_catalog: "{{ cco_components | claude_code.observability.stack_catalog }}"
    cco_placement: >-
      {{ hostvars | claude_code.observability.stack_placement([inventory_hostname], inventory_hostname,
                                                              cco_components) }}
    cco_options:
      project_dir: "{{ cco_dir }}"
      project_name: "{{ cco_project }}"
      bind_address: 127.0.0.1
      shared_bind: 127.0.0.1
      otlp_bind_address: 127.0.0.1
      wait_timeout: 60
      project_dirs: "{{ {inventory_hostname: cco_dir} }}"
    cco_context: >-
      {{ cco_placement | claude_code.observability.stack_context('opensearch_dashboards', cco_catalog,
                                                                  cco_options, cco_published) }}
  tasks:
    - name: Render the OpenSearch node
      ansible.builtin.include_role:
        name: claude_code.observability.opensearch
      vars:
        opensearch_project_dir: "{{ cco_dir }}"

    - name: Record what OpenSearch published
      ansible.builtin.set_fact:
        cco_published:
          opensearch:
            compose: "{{ opensearch_compose }}"
            endpoints: >-
              {{ {'url': opensearch_url}
                 | combine({'user': opensearch_admin_user, 'password_file': cco_dir ~ '/opensearch/admin-password'}
                           if opensearch_admin_user | length > 0 else {}) }}

    - name: Render OpenSearch Dashboards
      ansible.builtin.include_role:
        name: claude_code.observability.opensearch_dashboards
        tasks_from: component.yml
      vars:
        component: "{{ cco_context }}"

    - name: Keep what OpenSearch Dashboards published
      ansible.builtin.set_fact:
        cco_published: "{{ cco_published | combine({'opensearch_dashboards': opensearch_dashboards_component}) }}"

    - name: Write the published records, as the stack merges them
      ansible.builtin.copy:
        dest: "{{ cco_dir }}/published.json"
        mode: "0644"
        content: >-
          {{ {'published': cco_published,
              'merged': cco_published | claude_code.observability.stack_published(cco_catalog),
              'project': (cco_published | claude_code.observability.stack_published(cco_catalog)).compose_parts
                         | claude_code.observability.compose_project(cco_project)} | to_nice_json }}
      when: not ansible_check_mode

    - name: Bootstrap OpenSearch Dashboards
      ansible.builtin.include_role:
        name: claude_code.observability.opensearch_dashboards
        tasks_from: bootstrap.yml
      vars:
        component: "{{ cco_context }}"
      when: cco_bootstrap | default(false)

    - name: Render OpenSearch Dashboards for a host that does not run it
      ansible.builtin.include_role:
        name: claude_code.observability.opensearch_dashboards
        tasks_from: component.yml
      vars:
        component: "{{ cco_context | combine({'here': false}) }}"

    - name: Write what a host that does not run it publishes
      ansible.builtin.copy:
        dest: "{{ cco_dir }}/published-elsewhere.json"
        mode: "0644"
        content: "{{ opensearch_dashboards_component | to_nice_json }}"
      when: not ansible_check_mode
"""


def run(tmp_path: Path, extra: dict, *args: str, check: bool = True):
    """Run the play on a project directory tmp_path/project; returns (proc, recap of localhost, project dir)."""
    play = tmp_path / "osd_component.yml"
    play.write_text(PLAY)
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    proc, recap = playbook.run(
        str(play), {"cco_dir": str(project), "cco_project": PROJECT, **extra}, *args, check=check
    )
    return proc, recap.get("localhost"), project


def opensearch_tag() -> str:
    defaults = yaml.safe_load((ROOT / "roles" / "opensearch" / "defaults" / "main.yml").read_text())
    return defaults["opensearch_image"].rsplit(":", 1)[1]


def compose_config(project: Path, published: dict) -> tuple[str, dict]:
    """The project the stack would write, as the real docker compose reads it."""
    text = yaml.safe_dump(published["project"], sort_keys=False)
    (project / "compose.yaml").write_text(text)
    proc = subprocess.run(
        [
            "docker",
            "compose",
            "-p",
            PROJECT,
            "--project-directory",
            str(project),
            "-f",
            str(project / "compose.yaml"),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return text, json.loads(proc.stdout)


@pytest.mark.parametrize("secured", [False, True], ids=["security-off", "security-on"])
def test_compose_service_is_accepted_by_docker_compose(tmp_path, secured):
    proc, recap, project = run(tmp_path, SECURED if secured else {})
    assert recap["failed"] == 0
    published = json.loads((project / "published.json").read_text())
    compose_text, config = compose_config(project, published)
    svc = config["services"][SERVICE]

    # Pinned image of the OpenSearch release; published on 127.0.0.1 only.
    assert svc["image"] == f"opensearchproject/opensearch-dashboards:{opensearch_tag()}"
    assert [(p["host_ip"], p["published"], p["target"]) for p in svc["ports"]] == [("127.0.0.1", "5601", 5601)]
    if not secured:
        for name, other in config["services"].items():
            assert all(p["host_ip"] == "127.0.0.1" for p in other.get("ports", [])), name
    assert svc["mem_limit"] == str(1024 * 1024 * 1024)
    assert svc["restart"] == "unless-stopped"
    # OpenSearch runs in the same project: started first, healthy first.
    assert svc["depends_on"] == {"opensearch": {"condition": "service_healthy", "required": True}}

    # The rendered config is mounted read-only where the image reads it, and its hash is the label.
    rendered = project / "opensearch-dashboards" / "opensearch_dashboards.yml"
    assert svc["volumes"] == [
        {
            "type": "bind",
            "source": str(rendered),
            "target": OSD_CONFIG_IN_IMAGE,
            "read_only": True,
            "bind": {"create_host_path": True},
        }
    ]
    assert svc["labels"]["io.claude-obs.config-hash"] == hashlib.sha1(rendered.read_bytes()).hexdigest()
    settings = yaml.safe_load(rendered.read_text())
    assert settings["server.host"] == "0.0.0.0" and settings["server.port"] == 5601
    assert settings["workspace.enabled"] is True
    assert settings["uiSettings"] == {"overrides": {"home:useNewHomePage": True}}
    health = svc["healthcheck"]["test"]
    assert "curl" in " ".join(health) and "http://127.0.0.1:5601/api/status" in " ".join(health)

    secrets = project / "opensearch-dashboards" / "secrets.env"
    record = published["published"]["opensearch_dashboards"]
    assert record["bootstrap"] is True
    assert record["endpoints"]["url"] == "http://127.0.0.1:5601"
    assert record["health"]["url"] == "http://127.0.0.1:5601/api/status"
    assert record["summary"][0] == "OpenSearch Dashboards: http://127.0.0.1:5601 (workspace Claude Code)"
    merged = published["merged"]
    assert merged["bootstrap"] == ["opensearch_dashboards"]
    assert merged["endpoints"]["opensearch_dashboards"] == record["endpoints"]
    assert [h["name"] for h in merged["health"]] == ["opensearch_dashboards"]
    assert merged["probes"]["opensearch_dashboards"] == {
        "title": "OpenSearch Dashboards",
        "url": "http://127.0.0.1:5601",
        "health": {"path": "/api/status", "status": [record["health"]["status"]]},
    }
    assert json.loads((project / "published-elsewhere.json").read_text()) == {}

    if not secured:
        assert settings["opensearch.hosts"] == ["http://opensearch:9200"]
        assert not [k for k in settings if k.startswith(("opensearch_security", "opensearch.user", "opensearch.pass"))]
        assert svc["environment"] == {"DISABLE_SECURITY_DASHBOARDS_PLUGIN": "true"}
        assert health[0] == "CMD" and "-u" not in health
        assert not secrets.exists()
        assert record["health"]["status"] == 200
        assert set(record["endpoints"]) == {"url"}
        assert record["summary"][1].startswith("OpenSearch Dashboards login: none")
        return

    # Security on: https to the stack's OpenSearch with its admin user; the password only in a 0600 env file.
    password = (project / "opensearch" / "admin-password").read_text().strip()
    assert settings["opensearch.hosts"] == ["https://opensearch:9200"]
    assert settings["opensearch.username"] == "admin"
    assert settings["opensearch.password"] == "${OSD_OPENSEARCH_PASSWORD}"
    assert settings["opensearch.ssl.verificationMode"] == "none"  # the image's self-signed demo certificate
    assert settings["opensearch_security.multitenancy.enabled"] is False
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert secrets.read_text() == f"OSD_OPENSEARCH_PASSWORD={password}\n"
    assert svc["environment"] == {"OSD_OPENSEARCH_PASSWORD": password}  # compose resolved the env file
    assert "DISABLE_SECURITY_DASHBOARDS_PLUGIN" not in svc["environment"]
    assert health[0] == "CMD-SHELL" and "-u admin:" in health[1] and "OSD_OPENSEARCH_PASSWORD" in health[1]
    for text in (rendered.read_text(), compose_text, proc.stdout, json.dumps(published)):
        assert password not in text
    assert record["health"]["status"] == 401  # /api/status wants a login; the healthcheck logs in
    assert record["endpoints"] == {
        "url": "http://127.0.0.1:5601",
        "user": "admin",
        "password_file": str(project / "opensearch" / "admin-password"),
    }
    assert record["summary"][1] == (
        f"OpenSearch Dashboards login: admin, password in {project / 'opensearch' / 'admin-password'}"
    )


def test_bootstrap_loads_workspace_and_dashboards_once_double(tmp_path):
    """tasks/bootstrap.yml against the OSD DOUBLE, logged in with the stack's OpenSearch credentials."""
    password = "Cc1-Osd-double-4-component"
    kept = tmp_path / "project" / "opensearch"
    kept.mkdir(parents=True)
    (kept / "admin-password").write_text(password + "\n")
    (kept / "admin-password").chmod(0o600)
    double = OsdDouble("admin", password)
    url = double.start()
    try:
        extra = {**SECURED, "opensearch_dashboards_port": int(url.rsplit(":", 1)[1]), "cco_bootstrap": True}
        first, recap1, _project = run(tmp_path, extra)
        assert recap1["changed"] > 0
        ws = double.workspace_by_name("Claude Code")
        assert ws is not None and ws["attributes"]["features"] == ["use-case-observability"]
        objects = [json.loads(line) for line in NDJSON.read_text().splitlines() if line.strip()]
        objects = [o for o in objects if "type" in o]  # the export summary line has none
        for obj in objects:
            stored = double.stored(obj["type"], obj["id"])
            assert stored is not None and stored["workspaces"] == [ws["id"]], (obj["type"], obj["id"])
            assert stored["attributes"] == obj["attributes"], (obj["type"], obj["id"])
        # The index patterns, the three dashboards plus the audit one, and the audit's saved search.
        assert {o["id"] for o in objects if o["type"] == "index-pattern"} == {"claude-code"}
        assert {o["id"] for o in objects if o["type"] == "dashboard"} == {
            "claude-code-cost-usage",
            "claude-code-activity",
            "claude-code-performance",
            "claude-code-audit",
        }
        assert double.stored("search", "claude-code-audit-events") is not None

        # Again, with the password read from the file the opensearch role published (password_file)
        # instead of its fact: the same login, so nothing changes and nothing is written.
        double.reset_counts()
        second, recap2, _project = run(tmp_path, {**extra, "opensearch_dashboards_opensearch_password": ""})
        assert recap2["changed"] == 0, second.stdout[-4000:]
        assert double.writes() == [] and double.requests, "the second run reads and writes nothing"
        for out in (first.stdout, second.stdout):
            assert password not in out
    finally:
        double.stop()


def test_check_mode_of_a_fresh_render_writes_nothing(tmp_path):
    proc, recap, project = run(tmp_path, SECURED, "--check", "--diff")
    assert recap["failed"] == 0 and recap["changed"] > 0
    assert list(project.iterdir()) == [], "--check wrote files"
    for task in (
        "Create the OpenSearch Dashboards directory",
        "Render the OpenSearch Dashboards config",
        "Write the OpenSearch password for OpenSearch Dashboards",
    ):
        block = re.search(
            r"TASK \[[^\]]*: %s\] \*+\n(.*?)(?=\nTASK \[|\nPLAY RECAP)" % re.escape(task), proc.stdout, re.S
        )
        assert block and "changed: [localhost]" in block.group(1), (task, block and block.group(1))
