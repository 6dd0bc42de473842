"""Grafana's data sources and spend alert rules as data (plugins/filter/grafana_provisioning.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import grafana_provisioning as gp  # noqa: E402

pytestmark = pytest.mark.unit

RULE = {
    "uid": "spend-user",
    "title": "Spend per user",
    "expr": "user_id:claude_code_cost_usd:window24h",
    "threshold": "25",
    "summary": "Spend of {{ $labels.user_id }} is above 25 USD",
}


def names(doc):
    return [ds["name"] for ds in doc["datasources"]]


def test_prometheus_and_loki_by_default_prometheus_the_default():
    doc = gp.grafana_datasources({})
    assert doc["apiVersion"] == 1
    assert names(doc) == ["Prometheus (Claude Code)", "Loki (Claude Code)"]
    assert [ds.get("isDefault", False) for ds in doc["datasources"]] == [True, False]
    assert doc["datasources"][0]["uid"] == "claude-code-prometheus"
    assert all(ds["editable"] is False for ds in doc["datasources"])


@pytest.mark.parametrize("loki", [False, "no", "false"])
def test_loki_off(loki):
    doc = gp.grafana_datasources({"loki": loki, "tempo_url": "http://jaeger:16686"})
    assert names(doc) == ["Prometheus (Claude Code)", "Tempo (Claude Code)"]


def test_tempo_only_with_a_url_and_last():
    assert "Tempo (Claude Code)" not in names(gp.grafana_datasources({"tempo_url": ""}))
    doc = gp.grafana_datasources({"tempo_url": "http://jaeger:16686", "tempo_uid": "t", "loki_url": "http://l:3100"})
    assert names(doc) == ["Prometheus (Claude Code)", "Loki (Claude Code)", "Tempo (Claude Code)"]
    assert doc["datasources"][2]["uid"] == "t"
    assert doc["datasources"][2]["url"] == "http://jaeger:16686"
    assert doc["datasources"][1]["url"] == "http://l:3100"


def test_datasource_options_are_checked():
    with pytest.raises(AnsibleFilterError, match="unknown option.*tempo\\b"):
        gp.grafana_datasources({"tempo": True})
    with pytest.raises(AnsibleFilterError, match="loki must be a boolean"):
        gp.grafana_datasources({"loki": "maybe"})


def test_data_sources_other_components_publish_come_last_with_dollars_escaped():
    jaeger = {
        "name": "Jaeger (Claude Code)",
        "uid": "claude-code-jaeger",
        "type": "jaeger",
        "url": "http://jaeger:16686",
        "jsonData": {"tracesToLogsV2": {"customQuery": True, "query": 'session_id="${__span.tags["session.id"]}"'}},
    }
    doc = gp.grafana_datasources({"extra": [jaeger]})
    assert names(doc)[-1] == "Jaeger (Claude Code)"
    added = doc["datasources"][-1]
    assert added["access"] == "proxy" and added["editable"] is False
    # Grafana expands ${...} in provisioning files; $$ is a literal $.
    assert added["jsonData"]["tracesToLogsV2"]["query"] == 'session_id="$${__span.tags["session.id"]}"'
    assert added["jsonData"]["tracesToLogsV2"]["customQuery"] is True
    assert jaeger["jsonData"]["tracesToLogsV2"]["query"].startswith('session_id="${')  # the input is left alone


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("jaeger", "extra must be a list"),
        ([{"name": "J", "uid": "j", "type": "jaeger"}], "needs name, uid, type and url"),
        ([{"name": "P", "uid": "claude-code-prometheus", "type": "x", "url": "u"}], "two data sources have the uid"),
    ],
)
def test_a_bad_extra_data_source_is_named(extra, message):
    with pytest.raises(AnsibleFilterError, match=message):
        gp.grafana_datasources({"extra": extra})


def test_alert_rule_shape():
    (rule,) = gp.grafana_alert_rules([RULE], "prom-uid", "5m")
    assert list(rule) == [
        "uid",
        "title",
        "condition",
        "for",
        "labels",
        "annotations",
        "noDataState",
        "execErrState",
        "data",
    ]
    assert rule["for"] == "5m"
    assert rule["condition"] == "C"
    assert rule["annotations"] == {"summary": RULE["summary"]}
    query, last, threshold = rule["data"]
    assert [query["refId"], last["refId"], threshold["refId"]] == ["A", "B", "C"]
    assert query["datasourceUid"] == "prom-uid"
    assert query["model"]["expr"] == RULE["expr"]
    assert last["model"]["expression"] == "A"
    assert threshold["model"]["expression"] == "B"


@pytest.mark.parametrize(("given", "expected"), [("25", 25.0), (100, 100.0), ("12.5", 12.5), (0.5, 0.5)])
def test_alert_threshold_is_a_float(given, expected):
    (rule,) = gp.grafana_alert_rules([{**RULE, "threshold": given}], "p", "5m")
    params = rule["data"][2]["model"]["conditions"][0]["evaluator"]["params"]
    assert params == [expected]
    assert isinstance(params[0], float) and not isinstance(params[0], bool)
    # Written as a YAML float (100.0), as Grafana's provisioning expects a number.
    assert yaml.safe_dump(params) == "- %r\n" % expected


@pytest.mark.parametrize("bad", ["lots", None, True, ""])
def test_alert_threshold_that_is_no_number_is_refused(bad):
    with pytest.raises(AnsibleFilterError, match="threshold of spend-user must be a number"):
        gp.grafana_alert_rules([{**RULE, "threshold": bad}], "p", "5m")


def test_alert_rule_lacking_a_key_is_refused():
    rule = {k: v for k, v in RULE.items() if k != "expr"}
    with pytest.raises(AnsibleFilterError, match="rule spend-user lacks expr"):
        gp.grafana_alert_rules([rule], "p", "5m")


def test_the_roles_spend_rules():
    """The rules of roles/grafana/vars/main.yml, with their thresholds as the role templates them."""
    spend = yaml.safe_load((ROOT / "roles/grafana/vars/main.yml").read_text())["grafana_spend_rules"]
    for rule, threshold in zip(spend, (25.0, 100.0), strict=True):
        rule["threshold"] = threshold
    rules = gp.grafana_alert_rules(spend, "claude-code-prometheus", "5m")
    assert [r["uid"] for r in rules] == ["claude-code-daily-spend-user", "claude-code-daily-spend-total"]
    assert [r["data"][2]["model"]["conditions"][0]["evaluator"]["params"] for r in rules] == [[25.0], [100.0]]
    assert all(r["data"][0]["datasourceUid"] == "claude-code-prometheus" for r in rules)


def test_filters_are_registered():
    filters = gp.FilterModule().filters()
    assert filters["grafana_datasources"] is gp.grafana_datasources
    assert filters["grafana_alert_rules"] is gp.grafana_alert_rules


def test_a_secured_prometheus_is_read_with_a_login_grafana_reads_from_files():
    doc = gp.grafana_datasources(
        {
            "prometheus_url": "https://prometheus:9090",
            "prometheus_user": "claude-code",
            "prometheus_password_file": "/etc/grafana/secrets/prometheus-password",
            "prometheus_ca_file": "/etc/grafana/secrets/prometheus-ca.crt",
        }
    )
    prometheus = doc["datasources"][0]
    assert prometheus["basicAuth"] is True and prometheus["basicAuthUser"] == "claude-code"
    assert prometheus["jsonData"]["tlsAuthWithCACert"] is True
    # $__file{} is Grafana's own expansion: kept as it is, not escaped like $ in extra data sources.
    assert prometheus["secureJsonData"] == {
        "basicAuthPassword": "$__file{/etc/grafana/secrets/prometheus-password}",
        "tlsCACert": "$__file{/etc/grafana/secrets/prometheus-ca.crt}",
    }
    assert "secureJsonData" not in gp.grafana_datasources({})["datasources"][0]
    with pytest.raises(AnsibleFilterError, match="prometheus_user and prometheus_password_file go together"):
        gp.grafana_datasources({"prometheus_user": "u"})
