"""The Prometheus rule groups built as data (plugins/filter/prometheus_rules.py). What the alerts do
on a history is tested with the real promtool in tests/integration/test_budget_alerts.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import prometheus_rules as pr  # noqa: E402

pytestmark = pytest.mark.unit

WINDOWS = [{"window": "1h", "interval": ""}, {"window": "24h", "interval": ""}, {"window": "7d", "interval": "5m"}]
SUMS = [{"record": "claude_code_cost_usd", "metric": "claude_code_cost_usage_USD", "by": [[], ["user_id"]]}]


def _options(**over):
    base = {
        "window_sums": SUMS,
        "windows": WINDOWS,
        "budgets": {"total": {"day": 100, "week": 500}, "user": {"day": "25", "week": 0}, "project": {}},
        "spike_factor": 3,
        "spike_min_usd": 5,
        "spike_baseline": "7d",
        "silent_after": "3d",
        "silent_lookback": "14d",
        "collector_down_for": "5m",
        "no_data_hours": 24,
    }
    base.update(over)
    return base


def _group(groups, name):
    return next(g for g in groups if g["name"] == name)


def _alerts(group):
    return [r["alert"] for r in group["rules"] if "alert" in r]


def test_each_window_group_records_its_totals_before_the_alerts_on_them():
    groups = pr.prometheus_rule_groups(_options())
    day = _group(groups, "claude_code_window_24h")
    kinds = ["record" if "record" in r else "alert" for r in day["rules"]]
    assert kinds == sorted(kinds, key=lambda k: k != "record")  # records first
    assert [r["record"] for r in day["rules"] if "record" in r] == [
        "claude_code_cost_usd:window24h",
        "user_id:claude_code_cost_usd:window24h",
    ]
    assert "interval" not in day and _group(groups, "claude_code_window_7d")["interval"] == "5m"
    assert groups[-1]["name"] == "claude_code_alerts"


def test_budgets_one_rule_each_in_the_group_of_their_window_zero_is_off():
    groups = pr.prometheus_rule_groups(_options())
    assert _alerts(_group(groups, "claude_code_window_24h")) == [
        "ClaudeCodeDailySpendTotal",
        "ClaudeCodeDailySpendPerUser",
    ]
    week = _group(groups, "claude_code_window_7d")
    assert "ClaudeCodeWeeklySpendTotal" in _alerts(week) and "ClaudeCodeWeeklySpendPerUser" not in _alerts(week)
    rule = next(
        r for r in _group(groups, "claude_code_window_24h")["rules"] if r.get("alert") == "ClaudeCodeDailySpendPerUser"
    )
    assert rule["expr"] == "user_id:claude_code_cost_usd:window24h > 25"
    assert rule["labels"] == {"severity": "warning", "budget_scope": "user", "budget_period": "day"}
    assert "prometheus_budget_user_usd.day" in rule["annotations"]["description"]


def test_thresholds_keep_their_exact_value():
    groups = pr.prometheus_rule_groups(_options(budgets={"total": {"day": 0.1 + 0.2}}))
    rule = _group(groups, "claude_code_window_24h")["rules"][-1]
    assert float(rule["expr"].split(" > ")[1]) == 0.1 + 0.2


def test_spike_and_silent_alerts_switch_off():
    on = pr.prometheus_rule_groups(_options())
    assert "ClaudeCodeSpendSpike" in _alerts(_group(on, "claude_code_window_1h"))
    assert {"ClaudeCodeMachineSilent", "ClaudeCodeUserSilent"} <= set(_alerts(_group(on, "claude_code_window_7d")))
    off = pr.prometheus_rule_groups(_options(spike_factor=0, silent_after=""))
    names = {a for g in off for a in _alerts(g)}
    assert not names & {"ClaudeCodeSpendSpike", "ClaudeCodeMachineSilent", "ClaudeCodeUserSilent"}


def test_spike_compares_with_the_usual_hour_before_this_one():
    groups = pr.prometheus_rule_groups(_options(spike_factor=4, spike_min_usd=2.5, spike_baseline="14d"))
    expr = next(r["expr"] for r in _group(groups, "claude_code_window_1h")["rules"] if r.get("alert"))
    assert expr.startswith("user_id:claude_code_cost_usd:window1h > 2.5 and on (user_id)")
    assert "> 4 * (" in expr and "[14d] offset 1h" in expr and "[14d:1h] offset 1h" in expr


@pytest.mark.parametrize(
    ("budgets", "message"),
    [
        ({"team": {"day": 1}}, "unknown budget scope team"),
        ({"user": {"daily": 1}}, "unknown budget period daily in prometheus_budget_user_usd"),
        ({"user": {"day": "lots"}}, "must be a number of USD"),
        ({"user": {"day": -1}}, "must be 0 (off) or more"),
        ({"user": {"day": True}}, "must be a number"),
        ({"user": 25}, "must be a dict of day/week/month"),
    ],
)
def test_bad_budgets_are_named(budgets, message):
    with pytest.raises(AnsibleFilterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        pr.prometheus_rule_groups(_options(budgets=budgets))
