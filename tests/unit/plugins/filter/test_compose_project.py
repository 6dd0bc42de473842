"""The compose project merged from the component roles' parts (plugins/filter/compose_project.py)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import compose_project as cp  # noqa: E402
from ansible_collections.claude_code.observability.plugins.plugin_utils import compose  # noqa: E402

pytestmark = pytest.mark.unit

COLLECTOR = {"role": "otel_collector", "services": {"otel-collector": {"image": "otelcol"}}}
PROMETHEUS = {
    "role": "prometheus",
    "services": {"prometheus": {"image": "prom"}},
    "volumes": {"prometheus-data": {"labels": {}}},
}
GRAFANA = {
    "role": "grafana",
    "services": {"grafana": {"image": "grafana"}},
    "volumes": {"grafana-data": {"labels": {"backup": "yes"}}},
}


def test_parts_are_merged_in_order():
    project = cp.compose_project([COLLECTOR, PROMETHEUS, GRAFANA], "claude-observability")
    assert list(project) == ["name", "services", "volumes"]
    assert project["name"] == "claude-observability"
    assert list(project["services"]) == ["otel-collector", "prometheus", "grafana"]
    assert list(project["volumes"]) == ["prometheus-data", "grafana-data"]
    assert project["volumes"]["grafana-data"] == {"labels": {"backup": "yes"}}
    # The role name is not part of the project.
    assert "role" not in project["services"]


def test_no_parts_is_an_empty_project():
    assert cp.compose_project([], "p") == {"name": "p", "services": {}, "volumes": {}}


def test_a_service_published_twice_names_both_roles():
    loki = {"role": "loki", "services": {"grafana": {"image": "not-grafana"}}}
    with pytest.raises(AnsibleFilterError) as err:
        cp.compose_project([COLLECTOR, GRAFANA, loki], "p")
    assert "service grafana" in str(err.value)
    assert "the grafana role and the loki role" in str(err.value)


def test_a_volume_published_twice_names_both_roles():
    other = {"role": "alertmanager", "services": {"alertmanager": {}}, "volumes": {"prometheus-data": {}}}
    with pytest.raises(AnsibleFilterError, match="volume prometheus-data .*prometheus role and the alertmanager role"):
        cp.compose_project([PROMETHEUS, other], "p")


def test_same_name_as_service_and_volume_is_allowed():
    other = {"role": "loki", "services": {"loki": {}}, "volumes": {"prometheus": {}}}
    project = cp.compose_project([PROMETHEUS, other], "p")
    assert "prometheus" in project["services"]
    assert "prometheus" in project["volumes"]


def test_a_part_without_a_role_is_named_by_position():
    with pytest.raises(AnsibleFilterError, match="part 1 of stack__compose_parts and part 2"):
        cp.compose_project([{"services": {"x": {}}}, {"services": {"x": {}}}], "p")


def test_parts_must_be_a_list_of_dicts():
    with pytest.raises(AnsibleFilterError, match="expects a list"):
        cp.compose_project({"services": {}}, "p")
    with pytest.raises(AnsibleFilterError, match="part 2 is not a dict"):
        cp.compose_project([COLLECTOR, "grafana"], "p")
    with pytest.raises(AnsibleFilterError, match="services of the loki role must be a dict"):
        cp.compose_project([{"role": "loki", "services": ["loki"]}], "p")


def test_filter_is_registered():
    assert cp.FilterModule().filters()["compose_project"] is cp.compose_project


def test_an_image_compose_could_not_pull_is_named_with_its_variable():
    msg = (
        "Error when processing image prom/prometheus:v9.9.9: Error response from daemon: Get "
        '"https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'
    )
    parts = [COLLECTOR, {**PROMETHEUS, "services": {"prometheus": {"image": "prom/prometheus:v9.9.9"}}}]
    out = cp.compose_failure(msg, parts)
    assert "prom/prometheus:v9.9.9 of the prometheus service: set prometheus_image" in out
    assert "otel_collector_image" not in out
    assert out.endswith("docker compose said: " + msg)


def test_the_service_compose_was_pulling_for_names_the_image():
    # What community.docker.docker_compose_v2 returns when the registry cannot be reached.
    result = {
        "actions": [{"id": "prometheus", "status": "Pulling", "what": "image"}],
        "msg": 'Error when processing prometheus: Get "https://registry-1.docker.io/v2/": dial tcp: no such host',
    }
    out = cp.compose_failure(result, [COLLECTOR, PROMETHEUS])
    assert out.startswith("docker compose could not get the image prom of the prometheus service: set prometheus_image")
    assert "otel-collector" not in out


def test_a_failure_without_an_image_keeps_compose_s_words():
    assert (
        cp.compose_failure("container x is unhealthy", [COLLECTOR]) == "docker compose failed: container x is unhealthy"
    )


# --- ports --------------------------------------------------------------------------------

PROM_ON = {"role": "prometheus", "services": {"prometheus": {"ports": ["127.0.0.1:9090:9090"]}}}
# /proc/net/tcp and tcp6 lines of sockets that listen (state 0A): 127.0.0.1:9090, 0.0.0.0:4318,
# [::]:3000, and one connection that does not listen (state 01).
TCP = (
    "  sl  local_address rem_address   st\n"
    "   0: 0100007F:2382 00000000:0000 0A 0\n"
    "   1: 00000000:10DE 00000000:0000 0A 0\n"
    "   2: 0100007F:0CEA 0100007F:9C40 01 0\n"
)
TCP6 = "  sl  local_address\n   0: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000 0A 0\n"


def test_two_services_on_one_host_port_name_both_and_the_fix():
    collector = {"role": "otel_collector", "services": {"otel-collector": {"ports": ["127.0.0.1:9090:13133"]}}}
    with pytest.raises(AnsibleFilterError, match="host port 9090 is published by both the prometheus service"):
        cp.compose_project([PROM_ON, collector], "p")
    # Different addresses of one port do not clash; a wildcard clashes with any.
    other = {"role": "otel_collector", "services": {"otel-collector": {"ports": ["10.0.0.5:9090:13133"]}}}
    cp.compose_project([PROM_ON, other], "p")
    wildcard = {"role": "otel_collector", "services": {"otel-collector": {"ports": ["9090:13133"]}}}
    with pytest.raises(AnsibleFilterError, match="otel_collector_\\*port"):
        cp.compose_project([PROM_ON, wildcard], "p")


def test_a_port_something_else_listens_on_is_named():
    (msg,) = cp.compose_port_conflicts([PROM_ON], [TCP, TCP6], "")
    assert msg.startswith("port 9090 (prometheus service, the prometheus role) is already taken on this host")
    assert "127.0.0.1:9090" in msg and "prometheus_*port" in msg
    # Wildcard listeners (IPv4 and IPv6) take the port on every address.
    grafana = {"role": "grafana", "services": {"grafana": {"ports": ["127.0.0.1:3000:3000"]}}}
    collector = {"role": "otel_collector", "services": {"otel-collector": {"ports": ["192.168.1.2:4318:4318"]}}}
    assert len(cp.compose_port_conflicts([grafana, collector], [TCP, TCP6], "")) == 2
    # A connection is not a listener; a free port is free.
    free = {"role": "loki", "services": {"loki": {"ports": ["127.0.0.1:3306:3100"]}}}
    assert cp.compose_port_conflicts([free], [TCP, TCP6], "") == []


def test_the_project_s_own_running_ports_are_not_a_conflict():
    ps = '{"Service": "prometheus", "State": "running", "Publishers": [{"URL": "127.0.0.1", "PublishedPort": 9090}]}'
    assert cp.compose_port_conflicts([PROM_ON], [TCP], ps) == []
    # docker compose ps of older releases gives one JSON list.
    assert cp.compose_port_conflicts([PROM_ON], [TCP], "[" + ps + "]") == []


def test_config_check_runs_the_image_s_tool_without_network_only_when_the_image_is_here():
    cmd = cp.config_check("prom/prometheus:v3.5.0", "/bin/promtool", ["check", "config", "{file}"], "/etc/p.yml")
    assert cmd.count("%s") == 1
    argv = shlex.split(cmd % "/tmp/rendered file.yml")
    assert argv[:2] == ["sh", "-c"]
    script = argv[2]
    assert script.startswith("if docker image inspect prom/prometheus:v3.5.0 >/dev/null 2>&1; then exec docker run ")
    assert "--network none --pull never" in script and "--entrypoint /bin/promtool" in script
    assert script.endswith("prom/prometheus:v3.5.0 check config /etc/p.yml; fi")
    with pytest.raises(AnsibleFilterError):
        cp.config_check("", "/bin/promtool", [], "/x")
    # Files the config names (a password file, a CA) are mounted beside it, read-only.
    cmd = cp.config_check("p", "/bin/promtool", ["{file}"], "/etc/p.yml", {"/srv/p/tls": "/etc/prometheus/tls"})
    script = shlex.split(cmd % "/tmp/r.yml")[2]
    assert "-v /tmp/r.yml:/etc/p.yml:ro -v /srv/p/tls:/etc/prometheus/tls:ro p /etc/p.yml" in script


def test_config_check_refuses_a_bad_file_and_passes_a_good_one(tmp_path):
    """The command as the template module runs it, with a stand-in docker on PATH that runs the
    tool on the host (the real one: /bin/sh -n checks a shell script's syntax)."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "docker").write_text(
        "#!/bin/sh\n"
        'if [ "$1" = image ]; then exit 0; fi\n'
        # docker run --rm ... --entrypoint E -v SRC:DST:ro IMAGE ARGS: run E on SRC.
        'while [ "$1" != --entrypoint ]; do shift; done; tool=$2; shift 2\n'
        "src=${2%%:*}; shift 3\n"
        'exec "$tool" "$@" "$src"\n'
    )
    (fake / "docker").chmod(0o755)
    cmd = cp.config_check("any", "/bin/sh", ["-n"], "/check")
    env = {"PATH": f"{fake}:/usr/bin:/bin"}
    good, bad = tmp_path / "good.sh", tmp_path / "bad.sh"
    good.write_text("echo ok\n")
    bad.write_text("if then fi\n")
    assert subprocess.run(shlex.split(cmd % good), env=env, check=False).returncode == 0
    assert subprocess.run(shlex.split(cmd % bad), env=env, check=False, capture_output=True).returncode != 0


