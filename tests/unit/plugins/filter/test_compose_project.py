"""The compose project merged from the component roles' parts (plugins/filter/compose_project.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import compose_project as cp  # noqa: E402

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
