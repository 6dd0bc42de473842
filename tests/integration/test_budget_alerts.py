"""Budgets, the spend-spike and the went-silent alerts of the prometheus role, run by the real
`promtool test rules` on synthetic histories. The alerts each history must fire (labels, value and
the annotation a receiver shows) are worked out here from the samples with exact sums, not read
from Prometheus; promtool fails the test when Prometheus fires anything else."""

from __future__ import annotations

import math
import re
import subprocess

import pytest
import yaml
from helpers import playbook

pytestmark = [pytest.mark.testbed, pytest.mark.slow(seconds=40)]

COST = "claude_code_cost_usage_USD"
BUDGETS = {
    "total": {"day": 40, "week": 100, "month": 150},
    "user": {"day": 25, "week": 60, "month": 90},
    "project": {"day": 20, "week": 50, "month": 80},
}
PERIODS = {"day": ("Daily", 86400), "week": ("Weekly", 7 * 86400), "month": ("Monthly", 30 * 86400)}
SCOPES = {"total": ("Total", None), "user": ("PerUser", "user_id"), "project": ("PerProject", "project")}
SPIKE = {"factor": 3, "min": 5, "baseline": 7 * 86400}
SILENT = {"after": 3 * 86400, "lookback": 14 * 86400}
H = 3600


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    out = tmp_path_factory.mktemp("budget-rules") / "claude_code.rules.yml"
    playbook.run(
        "tests/integration/playbooks/prometheus_rules_render.yml",
        {
            "out_file": str(out),
            # A partial dict keeps the other periods' defaults: the day budgets come from the older variables.
            "prometheus_budget_total_usd": {"week": BUDGETS["total"]["week"], "month": BUDGETS["total"]["month"]},
            "prometheus_alert_daily_cost_total_usd": BUDGETS["total"]["day"],
            "prometheus_budget_user_usd": {"week": BUDGETS["user"]["week"], "month": BUDGETS["user"]["month"]},
            "prometheus_alert_daily_cost_per_user_usd": BUDGETS["user"]["day"],
            "prometheus_budget_project_usd": BUDGETS["project"],
            "prometheus_alert_spike_factor": SPIKE["factor"],
            "prometheus_alert_spike_min_usd": SPIKE["min"],
            "prometheus_alert_spike_baseline": "7d",
            "prometheus_alert_silent_after": "3d",
            "prometheus_alert_silent_lookback": "14d",
        },
    )
    return out


def _alert_rules(path):
    groups = yaml.safe_load(path.read_text())["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def _annotate(template: str, labels: dict, value: float) -> str:
    """Prometheus' expansion of the two template forms the rules use."""
    text = template.replace('{{ $value | printf "%.2f" }}', "%.2f" % value)
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)


class History:
    """Cost samples: (t seconds, labels, usd), and the promtool series that hold them."""

    def __init__(self, step: int):
        self.step = step
        self.series: dict[tuple, dict] = {}

    def spend(self, labels: dict, start: int, stop: int, usd: float):
        """One sample of `usd` every step in [start, stop)."""
        key = tuple(sorted(labels.items()))
        points = self.series.setdefault(key, {})
        for t in range(start, stop, self.step):
            points[t] = usd

    def samples(self):
        for key, points in self.series.items():
            for t, usd in points.items():
                yield t, dict(key), usd

    def window(self, at: int, length: int, by: str | None) -> dict:
        """Exact sums of the samples in (at - length, at], by one label (or all together)."""
        out: dict = {}
        for t, labels, usd in self.samples():
            if at - length < t <= at:
                out.setdefault(labels[by] if by else None, []).append(usd)
        return {k: math.fsum(v) for k, v in out.items()}

    def promtool_series(self) -> list:
        out = []
        for key, points in self.series.items():
            last = max(points)
            values = " ".join(repr(points[t]) if t in points else "_" for t in range(0, last + 1, self.step))
            selector = ", ".join(f'{k}="{v}"' for k, v in key)
            out.append({"series": f"{COST}{{{selector}}}", "values": values})
        return out


def _who(user: str) -> dict:
    return {"user_id": user, "project": {"ana": "api", "bo": "web"}[user], "machine_name": f"m-{user}", "model": "x"}


