"""The collector configuration as data (plugins/filter/otel_collector_config.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import otel_collector_config as occ  # noqa: E402

PROM = "http://prometheus:9090/api/v1/otlp/v1/metrics"

pytestmark = pytest.mark.unit


def build(**kw):
    return occ.otel_collector_config({"metrics_endpoint": PROM, **kw})


def test_metrics_keep_no_running_state():
    cfg = build()
    metrics = cfg["service"]["pipelines"]["metrics"]
    # Nothing that accumulates deltas or holds accepted data in memory.
    assert "deltatocumulative" not in cfg["processors"]
    assert "batch" not in metrics["processors"]
    assert metrics["processors"][-1] == "transform/deltas_to_samples"
    assert metrics["exporters"] == ["otlphttp/prometheus"]
    exporter = cfg["exporters"]["otlphttp/prometheus"]
    assert exporter["metrics_endpoint"] == PROM
    assert exporter["sending_queue"]["storage"] == "file_storage/queue"
    assert exporter["retry_on_failure"]["max_elapsed_time"] == "0s"
    assert cfg["extensions"]["file_storage/queue"]["fsync"] is True
    assert not any(name.startswith("prometheus") for name in cfg["exporters"])


def test_memory_queue_when_no_directory():
    cfg = build(queue_directory="")
    assert "file_storage/queue" not in cfg["extensions"]
    assert "storage" not in cfg["exporters"]["otlphttp/prometheus"]["sending_queue"]
    assert cfg["service"]["extensions"] == ["health_check"]


def test_labels_statements_follow_the_switches():
    assert "transform/labels" not in build(rename_type_to_kind=False, resource_to_labels=False)["processors"]
    only_kind = build(resource_to_labels=False)["processors"]["transform/labels"]["metric_statements"][0]
    assert only_kind["statements"] == occ.TYPE_TO_KIND
    both = build()["processors"]["transform/labels"]["metric_statements"][0]["statements"]
    assert both == occ.TYPE_TO_KIND + occ.RESOURCE_TO_LABELS


def test_token_and_tls_on_both_protocols():
    cfg = build(bearer_token_file="/s/token", tls_cert_file="/t/c", tls_key_file="/t/k")
    for proto in ("grpc", "http"):
        server = cfg["receivers"]["otlp"]["protocols"][proto]
        assert server["auth"] == {"authenticator": "bearertokenauth"}
        assert server["tls"] == {"cert_file": "/t/c", "key_file": "/t/k"}
    assert cfg["extensions"]["bearertokenauth"] == {"filename": "/s/token"}
    assert "bearertokenauth" in cfg["service"]["extensions"]
    plain = build()
    assert "auth" not in plain["receivers"]["otlp"]["protocols"]["http"]
    assert "bearertokenauth" not in plain["extensions"]


def test_storage_exporters_get_the_queue_and_their_pipelines():
    cfg = build(
        exporters={"otlphttp/loki": {"endpoint": "http://loki:3100/otlp", "sending_queue": {"sizer": "requests"}}},
        logs_exporters=["otlphttp/loki"],
        logs_processors={"transform/x": {"log_statements": []}},
    )
    loki = cfg["exporters"]["otlphttp/loki"]
    assert loki["sending_queue"] == {
        "sizer": "requests",
        "enabled": True,
        "queue_size": 5000,
        "num_consumers": 4,
        "storage": "file_storage/queue",
    }
    logs = cfg["service"]["pipelines"]["logs"]
    assert logs["processors"] == ["memory_limiter", "attributes/privacy", "transform/privacy", "transform/x", "batch"]
    assert logs["exporters"] == ["otlphttp/loki"]
    # Traces have no backend here but span metrics.
    assert cfg["service"]["pipelines"]["traces"]["exporters"] == ["spanmetrics"]
    assert build(spanmetrics=False)["service"]["pipelines"]["traces"]["exporters"] == ["debug"]


def test_spanmetrics_are_deltas_without_histogram():
    cfg = build()
    span = cfg["connectors"]["spanmetrics"]
    assert span["aggregation_temporality"] == "AGGREGATION_TEMPORALITY_DELTA"
    assert span["histogram"] == {"disable": True}
    assert "spanmetrics" in cfg["service"]["pipelines"]["metrics"]["receivers"]
    assert "connectors" not in build(spanmetrics=False)


def test_numbers_from_templates_are_accepted():
    cfg = build(memory_limit_mib="1000", queue_size="10", queue_consumers=2)
    assert cfg["processors"]["memory_limiter"]["limit_mib"] == 800
    assert cfg["processors"]["memory_limiter"]["spike_limit_mib"] == 200
    assert cfg["exporters"]["otlphttp/prometheus"]["sending_queue"]["queue_size"] == 10


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"metrics_endpoint": ""}, "metrics_endpoint is empty"),
        ({"metrics_endpoint": PROM, "memory_limit_mib": 0}, "memory_limit_mib must be a whole number, at least 64"),
        ({"metrics_endpoint": PROM, "memory_limit_mib": -5}, "memory_limit_mib must be a whole number"),
        ({"metrics_endpoint": PROM, "memory_limit_mib": "512m"}, "memory_limit_mib must be a whole number"),
        ({"metrics_endpoint": PROM, "queue_size": True}, "queue_size must be a whole number"),
        ({"metrics_endpoint": PROM, "tls_cert_file": "/c"}, "tls_cert_file and tls_key_file go together"),
        ({"metrics_endpoint": PROM, "logs_exporters": ["nope"]}, "pipeline exporter nope has no entry"),
        ({"metrics_endpoint": PROM, "metrics_endpont": "x"}, "unknown option"),
        ("text", "expects a dict"),
    ],
)
def test_bad_options_are_named(spec, message):
    with pytest.raises(AnsibleFilterError, match=message):
        occ.otel_collector_config(spec)


def _privacy(cfg):
    return {a["key"]: a for a in cfg["processors"]["attributes/privacy"]["actions"]}


def test_privacy_comes_first_in_every_pipeline_and_hides_content_by_default():
    cfg = build()
    for name, pipeline in cfg["service"]["pipelines"].items():
        assert pipeline["processors"][:2] == ["memory_limiter", "attributes/privacy"], name
    actions = _privacy(cfg)
    for key in ("prompt", "prompt_text", "user_prompt", "response", "tool_input", "tool_parameters", "file_path"):
        assert actions[key] == {"key": key, "action": "update", "value": "<REDACTED>"}
    assert actions["user.email"]["action"] == "hash" and actions["user.account_uuid"]["action"] == "hash"
    assert "organization.id" not in actions  # kept


def test_the_server_may_allow_content_and_change_identity_handling():
    cfg = build(
        store_prompts=True, store_tool_details=True, attributes={"user.email": "drop", "organization.id": "hash"}
    )
    actions = _privacy(cfg)
    assert not {"prompt", "response", "tool_input", "file_path"} & set(actions)
    assert actions["user.email"]["action"] == "delete" and actions["organization.id"]["action"] == "hash"
    cfg = build(store_prompts=True, store_tool_details=True, attributes={k: "keep" for k in occ.IDENTITY})
    assert "attributes/privacy" not in cfg["processors"]
    # The allow-list stays: what it does not know is redacted whatever the switches.
    assert cfg["service"]["pipelines"]["logs"]["processors"][0:3] == ["memory_limiter", "transform/privacy", "batch"]


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"user.email": "encrypt"}, "'encrypt' is not one of keep, hash, drop"),
        ({"prompt": "keep"}, "store it with otel_collector_store_prompts"),
        (["user.email"], "attributes must be a dict"),
    ],
)
def test_bad_privacy_options_are_named(attributes, message):
    with pytest.raises(AnsibleFilterError, match=message):
        build(attributes=attributes)


def test_a_prometheus_behind_basic_auth_gets_the_login_from_a_file_and_its_ca():
    config = build(
        metrics_endpoint="https://prometheus:9090/api/v1/otlp/v1/metrics",
        metrics_basic_auth_file="/etc/otelcol-contrib/secrets/prometheus_basic",
        metrics_ca_file="/etc/otelcol-contrib/tls/prometheus-ca.crt",
    )
    exporter = config["exporters"]["otlphttp/prometheus"]
    assert exporter["auth"] == {"authenticator": "bearertokenauth/prometheus"}
    assert exporter["tls"] == {"ca_file": "/etc/otelcol-contrib/tls/prometheus-ca.crt"}
    assert config["extensions"]["bearertokenauth/prometheus"] == {
        "scheme": "Basic",
        "filename": "/etc/otelcol-contrib/secrets/prometheus_basic",
    }
    assert "bearertokenauth/prometheus" in config["service"]["extensions"]
    # The OTLP ingress takes no login from it.
    assert "auth" not in config["receivers"]["otlp"]["protocols"]["http"]
    plain = build(metrics_endpoint="http://prometheus:9090/api/v1/otlp/v1/metrics")
    assert (
        "auth" not in plain["exporters"]["otlphttp/prometheus"]
        and "tls" not in plain["exporters"]["otlphttp/prometheus"]
    )
    assert "bearertokenauth/prometheus" not in plain["extensions"]
