"""Where each component runs when server hosts split the stack (stack_components)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import stack_placement as sp  # noqa: E402
from ansible_collections.claude_code.observability.plugins.plugin_utils.components import load_catalog  # noqa: E402

SIX = ("otel_collector", "prometheus", "alertmanager", "opensearch", "loki", "grafana")

SPLIT = {
    "store": {"ansible_host": "10.0.0.5", "stack_components": ["prometheus", "opensearch", "loki", "grafana"]},
    "ingest": {"ansible_host": "10.0.0.6", "stack_components": ["otel_collector"], "loki_port": 3999},
}


def place(hostvars, here=None, servers=None, components=SIX):
    return sp.stack_placement(hostvars, list(hostvars) if servers is None else servers, here, components)


def test_every_host_runs_everything_by_default():
    hostvars = {"a": {"ansible_host": "10.0.0.1"}, "b": {}}
    for here in hostvars:
        placement = place(hostvars, here)
        for component in SIX:
            assert placement[component]["local"] is True
            assert placement[component]["consumers"] == []
            assert placement[component]["url"].endswith(":%d" % load_catalog()[component]["port"]["container"])
        assert [c["target"] for c in placement["scrape_targets"]] == ["otel-collector:8888"]
        assert placement["prometheus"]["url"] == "http://prometheus:9090"


def test_storage_host_serves_the_collector_host():
    store = place(SPLIT, "store")
    assert store["otel_collector"] == {
        "host": "ingest",
        "address": "10.0.0.6",
        "local": False,
        "consumers": [],
        "port": 4318,
        "target": "10.0.0.6:4318",
        "url": "http://10.0.0.6:4318",
        "external": False,
        "scraped_from": "",
        "login": {},
    }
    # The collector on ingest pushes to OpenSearch, Loki and Prometheus here; Grafana here is local.
    assert store["opensearch"]["consumers"] == ["ingest"]
    assert store["loki"]["consumers"] == ["ingest"]
    assert store["prometheus"]["consumers"] == ["ingest"]
    assert store["scrape_targets"] == [{"host": "ingest", "component": "otel_collector", "target": "10.0.0.6:8888"}]
    ingest = place(SPLIT, "ingest")
    assert ingest["otel_collector"]["scraped_from"] == "store"
    assert store["prometheus"]["scraped_from"] == ""
    assert ingest["otel_collector"]["local"] is True
    assert ingest["opensearch"]["address"] == "10.0.0.5" and ingest["opensearch"]["port"] == 9200
    assert ingest["opensearch"]["url"] == "http://10.0.0.5:9200"
    assert ingest["loki"]["port"] == 3100  # store's own port, not ingest's loki_port
    assert ingest["prometheus"]["host"] == "store" and ingest["scrape_targets"] == []


def test_advertise_address_wins_over_ansible_host():
    hostvars = {
        "store": dict(SPLIT["store"], stack_advertise_address="192.168.7.5"),
        "ingest": SPLIT["ingest"],
    }
    assert place(hostvars, "ingest")["opensearch"]["address"] == "192.168.7.5"
    assert place(hostvars, "store")["advertise_address"] == "192.168.7.5"


def test_a_host_prefers_its_own_copy_and_the_first_host_serves_the_rest():
    hostvars = {
        "full": {"ansible_host": "10.0.0.1"},
        "edge": {"ansible_host": "10.0.0.2", "stack_components": ["otel_collector"]},
    }
    full = place(hostvars, "full")
    assert [c["target"] for c in full["scrape_targets"]] == ["otel-collector:8888", "10.0.0.2:8888"]
    assert full["opensearch"]["consumers"] == ["edge"]
    edge = place(hostvars, "edge")
    assert edge["prometheus"]["host"] == "full"


def test_grafana_elsewhere_makes_prometheus_served():
    hostvars = {
        "metrics": {"stack_components": ["otel_collector", "prometheus"]},
        "ui": {"stack_components": ["grafana", "loki"]},
    }
    assert place(hostvars, "metrics")["prometheus"]["consumers"] == ["ui"]
    assert place(hostvars, "ui")["loki"]["consumers"] == ["metrics"]


def test_a_client_finds_the_first_collector_host():
    assert place(SPLIT)["otel_collector"]["host"] == "ingest"
    assert place(SPLIT)["otel_collector"]["address"] == "10.0.0.6"


def test_a_component_nobody_runs_has_no_host():
    hostvars = {"only": {"stack_components": ["otel_collector"]}}
    placement = place(hostvars, "only")
    assert placement["prometheus"]["host"] == "" and placement["prometheus"]["local"] is False


def test_a_host_outside_the_group_runs_its_own():
    placement = place({"solo": {}, "other": {}}, "solo", servers=["other"])
    assert placement["prometheus"]["local"] is True
    assert [c["host"] for c in placement["scrape_targets"]] == ["solo"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("prometheus", "must be a list"),
        (["prometheus", "tempo"], "names tempo; known components: all, alertmanager"),
    ],
)
def test_bad_components_are_named(value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        place({"bad": {"stack_components": value}}, "bad")


def test_port_defaults_match_the_roles():
    catalog = load_catalog()
    assert set(SIX) <= set(catalog)
    for name, record in catalog.items():
        defaults = yaml.safe_load((ROOT / "roles" / record["role"] / "defaults" / "main.yml").read_text())
        for spec in (record["port"], record.get("scrape")):
            if spec:
                assert defaults[spec["variable"]] == spec["default"], (name, spec)


def test_a_port_that_is_not_a_number_is_named():
    with pytest.raises(AnsibleFilterError, match="prometheus_port of bad must be a port number"):
        place({"bad": {"prometheus_port": "ninety"}}, "bad")


def test_your_own_loki_and_grafana_are_placed_nowhere():
    hostvars = {"a": {"stack_loki_url": "http://logs.lan:3100/", "stack_grafana_mode": "existing"}}
    placement = place(hostvars, "a")
    assert placement["loki"] == {
        "host": "",
        "address": "",
        "local": False,
        "consumers": [],
        "port": 0,
        "target": "",
        "url": "http://logs.lan:3100",
        "external": True,
        "scraped_from": "",
        "login": {},
    }
    assert placement["grafana"]["external"] is True and placement["grafana"]["host"] == ""
    assert place({"a": {"stack_grafana_mode": "managed"}}, "a")["grafana"]["local"] is True


def test_only_the_components_asked_for_are_placed():
    placement = place({"a": {}}, "a", components=["prometheus", "otel_collector"])
    assert set(placement) == {"prometheus", "otel_collector", "advertise_address", "scrape_targets"}
    with pytest.raises(AnsibleFilterError, match="unknown component"):
        place({"a": {}}, "a", components=["tempo"])


def test_either_side_may_state_who_uses_whom():
    catalog = load_catalog()
    # Grafana states it needs Prometheus; Prometheus states the collector uses it.
    assert "prometheus" in catalog["grafana"]["needs"]
    assert "otel_collector" in catalog["prometheus"]["used_by"]
    hostvars = {"m": {"stack_components": ["prometheus"]}, "u": {"stack_components": ["grafana"]}}
    assert place(hostvars, "m")["prometheus"]["consumers"] == ["u"]


def test_a_secured_prometheus_is_reached_over_https_with_its_login():
    hostvars = {
        "store": {"ansible_host": "10.0.0.5", "stack_components": ["prometheus"], "prometheus_web_security": "yes"},
        "ingest": {"ansible_host": "10.0.0.6", "stack_components": ["otel_collector"], "prometheus_web_user": "x"},
    }
    ingest = place(hostvars, "ingest")
    assert ingest["prometheus"]["url"] == "https://10.0.0.5:9090"
    # The user is the one of the host that runs Prometheus, not of the one that reaches it.
    assert ingest["prometheus"]["login"] == {
        "user": "claude-code",
        "password_file": "prometheus/secrets/web-password",
        "ca_file": "pki/ca.crt",
    }
    assert place(hostvars, "store")["prometheus"]["url"] == "https://prometheus:9090"
    assert ingest["otel_collector"]["login"] == {}  # nothing secures the collector's OTLP port this way
    hostvars["store"]["prometheus_web_security"] = "maybe"
    with pytest.raises(AnsibleFilterError, match="prometheus_web_security of store must be true or false"):
        place(hostvars, "ingest")


def test_secured_components_name_their_own_variables_and_files():
    secured = {name: r for name, r in load_catalog().items() if r.get("secure")}
    assert set(secured) == {"prometheus", "alertmanager"}
    for name, record in secured.items():
        spec = record["secure"]
        defaults = yaml.safe_load((ROOT / "roles" / record["role"] / "defaults" / "main.yml").read_text())
        assert defaults[spec["variable"]] is False, name  # off unless the inventory asks
        assert defaults[spec["user"]["variable"]] == spec["user"]["default"], name
        # Where the web_security role keeps them under the component's directory and the host's PKI.
        assert spec["password_file"] == f"{record['service']}/secrets/web-password"
        assert spec["ca_file"] == "pki/ca.crt"