def _budget_alerts(alerts, hist: History, at: int) -> list:
    tests = []
    for period, (adjective, seconds) in PERIODS.items():
        for scope, (suffix, label) in SCOPES.items():
            name = f"ClaudeCode{adjective}Spend{suffix}"
            rule = alerts[name]
            limit = BUDGETS[scope][period]
            exp = []
            for key, value in sorted(hist.window(at, seconds, label).items(), key=lambda kv: str(kv[0])):
                if value > limit:
                    labels = {"severity": "warning", "budget_scope": scope, "budget_period": period}
                    if label:
                        labels[label] = key
                    exp.append(
                        {
                            "exp_labels": labels,
                            "exp_annotations": {k: _annotate(v, labels, value) for k, v in rule["annotations"].items()},
                        }
                    )
            tests.append((name, exp))
    return tests


def _spike_alerts(alerts, hist: History, at: int) -> list:
    rule = alerts["ClaudeCodeSpendSpike"]
    exp = []
    hour = hist.window(at, H, "user_id")
    for user, value in sorted(hour.items()):
        # The usual hour: spend over the baseline before this hour / the hours of it with spend
        # (PromQL's subquery steps are whole hours since the epoch).
        end = at - H
        hours = [h for h in range(end - end % H, end - SPIKE["baseline"], -H) if hist.window(h, H, "user_id").get(user)]
        if not hours or value <= SPIKE["min"]:
            continue
        usual = hist.window(end, SPIKE["baseline"], "user_id")[user] / len(hours)
        if value > SPIKE["factor"] * usual:
            labels = {"severity": "warning", "user_id": user}
            exp.append(
                {
                    "exp_labels": labels,
                    "exp_annotations": {k: _annotate(v, labels, value) for k, v in rule["annotations"].items()},
                }
            )
    return [("ClaudeCodeSpendSpike", exp)]


def _silent_alerts(alerts, hist: History, at: int) -> list:
    tests = []
    for name, label in (("ClaudeCodeMachineSilent", "machine_name"), ("ClaudeCodeUserSilent", "user_id")):
        rule = alerts[name]
        before = hist.window(at, SILENT["lookback"], label)
        recent = hist.window(at, SILENT["after"], label)
        exp = []
        for key in sorted(set(before) - set(recent)):
            labels = {"severity": "warning", label: key}
            exp.append(
                {
                    "exp_labels": labels,
                    "exp_annotations": {k: _annotate(v, labels, 1) for k, v in rule["annotations"].items()},
                }
            )
        tests.append((name, exp))
    return tests


