"""Jaeger v2's config and its Grafana data source as data (plugins/filter/jaeger_config.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import jaeger_config as jc  # noqa: E402

pytestmark = pytest.mark.unit

ROLE = ROOT / "roles" / "jaeger"


def test_badger_keeps_spans_on_disk_for_the_retention():
    config = jc.jaeger_config({"retention": "720h"})
    (backend,) = config["extensions"]["jaeger_storage"]["backends"].values()
    assert backend == {
        "badger": {
            "directories": {"keys": "/tmp/jaeger/keys", "values": "/tmp/jaeger/values"},
            "ephemeral": False,
            "ttl": {"spans": "720h"},
        }
    }


def test_memory_storage_holds_max_traces_and_no_directories():
    config = jc.jaeger_config({"storage": "memory", "max_traces": "5000"})
    (backend,) = config["extensions"]["jaeger_storage"]["backends"].values()
    assert backend == {"memory": {"max_traces": 5000}}


def test_every_name_the_config_references_is_defined():
    config = jc.jaeger_config({})
    service = config["service"]
    assert set(service["extensions"]) == set(config["extensions"])
    (store,) = config["extensions"]["jaeger_storage"]["backends"]
    assert config["extensions"]["jaeger_query"]["storage"]["traces"] == store
    pipeline = service["pipelines"]["traces"]
    assert set(pipeline["receivers"]) == set(config["receivers"])
    assert pipeline["processors"] == ["memory_limiter", "batch"]  # the limiter first, as the collector docs ask
    assert set(pipeline["processors"]) == set(config["processors"])
    assert pipeline["exporters"] == list(config["exporters"])
    assert config["exporters"]["jaeger_storage_exporter"]["trace_storage"] == store


def test_listens_where_the_compose_service_maps_and_keeps_the_health_endpoint_inside():
    config = jc.jaeger_config({})
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"
    assert config["extensions"]["jaeger_query"]["http"]["endpoint"] == "0.0.0.0:16686"
    # The container's health check asks it from inside; its answer is not for the network.
    assert config["extensions"]["healthcheckv2"] == {"use_v2": True, "http": {"endpoint": "127.0.0.1:13133"}}
    # The query service does not trace its own requests into Claude Code's storage.
    assert config["extensions"]["jaeger_query"]["enable_tracing"] is False


def test_memory_limiter_follows_the_container_limit():
    limiter = jc.jaeger_config({"memory_limit_mib": 2048})["processors"]["memory_limiter"]
    assert limiter["limit_mib"] == 1638 and limiter["spike_limit_mib"] == 409


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"storage": "cassandra"}, "storage must be one of badger, memory"),
        ({"retention": "7d"}, "retention must be a Go duration"),
        ({"retention": "0h"}, "retention must be a Go duration above zero"),
        ({"retention": 168}, "retention must be a Go duration"),
        ({"max_traces": 0}, "max_traces must be a whole number, at least 1"),
        ({"max_traces": True}, "max_traces must be a whole number"),
        ({"memory_limit_mib": "lots"}, "memory_limit_mib must be a whole number, at least 64"),
        ({"log_level": "verbose"}, "log_level must be one of"),
        ({"data_dir": "jaeger"}, "data_dir must be an absolute path"),
        ({"retension": "1h"}, r"unknown option\(s\) retension"),
    ],
)
def test_a_bad_option_is_refused_with_its_name(options, message):
    with pytest.raises(AnsibleFilterError, match=message):
        jc.jaeger_config(options)


def test_datasource_links_a_span_to_its_sessions_events_with_dollars_escaped():
    source = jc.jaeger_datasource({"url": "http://jaeger:16686/"})
    assert source["type"] == "jaeger" and source["uid"] == "claude-code-jaeger"
    assert source["url"] == "http://jaeger:16686"
    link = source["jsonData"]["tracesToLogsV2"]
    assert link["datasourceUid"] == "claude-code-loki"
    assert link["customQuery"] is True
    # As Grafana's API takes it; the grafana role escapes $ for its provisioning file.
    assert link["query"] == '{service_name=~"claude-code.*"} | session_id="${__span.tags["session.id"]}"'
    assert (link["spanStartTimeShift"], link["spanEndTimeShift"]) == ("-5m", "5m")


def test_datasource_query_keeps_the_span_attribute_claude_code_sends():
    """The link reads session.id from the span: the attribute the captured spans carry."""
    fixtures = ROOT.parent / "shared" / "fixtures" / "claude-code-2.1.330"
    spans = [
        span
        for path in fixtures.glob("*/*traces.json")
        for rs in yaml.safe_load(path.read_text())["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]
    assert spans
    for span in spans:
        assert "session.id" in {a["key"] for a in span["attributes"]}, span["name"]
    assert '__span.tags["session.id"]' in jc.jaeger_datasource({})["jsonData"]["tracesToLogsV2"]["query"]


def test_datasource_without_loki_has_no_link():
    assert jc.jaeger_datasource({"loki_uid": ""})["jsonData"] == {}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "jaeger:16686"}, "url must be http"),
        ({"uid": ""}, "uid must not be empty"),
        ({"logs_query": ""}, "logs_query must not be empty while loki_uid is set"),
        ({"time_shift": "-5m"}, "time_shift must be a Go duration"),
    ],
)
def test_a_bad_datasource_option_is_refused(options, message):
    with pytest.raises(AnsibleFilterError, match=message):
        jc.jaeger_datasource(options)


def test_role_defaults_give_the_filters_what_they_accept():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    config = jc.jaeger_config(
        {
            "storage": defaults["jaeger_storage"],
            "retention": defaults["jaeger_retention"],
            "max_traces": defaults["jaeger_max_traces"],
            "memory_limit_mib": defaults["jaeger_memory_limit_mib"],
            "log_level": defaults["jaeger_log_level"],
        }
    )
    assert "badger" in next(iter(config["extensions"]["jaeger_storage"]["backends"].values()))
    source = jc.jaeger_datasource(
        {
            "uid": defaults["jaeger_datasource_uid"],
            "loki_uid": defaults["jaeger_loki_datasource_uid"],
            "logs_query": defaults["jaeger_trace_to_logs_query"],
            "time_shift": defaults["jaeger_trace_to_logs_time_shift"],
        }
    )
    assert (
        source["jsonData"]["tracesToLogsV2"]["query"] == jc.jaeger_datasource({})["jsonData"]["tracesToLogsV2"]["query"]
    )


def test_catalog_port_and_argument_specs_match_the_defaults():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    catalog = yaml.safe_load((ROLE / "meta" / "component.yml").read_text())
    assert defaults[catalog["port"]["variable"]] == catalog["port"]["default"] == 16686
    options = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults)
    for name, spec in options.items():
        assert spec["default"] == defaults[name], name
        assert name.startswith("jaeger_"), name
    # The image the role pins is the release the test bed builds its stand-in from.
    versions = dict(
        line.split("=", 1)
        for line in (ROOT / "tests" / "testbed" / "versions.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert defaults["jaeger_image"] == "jaegertracing/jaeger:" + versions["JAEGER_RELEASE"]
