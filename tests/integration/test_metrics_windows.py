"""Every window is exact: a generated history of sessions spread over six hours (past
timestamps, sent out of order) through the real collector into the real Prometheus 3.5; the
dashboards' form of query, the recording rules and the spend alerts of the prometheus role are
compared with the exact sums of what was sent in each window, by user, model, kind and project."""

from __future__ import annotations

import math
import random
import time
import uuid
from collections import defaultdict

import pytest
from helpers import load, metrics_path, otlp, playbook, procs

pytestmark = pytest.mark.testbed

NS = 1_000_000_000
MS = 1_000_000
USERS = ("ana", "bo", "cy", "di")
PROJECTS = ("api", "web", "infra")
KINDS = ("input", "output", "cacheRead", "cacheCreation")
# Sessions in a git repository carry it (OTEL_METRICS_INCLUDE_REPOSITORY); "" is a session outside one.
REPOSITORIES = ("https://github.com/acme/widgets", "https://gitlab.example.com/ops/infra", "")


def history(seed: int, now_ns: int, sessions: int = 40, span_h: float = 6.0):
    """(payloads in random order, samples) where a sample is (t_ns, metric, labels, value)."""
    rng = random.Random(seed)
    payloads, samples = [], []
    for s in range(sessions):
        sid = str(uuid.UUID(int=rng.getrandbits(128)))
        user, project = USERS[s % len(USERS)], rng.choice(PROJECTS)
        # Off the whole second so no sample sits on a window edge.
        start = now_ns - int(rng.uniform(0.05, span_h) * 3600 * NS) + rng.randint(1, 999) * MS
        exports = rng.randint(1, 40)
        repository = REPOSITORIES[s % len(REPOSITORIES)]
        resource = [load._kv("service.name", "claude-code"), load._kv("project", project)]
        for i in range(exports):
            t1 = start + i * 60 * NS
            if t1 >= now_ns - NS:
                break
            base = [load._kv("session.id", sid), load._kv("user.id", user), load._kv("machine.name", f"m-{s % 3}")]
            if repository:
                base.append(load._kv("vcs.repository.url.full", repository))
            model = rng.choice(load.MODELS)
            cost = round(rng.uniform(0.0001, 0.3), 6)
            labels = {"user_id": user, "model": model, "project": project, "vcs_repository_url_full": repository}
            metrics = []
            if i == 0:
                metrics.append(load._sum("claude_code.session.count", "", [load._point(base, 1, t1 - NS, t1)]))
                samples.append((t1, "sessions", labels, 1))
            metrics.append(
                load._sum(
                    "claude_code.cost.usage", "USD", [load._point([*base, load._kv("model", model)], cost, t1 - NS, t1)]
                )
            )
            samples.append((t1, "cost", labels, cost))
            points = []
            for kind in KINDS:
                n = rng.randint(0, 4000)
                points.append(load._point([*base, load._kv("model", model), load._kv("type", kind)], n, t1 - NS, t1))
                samples.append((t1, "tokens", {**labels, "kind": kind}, n))
            metrics.append(load._sum("claude_code.token.usage", "tokens", points))
            payloads.append(load.export(resource, metrics))
    rng.shuffle(payloads)
    return payloads, samples


def exact(samples, metric: str, at_ns: int, window_ns: int, by: tuple[str, ...]) -> dict:
    """Exact sums of `metric` in the left-open window (at - window, at], by labels."""
    out = defaultdict(list)
    for t, name, labels, value in samples:
        if name == metric and at_ns - window_ns < t <= at_ns:
            out[tuple(labels[k] for k in by)].append(value)
    return {k: math.fsum(v) for k, v in out.items()}


def got(prom, expr: str, at: float, by: tuple[str, ...]) -> dict:
    return {tuple(s["metric"].get(k, "") for k in by): float(s["value"][1]) for s in prom.query(expr, at)}


def assert_same(want: dict, have: dict, what: str):
    assert set(want) == set(have), (what, sorted(set(want) ^ set(have)))
    for key, value in want.items():
        assert abs(have[key] - value) <= 1e-9, (what, key, have[key], value)


METRICS = {
    "cost": "claude_code_cost_usage_USD",
    "tokens": "claude_code_token_usage_tokens",
    "sessions": "claude_code_session_count",
}
WINDOWS = {
    "5m": 300,
    "37m": 37 * 60,
    "1h": 3600,
    "2h13m": 2 * 3600 + 13 * 60,
    "6h": 6 * 3600,
    "24h": 86400,
    "7d": 7 * 86400,
}


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    """The prometheus role's rules, rendered by the role's template, every window evaluated each second,
    and alert thresholds the test sets below."""
    out = tmp_path_factory.mktemp("rules")
    # Values do not depend on the time: per-user totals of the history, all inside 24 h.
    _payloads, samples = history(seed=21, now_ns=time.time_ns())
    per_user = sorted(exact(samples, "cost", time.time_ns() + 86400 * NS, 2 * 86400 * NS, ("user_id",)).values())
    per_user_threshold = (per_user[1] + per_user[2]) / 2  # two users above, two below
    total_threshold = math.fsum(per_user) - 0.0005  # just below the total: fires
    playbook.run(
        "tests/integration/playbooks/grafana_promql_render.yml",
        {
            "out_dir": str(out),
            "prometheus_long_window_interval": "1s",
            "prometheus_alert_daily_cost_per_user_usd": per_user_threshold,
            "prometheus_alert_daily_cost_total_usd": total_threshold,
            # Only the day budgets: the other alerts have tests of their own (test_budget_alerts.py).
            "prometheus_budget_total_usd": {"week": 0, "month": 0},
            "prometheus_budget_user_usd": {"week": 0, "month": 0},
            "prometheus_alert_spike_factor": 0,
            "prometheus_alert_silent_after": "",
        },
    )
    return out / "claude_code.rules.yml", per_user_threshold