# --- a failed start -------------------------------------------------------------------------


def test_services_not_up_are_the_stopped_restarting_and_unhealthy_ones():
    ps = "\n".join(
        json.dumps(e)
        for e in (
            {"Service": "prometheus", "State": "restarting", "Health": ""},
            {"Service": "otel-collector", "State": "running", "Health": ""},
            {"Service": "grafana", "State": "running", "Health": "unhealthy"},
            {"Service": "loki", "State": "exited", "Health": ""},
            {"Service": "opensearch", "State": "running", "Health": "healthy"},
        )
    )
    assert compose.compose_not_up(ps) == ["prometheus", "grafana", "loki"]
    assert compose.compose_not_up("") == []


def test_a_failed_start_quotes_the_service_s_error_lines_and_says_what_was_done():
    logs = [
        {
            "item": "prometheus",
            "stdout": (
                'prometheus-1  | Error parsing command line arguments: unknown unit "x" in duration "90x"\n'
                + "prometheus-1  |   --log.level=info  usage text: one of [debug, info, warn, error]\n" * 30
            )
            * 3,
        }
    ]
    back = '{"Service": "prometheus", "State": "running", "Health": "healthy"}'
    out = cp.compose_failure(
        "container p-prometheus-1 is unhealthy",
        [PROMETHEUS],
        logs,
        {"dir": "/srv/obs", "last_good": True, "touched": True, "after": back},
    )
    lines = out.splitlines()
    assert lines[0] == "container p-prometheus-1 is unhealthy"
    assert "The prometheus service did not come up healthy (its settings are the prometheus_* variables)" in lines[1]
    # The error line, not the usage text after it.
    assert lines[2] == 'prometheus-1  | Error parsing command line arguments: unknown unit "x" in duration "90x"'
    assert "usage text" not in out and out.count("Error parsing") == 1
    assert lines[-1].startswith("The files and services of the last healthy run are back (/srv/obs/.last-good)")
    still = cp.compose_failure("x", [PROMETHEUS], [], {"dir": "/d", "last_good": True, "touched": True, "after": ""})
    assert "still not up" in still or "are back" in still
    down = '{"Service": "prometheus", "State": "exited"}'
    still = cp.compose_failure("x", [PROMETHEUS], [], {"dir": "/d", "last_good": True, "touched": True, "after": down})
    assert still.endswith("these services are still not up: prometheus; see docker compose -p <project> logs.")
    first = cp.compose_failure("x", [PROMETHEUS], [], {"dir": "/d", "last_good": False, "touched": True})
    assert "nothing to go back to" in first
    untouched = cp.compose_failure("bad value", [PROMETHEUS], [], {"dir": "/d", "last_good": True, "touched": False})
    assert untouched.startswith("bad value\nNo running service was changed")


