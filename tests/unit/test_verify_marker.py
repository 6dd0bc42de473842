"""verify.yml's test session is an app of its own (service.name claude-code-verify) that no total
counts: every Claude Code selector of the rules, the cost report and the Grafana dashboards (All
selected) leaves it out and still takes the real apps. tests/integration/test_ops_playbooks.py
proves it on a real stack, totals before and after verify.yml."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from helpers import grafana_selectors as gs

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.claude_code.observability.plugins.filter import cost_report as cr  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import prometheus_rules as pr  # noqa: E402
from ansible_collections.claude_code.observability.plugins.module_utils.verify_marker import (  # noqa: E402
    VERIFY_SERVICE,
)

pytestmark = pytest.mark.unit

DASHBOARDS = ROOT / "roles" / "grafana" / "files" / "dashboards"
APPS = ("claude-code", "claude-code-desktop")
# A metric name followed by its selector, or a bare one (which would select every app).
CLAUDE_SELECTOR = re.compile(r"\b(claude_code_[A-Za-z_]+)(\{[^}]*\})?")


def _rule_exprs() -> list[tuple[str, str]]:
    prom_vars = yaml.safe_load((ROOT / "roles/prometheus/vars/main.yml").read_text())
    windows = [{"window": w, "interval": ""} for w in ("1h", "24h", "7d", "30d")]
    groups = pr.prometheus_rule_groups(
        {
            "window_sums": prom_vars["prometheus__window_sums"],
            "windows": windows,
            "budgets": {s: {"day": 1, "week": 2, "month": 3} for s in ("total", "user", "project")},
            "spike_factor": 3,
            "spike_min_usd": 1,
            "spike_baseline": "7d",
            "silent_after": "3d",
            "silent_lookback": "14d",
        }
    )
    return [(rule.get("record") or rule["alert"], rule["expr"]) for g in groups for rule in g["rules"]]


def _raw_metric_selectors(expr: str) -> list[tuple[str, str]]:
    """(metric, selector) of every raw Claude Code metric the expression reads (recorded series,
    which hold a colon, are built from raw ones and are not counted twice)."""
    out = []
    for match in CLAUDE_SELECTOR.finditer(expr):
        start = match.start()
        if start and (expr[start - 1] in ':"' or expr[start - 1].isalnum()):
            continue
        if ":" in expr[match.end() : match.end() + 1]:
            continue
        out.append((match.group(1), (match.group(2) or "{}")[1:-1]))
    return out


def _leaves_verify_out(selector: str, values: dict | None = None) -> bool:
    """Whether the selector's app matchers refuse verify's app and take Claude Code's (its other
    matchers are another test's business)."""
    values = values or {}
    app_only = ", ".join(
        '%s%s"%s"' % (name, op, raw) for name, op, raw in gs.matchers(selector) if name == "service_name"
    )
    return not gs.selects(app_only, {"service_name": VERIFY_SERVICE}, values) and all(
        gs.selects(app_only, {"service_name": app}, values) for app in APPS
    )


def test_every_rule_reads_claude_code_without_the_verify_session():
    checked = 0
    for name, expr in _rule_exprs():
        for metric, selector in _raw_metric_selectors(expr):
            assert _leaves_verify_out(selector), (name, metric, expr)
            checked += 1
    # The window sums of three metrics over four windows, the spike and the silent alerts.
    assert checked >= 3 * 4 + 2


def test_the_cost_report_reads_claude_code_without_the_verify_session():
    for label in ("user_id", "project", "model", "vcs_repository_url_full"):
        found = _raw_metric_selectors(cr.cost_report_query(label, "7d"))
        assert {metric for metric, _sel in found} == {
            "claude_code_cost_usage_USD",
            "claude_code_session_count",
            "claude_code_token_usage_tokens",
        }
        for metric, selector in found:
            assert _leaves_verify_out(selector), (label, metric)


@pytest.mark.parametrize("path", sorted(DASHBOARDS.glob("*.json")), ids=lambda p: p.name)
def test_dashboards_with_all_selected_leave_the_verify_session_out(path):
    dash = json.loads(path.read_text())
    values = gs.all_values(dash)
    checked = 0
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            for selector in gs.selectors(target.get("expr", "")):
                # Every query of Claude Code's data names the app it reads (the collector's own
                # metrics have no app).
                if "otelcol_" in target["expr"] and "service_name" not in selector:
                    continue
                assert _leaves_verify_out(selector, values), (panel["title"], selector)
                checked += 1
    for var in dash["templating"]["list"]:
        query = var.get("definition") or ""
        # A list of users, machines, ... offers only those of Claude Code's apps.
        assert "label_values(claude_code_" not in query or "{" in query, (var["name"], query)
        for selector in gs.selectors(query):
            assert _leaves_verify_out(selector, values), (var["name"], query)
    assert checked > 5


@pytest.mark.parametrize("signal", ["metrics", "logs", "traces"])
def test_verify_sends_as_the_marked_app(signal):
    text = (ROOT / "playbooks" / "templates" / f"verify_{signal}.json.j2").read_text()
    assert re.findall(r'"service\.name", "value": \{"stringValue": "([^"]+)"\}', text) == [VERIFY_SERVICE]


def test_the_probes_that_find_verify_s_session_ask_for_the_marked_app():
    loki = (ROOT / "roles" / "loki" / "tasks" / "component.yml").read_text()
    assert f'{{service_name="{VERIFY_SERVICE}"}} | session_id="__session__"' in loki
    jaeger = yaml.safe_load((ROOT / "roles" / "jaeger" / "defaults" / "main.yml").read_text())
    assert jaeger["jaeger_probe_service"] == VERIFY_SERVICE


def test_every_opensearch_saved_object_that_reads_events_leaves_the_verify_session_out():
    path = ROOT / "roles" / "opensearch_bootstrap" / "files" / "dashboards" / "claude-code.ndjson"
    checked = 0
    for line in path.read_text().splitlines():
        obj = json.loads(line)
        if obj.get("type") not in ("visualization", "search"):
            continue
        source = json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        if "indexRefName" not in source:  # the App control reads no events
            continue
        excluded = [
            f
            for f in source.get("filter", [])
            if f["meta"]["negate"]
            and not f["meta"]["disabled"]
            and f["query"] == {"match_phrase": {"resource.service.name": VERIFY_SERVICE}}
        ]
        assert len(excluded) == 1, obj["id"]
        refs = {r["name"]: r["id"] for r in obj["references"]}
        assert refs[excluded[0]["meta"]["indexRefName"]] == refs[source["indexRefName"]], obj["id"]
        checked += 1
    assert checked >= 30