@pytest.fixture(scope="module")
def loaded(testbed, tmp_path_factory, rules):
    rules, _threshold = rules
    work = tmp_path_factory.mktemp("windows")
    now = time.time_ns()
    payloads, samples = history(seed=21, now_ns=now)
    prom = metrics_path.Prometheus(testbed, work / "prom", rules=[str(rules)]).start()
    col = metrics_path.Collector(testbed, work / "otelcol", prom.otlp).start()
    try:
        for payload in payloads:
            assert otlp.post(col.http, "metrics", payload) == 200
        total = math.fsum(v for _t, m, _l, v in samples if m == "cost")
        metrics_path.wait_value(prom, "sum(sum_over_time(claude_code_cost_usage_USD[7d]))", total, timeout=90)
        yield prom, samples, now
    finally:
        col.kill()
        prom.stop()


@pytest.mark.parametrize("by", [(), ("user_id",), ("model",), ("project",)])
def test_cost_for_any_window_and_any_end(loaded, by):
    prom, samples, now = loaded
    for back_s in (0, 1800, 3 * 3600 + 7):  # the dashboard looking at now, and at the past
        at_ns = now - back_s * NS
        for w, seconds in WINDOWS.items():
            grouping = f" by ({', '.join(by)})" if by else ""
            expr = f"sum{grouping} (sum_over_time({METRICS['cost']}[{w}]))"
            want = exact(samples, "cost", at_ns, seconds * NS, by)
            assert_same(want, got(prom, expr, at_ns / NS, by), (expr, back_s))


def test_tokens_by_kind_and_sessions_by_user_and_project(loaded):
    prom, samples, now = loaded
    at = now - 600 * NS
    for w, seconds in WINDOWS.items():
        for metric, by in (("tokens", ("kind",)), ("tokens", ("model", "kind")), ("sessions", ("user_id", "project"))):
            expr = f"sum by ({', '.join(by)}) (sum_over_time({METRICS[metric]}[{w}]))"
            assert_same(exact(samples, metric, at, seconds * NS, by), got(prom, expr, at / NS, by), expr)


def _recorded(prom, record: str, by: tuple[str, ...]):
    """(value by labels, evaluation time) of a recording rule's newest sample."""
    at = time.time()
    values = got(prom, record, at, by)
    stamps = {float(s["value"][1]) for s in prom.query(f"timestamp({record})", at)}
    assert len(stamps) == 1, (record, stamps)
    return values, stamps.pop()


@pytest.mark.parametrize("window", ["1h", "24h", "7d", "30d"])
def test_recording_rules_hold_the_exact_window_totals(loaded, window):
    prom, samples, _now = loaded
    seconds = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}[window]
    for record, metric, by in (
        (f"user_id:claude_code_cost_usd:window{window}", "cost", ("user_id",)),
        (f"model:claude_code_cost_usd:window{window}", "cost", ("model",)),
        (f"project:claude_code_cost_usd:window{window}", "cost", ("project",)),
        (f"claude_code_cost_usd:window{window}", "cost", ()),
        (f"model_kind:claude_code_tokens:window{window}", "tokens", ("model", "kind")),
        (f"project_kind:claude_code_tokens:window{window}", "tokens", ("project", "kind")),
        (f"vcs_repository_url_full:claude_code_cost_usd:window{window}", "cost", ("vcs_repository_url_full",)),
        (
            f"vcs_repository_url_full_kind:claude_code_tokens:window{window}",
            "tokens",
            ("vcs_repository_url_full", "kind"),
        ),
        (f"vcs_repository_url_full:claude_code_sessions:window{window}", "sessions", ("vcs_repository_url_full",)),
        (f"user_id:claude_code_sessions:window{window}", "sessions", ("user_id",)),
    ):

        def settled(record=record, metric=metric, by=by):
            values, stamp = _recorded(prom, record, by)
            want = exact(samples, metric, int(stamp * 1000) * MS, seconds * NS, by)
            return set(want) == set(values) and all(abs(values[k] - v) <= 1e-9 for k, v in want.items())

        # The rule's newest evaluation may predate the last sample's arrival by a second.
        for _attempt in range(20):
            if settled():
                break
            time.sleep(1)
        values, stamp = _recorded(prom, record, by)
        assert_same(exact(samples, metric, int(stamp * 1000) * MS, seconds * NS, by), values, record)


def test_spend_alerts_fire_for_exactly_the_users_above_the_threshold(loaded, rules):
    prom, samples, now = loaded
    _file, threshold = rules
    day = exact(samples, "cost", now, 86400 * NS, ("user_id",))
    above = {user for (user,), value in day.items() if value > threshold}
    assert len(above) == 2

    def firing():
        alerts = procs.http_json(f"{prom.base}/api/v1/alerts")["data"]["alerts"]
        return [a for a in alerts if a["state"] == "firing"]

    def settled():
        names = {(a["labels"]["alertname"], a["labels"].get("user_id")) for a in firing()}
        return names == {("ClaudeCodeDailySpendPerUser", u) for u in above} | {("ClaudeCodeDailySpendTotal", None)}

    procs.wait_for(settled, timeout=30, what="spend alerts")
    for alert in firing():
        if alert["labels"]["alertname"] == "ClaudeCodeDailySpendPerUser":
            assert abs(float(alert["value"]) - day[(alert["labels"]["user_id"],)]) <= 1e-9
        else:
            assert abs(float(alert["value"]) - math.fsum(day.values())) <= 1e-9