def test_a_file_the_component_s_tool_refused_is_told_with_the_tool_s_words():
    check = cp.config_check("prom/prometheus:v3.5.0", "/bin/promtool", ["check", "config", "{file}"], "/etc/p.yml")
    result = {
        "failed": True,
        "msg": "failed to validate",
        "exit_status": 1,
        "stdout": 'Checking /etc/p.yml\n  FAILED: parsing YAML file /etc/p.yml: not a valid duration string: "5x"',
        "stderr": "",
        "invocation": {"module_args": {"dest": "/srv/obs/prometheus/prometheus.yml", "validate": check}},
    }
    out = cp.compose_failure(result, [], [], {"dir": "/srv/obs", "last_good": True, "touched": False})
    assert out.startswith("promtool refused the rendered /srv/obs/prometheus/prometheus.yml, so it was not written.")
    assert 'not a valid duration string: "5x"' in out
    assert out.endswith("Fix the above and run again.")


def test_suspects_are_what_compose_touched_or_named_even_when_running_now():
    ps = '{"Service": "prometheus", "State": "running", "Health": ""}\n{"Service": "loki", "State": "exited"}'
    result = {
        "msg": "General error: container obs-grafana-1 is unhealthy",
        "actions": [
            {"id": "obs-prometheus-1", "status": "Recreate", "what": "container"},
            {"id": "prometheus", "status": "Pulling", "what": "image"},
        ],
    }
    assert cp.compose_suspects(ps, result, "obs") == ["loki", "prometheus", "grafana"]
    assert cp.compose_suspects("", None, "obs") == []