def _promtool(testbed, rules, tmp_path, hist: History, cases: list, evaluation_interval: str = "1m"):
    """Runs `promtool test rules` with one test group: the history and, per evaluation time, the alerts
    every named rule must be firing (an empty list: none)."""
    if evaluation_interval == "1h":
        # Evaluating hourly answers as every minute would only for alerts that fire as soon as their
        # expression holds, checked on whole hours; with a `for`, go back to "1m".
        held = {n: r["for"] for n, r in _alert_rules(rules).items() if r.get("for") and n in _names(cases)}
        assert not held, f"alerts with a `for` need a finer evaluation_interval: {held}"
        assert all(at % 3600 == 0 for at, _tests in cases), [at for at, _tests in cases]
    spec = {
        "rule_files": [str(rules)],
        "evaluation_interval": evaluation_interval,
        "tests": [
            {
                "interval": f"{hist.step}s",
                "input_series": hist.promtool_series(),
                "alert_rule_test": [
                    {"eval_time": f"{at}s", "alertname": name, "exp_alerts": exp}
                    for at, tests in cases
                    for name, exp in tests
                ],
            }
        ],
    }
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    proc = subprocess.run(
        [testbed["PROMTOOL_BIN"], "test", "rules", str(path)], capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return spec


def _names(cases: list) -> set:
    return {name for _at, tests in cases for name, _exp in tests}


def _firing(spec) -> set:
    return {
        (t["alertname"], tuple(sorted(a["exp_labels"].items())))
        for t in spec["tests"][0]["alert_rule_test"]
        for a in t["exp_alerts"]
    }


def test_daily_budgets_fire_for_exactly_who_is_above_them(testbed, rules, tmp_path):
    hist = History(step=60)
    hist.spend(_who("ana"), 60, H, 0.5)  # 29.5 USD in the hour: above the user and project day budgets
    hist.spend(_who("bo"), 60, H, 0.2)  # 11.8 USD: below both; 41.3 together: above the total day budget
    alerts = _alert_rules(rules)
    at = H  # the last sample is at 59 min
    spec = _promtool(
        testbed, rules, tmp_path, hist, [(at, _budget_alerts(alerts, hist, at) + _spike_alerts(alerts, hist, at))]
    )
    firing = {(name, dict(labels).get("user_id") or dict(labels).get("project")) for name, labels in _firing(spec)}
    # ana has no usual hour before this one: no spike, only budgets.
    assert firing == {
        ("ClaudeCodeDailySpendPerUser", "ana"),
        ("ClaudeCodeDailySpendPerProject", "api"),
        ("ClaudeCodeDailySpendTotal", None),
    }


def test_weekly_and_monthly_budgets_on_a_long_history(testbed, rules, tmp_path):
    hist = History(step=H)
    hist.spend(_who("ana"), 0, 400 * H, 0.41)  # steady for 400 hours
    hist.spend(_who("bo"), 300 * H, 400 * H, 0.7)  # only the last 100 hours
    alerts = _alert_rules(rules)
    cases = [(at, _budget_alerts(alerts, hist, at)) for at in (200 * H, 400 * H)]
    # Hourly samples and alerts without `for`: evaluating every hour answers the checked hours as every
    # 5 minutes would, with a twelfth of the evaluations.
    _promtool(testbed, rules, tmp_path, hist, cases, evaluation_interval="1h")
    outcome = {(name, at): len(exp) for at, tests in cases for name, exp in tests}
    # The history is one where each weekly and monthly budget both fires and stays quiet somewhere.
    for adjective in ("Weekly", "Monthly"):
        counts = [n for (name, _at), n in outcome.items() if name.startswith(f"ClaudeCode{adjective}")]
        assert max(counts) > 0 and min(counts) == 0, (adjective, outcome)


def test_spend_spike_against_the_usual_active_hour(testbed, rules, tmp_path):
    hist = History(step=600)
    # ana: 1.2 USD per active hour, 8 hours a day for 5 days, then 12 USD in one hour.
    # bo: a steady 6 USD per hour, day and night: above the floor, never above 3 times the usual.
    for day in range(5):
        hist.spend(_who("ana"), day * 24 * H, day * 24 * H + 8 * H, 0.2)
    spike = 5 * 24 * H
    hist.spend(_who("ana"), spike, spike + H, 2.0)
    hist.spend(_who("bo"), 0, spike + H, 1.0)
    alerts = _alert_rules(rules)
    at = spike + H - 600  # the last sample of the spike hour
    quiet = 4 * 24 * H + 4 * H  # an ordinary working hour of ana
    spec = _promtool(
        testbed,
        rules,
        tmp_path,
        hist,
        [(at, _spike_alerts(alerts, hist, at)), (quiet, _spike_alerts(alerts, hist, quiet))],
        evaluation_interval="5m",
    )
    assert {(n, dict(labels)["user_id"]) for n, labels in _firing(spec)} == {("ClaudeCodeSpendSpike", "ana")}


def test_a_machine_and_user_that_went_silent(testbed, rules, tmp_path):
    hist = History(step=H)
    hist.spend(_who("ana"), 0, 5 * 24 * H, 0.1)  # reports for 5 days, then stops
    hist.spend(_who("bo"), 0, 21 * 24 * H, 0.1)  # reports throughout
    alerts = _alert_rules(rules)
    cases = [(at, _silent_alerts(alerts, hist, at)) for at in (7 * 24 * H, 9 * 24 * H, 20 * 24 * H)]
    spec = _promtool(testbed, rules, tmp_path, hist, cases, evaluation_interval="1h")  # hourly, as above
    fired = {(n, at) for at, tests in cases for n, exp in tests if exp}
    # Silent for 2 days: not yet; for 4 days: both alerts; for 15 days: outside the lookback, forgotten.
    assert fired == {("ClaudeCodeMachineSilent", 9 * 24 * H), ("ClaudeCodeUserSilent", 9 * 24 * H)}
    assert _firing(spec) == {
        ("ClaudeCodeMachineSilent", (("machine_name", "m-ana"), ("severity", "warning"))),
        ("ClaudeCodeUserSilent", (("severity", "warning"), ("user_id", "ana"))),
    }