def test_external_volumes_are_named_by_their_own_name():
    project = {
        "volumes": {
            "prometheus-data": {},
            "otelcol-queue": {"name": "claude-observability-otelcol-queue", "external": True},
            "plain-external": {"external": True},
            "not-external": {"name": "x", "external": False},
        }
    }
    assert cp.compose_external_volumes(project) == ["claude-observability-otelcol-queue", "plain-external"]


def test_external_volumes_of_a_project_without_volumes():
    assert cp.compose_external_volumes({"services": {}}) == []
    assert cp.compose_external_volumes(None) == []


def test_external_volumes_refuse_what_is_not_a_compose_file():
    with pytest.raises(AnsibleFilterError, match="parsed compose file"):
        cp.compose_external_volumes(["compose.yaml"])


def test_project_entries_lists_dirs_then_files_and_prunes_what_it_is_told():
    out = cp.project_entries(
        "/srv/obs/grafana/",
        ["", "dashboards/"],
        {"dashboards/a.json": "{}", "provisioning.yml": "x: 1\n"},
        {"dashboards": "*.json"},
    )
    assert out == [
        {"path": "/srv/obs/grafana", "state": "directory", "mode": "0755"},
        {"path": "/srv/obs/grafana/dashboards", "state": "directory", "mode": "0755", "prune": "*.json"},
        {"path": "/srv/obs/grafana/dashboards/a.json", "content": "{}", "mode": "0644"},
        {"path": "/srv/obs/grafana/provisioning.yml", "content": "x: 1\n", "mode": "0644"},
    ]
    with pytest.raises(AnsibleFilterError, match="absolute directory"):
        cp.project_entries("grafana", [])
