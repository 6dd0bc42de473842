"""Every PromQL query of the shipped Grafana dashboards and alert rules, run against the real
Prometheus fed by the real collector (config rendered by the otel_collector role's filter, pushing
to Prometheus' OTLP receiver) with the captured Claude Code fixtures plus a generated load.

The headline panels (total cost, tokens by kind, sessions, commits, pull requests) must return
exactly what was sent.

Besides the CLI's captures, the Desktop app's session is sent: the real tool-session capture with
only the resource attribute service.name changed to claude-code-desktop (tests/helpers/desktop.py).
With App ($service) All the totals hold both apps; with claude-code-desktop only the Desktop's.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
import urllib.parse
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from helpers import desktop, load, otlp, playbook, procs
from helpers import grafana_selectors as gs

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "roles" / "grafana" / "files" / "dashboards"
PROM_UID = "claude-code-prometheus"
SERVICE_VAR = gs.template_variables(json.loads((DASHBOARDS / "claude-code-overview.json").read_text()))["service"]
# What Grafana puts in place of its variables when every value is selected and the
# dashboard shows the last hour.
ALL = {
    "$service": gs.interpolated(SERVICE_VAR),
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1h",
    "$user": ".*",
    "$machine": ".*",
    "$project": ".*",
    "$repository": ".*",
    "$model": ".*",
}
# The last one ran in a git repository with OTEL_METRICS_INCLUDE_REPOSITORY (tests/fixtures).
FIXTURE_SESSIONS = ("tool-session", "error-session", "repository-session")
REPOSITORY = "https://github.com/acme/widgets"


def substitute(expr: str, values: dict | None = None) -> str:
    values = {**ALL, **(values or {})}
    # Longest names first: $__rate_interval before $__range, etc.
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(name, values[name])
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, PromQL) of every Prometheus target."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dash = json.loads(path.read_text())
        for panel in dash["panels"]:
            for target in panel.get("targets", []):
                if (target.get("datasource") or panel.get("datasource") or {}).get("uid") == PROM_UID:
                    out.append((dash["uid"], panel["title"], target["expr"]))
    return out


def variable_queries() -> list[tuple[str, str, str]]:
    """(dashboard uid, variable, label_values(...) query) of every Prometheus template variable."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dash = json.loads(path.read_text())
        for var in dash["templating"]["list"]:
            if var.get("datasource", {}).get("uid") == PROM_UID:
                out.append((dash["uid"], var["name"], var["definition"]))
    return out


def panel_expr(title: str) -> str:
    (expr,) = [e for _uid, t, e in dashboard_queries() if t == title]
    return expr


# -- load -----------------------------------------------------------------------------------


def _kv(key, value):
    return load._kv(key, value)


def productivity_exports(seed: int, sessions: int, totals: dict) -> list[dict]:
    """Delta sums of the metrics the fixtures lack (commits, pull requests) and more of those they
    hold once (lines of code, active time, code-edit decisions), one session each, two exports."""
    rng = random.Random(seed)
    start = time.time_ns() - 20 * 60 * 1_000_000_000
    payloads = []
    for s in range(sessions):
        sid = str(uuid.UUID(int=rng.getrandbits(128)))
        base = [_kv("session.id", sid), _kv("user.id", f"user-{s % 2}"), _kv("terminal.type", "load")]
        resource = [
            _kv("service.name", "claude-code"),
            _kv("service.version", "2.1.330"),
            _kv("machine.name", f"dev box {s % 2}"),
            _kv("project", "productivity"),
        ]
        for i in range(2):
            t0, t1 = start + s * 10**6 + i * 10**9, start + s * 10**6 + (i + 1) * 10**9
            commits, prs = rng.randint(0, 3), rng.randint(0, 1)
            totals["commits"] += commits
            totals["prs"] += prs
            lines = {kind: rng.randint(1, 200) for kind in ("added", "removed")}
            active = {kind: round(rng.uniform(1, 90), 3) for kind in ("user", "cli")}
            for kind, n in lines.items():
                totals["lines"][kind] += n
            tool, lang = rng.choice(["Edit", "Write", "MultiEdit"]), rng.choice(["Python", "Go", "YAML"])
            decision = rng.choice(["accept", "reject"])
            totals["decisions"][(tool, decision, lang)] += 1

            def point(attrs, value, t0=t0, t1=t1):
                return load._point(attrs, value, t0, t1)

            metrics = [
                load._sum("claude_code.commit.count", "", [point(base, commits)]),
                load._sum("claude_code.pull_request.count", "", [point(base, prs)]),
                load._sum(
                    "claude_code.lines_of_code.count",
                    "",
                    [point([*base, _kv("type", k)], n) for k, n in lines.items()],
                ),
                load._sum(
                    "claude_code.active_time.total",
                    "s",
                    [point([*base, _kv("type", k)], v) for k, v in active.items()],
                ),
                load._sum(
                    "claude_code.code_edit_tool.decision",
                    "",
                    [
                        point(
                            [*base, _kv("tool_name", tool), _kv("decision", decision), _kv("language", lang)],
                            1,
                        )
                    ],
                ),
            ]
            payloads.append(load.export(resource, metrics))
    return payloads


def metric_totals(payloads: list[dict]) -> dict:
    """What metric exports add up to."""
    out = {"cost": [], "tokens": defaultdict(int), "sessions": 0, "lines": defaultdict(int)}
    for payload in payloads:
        for rm in payload.get("resourceMetrics", []):
            for sm in rm["scopeMetrics"]:
                for metric in sm["metrics"]:
                    for dp in metric["sum"]["dataPoints"]:
                        value = float(dp.get("asDouble", dp.get("asInt", 0)))
                        kind = otlp.attrs(dp["attributes"]).get("type")
                        if metric["name"] == "claude_code.cost.usage":
                            out["cost"].append(value)
                        elif metric["name"] == "claude_code.token.usage":
                            out["tokens"][kind] += int(value)
                        elif metric["name"] == "claude_code.session.count":
                            out["sessions"] += int(value)
                        elif metric["name"] == "claude_code.lines_of_code.count":
                            out["lines"][kind] += int(value)
    return out


def fixture_totals() -> dict:
    """What the captured CLI sessions' metric exports add up to."""
    paths = [p for session in FIXTURE_SESSIONS for p in otlp.session_files(session) if otlp.signal_of(p) == "metrics"]
    return metric_totals([otlp.load(p) for p in paths])


# -- the real collector and Prometheus ------------------------------------------------------


def collector_config(rendered: dict, ports: dict, queue_dir: Path, prom_port: int) -> str:
    """The role's config with host-process listen addresses instead of the container's."""
    cfg = rendered
    cfg["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] = f"127.0.0.1:{ports['grpc']}"
    cfg["receivers"]["otlp"]["protocols"]["http"]["endpoint"] = f"127.0.0.1:{ports['http']}"
    cfg["extensions"]["health_check"]["endpoint"] = f"127.0.0.1:{ports['health']}"
    cfg["extensions"]["file_storage/queue"]["directory"] = str(queue_dir)
    exporter = cfg["exporters"]["otlphttp/prometheus"]
    assert exporter["metrics_endpoint"] == "http://prometheus:9090/api/v1/otlp/v1/metrics"
    exporter["metrics_endpoint"] = f"http://127.0.0.1:{prom_port}/api/v1/otlp/v1/metrics"
    reader = cfg["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]
    reader.update({"host": "127.0.0.1", "port": ports["telemetry"]})
    return yaml.safe_dump(cfg)


PROMETHEUS_CONFIG = """
global:
  scrape_interval: 1s
  evaluation_interval: 1s
storage:
  tsdb:
    out_of_order_time_window: 7d
rule_files: ["{rules}"]
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("rendered")
    playbook.run("tests/integration/playbooks/grafana_promql_render.yml", {"out_dir": str(out)})
    return out


@pytest.fixture
def loaded(otelcol, prometheus, rendered, tmp_path):
    """The collector pushing to Prometheus, with the fixtures and the generated load sent. Yields
    (base URL, expected totals)."""
    ports = {k: procs.free_port() for k in ("grpc", "http", "health", "telemetry", "prom")}
    config = collector_config(
        yaml.safe_load((rendered / "otelcol.yaml").read_text()), ports, tmp_path / "queue", ports["prom"]
    )
    payloads, totals = load.generate(seed=11, users=3, machines=2, sessions=9, exports=3)
    extra = {"commits": 0, "prs": 0, "lines": defaultdict(int), "decisions": defaultdict(int)}
    extra_payloads = productivity_exports(5, 6, extra)
    fixtures = fixture_totals()
    desktop_metrics = [p for signal, p in desktop.session_payloads() if signal == "metrics"]
    apps = metric_totals(desktop_metrics)
    assert apps["cost"] and apps["sessions"] == 1 and apps["lines"]["added"] == 3
    with (
        prometheus(
            PROMETHEUS_CONFIG.format(rules=rendered / "claude_code.rules.yml"),
            ports["prom"],
            ["--web.enable-otlp-receiver"],
        ),
        otelcol(config, ports["health"]),
    ):
        http = f"http://127.0.0.1:{ports['http']}"
        for session in FIXTURE_SESSIONS:
            for signal, payload in otlp.session_payloads(session):
                if signal == "metrics":
                    assert otlp.post(http, signal, payload) == 200
        for payload in desktop_metrics:
            assert otlp.post(http, "metrics", payload) == 200
        load.send_grpc(f"127.0.0.1:{ports['grpc']}", payloads)
        for payload in extra_payloads:
            assert otlp.post(http, "metrics", payload) == 200
        tokens = defaultdict(int, fixtures["tokens"])
        for (_model, kind), n in totals.tokens_by_model_kind.items():
            tokens[kind] += n
        cli_cost = [*fixtures["cost"], *totals.cost_by_model.values()]
        cli = {"cost": math.fsum(cli_cost), "tokens": dict(tokens), "sessions": fixtures["sessions"] + totals.sessions}
        lines = defaultdict(int, extra["lines"])
        for kind, n in fixtures["lines"].items():
            lines[kind] += n
        cli["lines"] = dict(lines)
        both_tokens = {k: tokens[k] + apps["tokens"].get(k, 0) for k in set(tokens) | set(apps["tokens"])}
        expected = {
            # App = All: the CLI and the Desktop app together.
            "cost": math.fsum([*cli_cost, *apps["cost"]]),
            "cost_by_user": dict(totals.cost_by_user),
            "tokens": both_tokens,
            "sessions": cli["sessions"] + apps["sessions"],
            **extra,
            "lines": {k: lines[k] + apps["lines"].get(k, 0) for k in set(lines) | set(apps["lines"])},
            # App = one of them.
            "apps": {
                desktop.CLI_SERVICE_NAME: cli,
                desktop.SERVICE_NAME: {
                    "cost": math.fsum(apps["cost"]),
                    "tokens": dict(apps["tokens"]),
                    "sessions": apps["sessions"],
                    "lines": dict(apps["lines"]),
                },
            },
        }
        yield f"http://127.0.0.1:{ports['prom']}", expected


def _settled(base: str, expr: str, want):
    """Wait until an instant query equals `want` (the last scrape may still be on its way)."""
    last = None

    def check():
        nonlocal last
        last = procs.prom_query(base, expr)
        return want(last)

    try:
        procs.wait_for(check, timeout=30, what=expr)
    except (TimeoutError, AssertionError) as exc:
        raise AssertionError(f"{expr}\nlast answer: {last}") from exc
    return last


def _one(result) -> float | None:
    return float(result[0]["value"][1]) if len(result) == 1 else None


def test_every_dashboard_and_alert_query_returns_data(loaded, rendered):
    base, expected = loaded

    # Headline panels: the exact sums that were sent.
    cost = panel_expr("Total cost")
    _settled(base, substitute(cost), lambda r: _one(r) is not None and abs(_one(r) - expected["cost"]) <= 1e-9)
    _settled(
        base,
        substitute(panel_expr("Sessions")),
        lambda r: _one(r) is not None and abs(_one(r) - expected["sessions"]) <= 1e-9,
    )

    def kinds_match(result, want=expected["tokens"]):
        got = {s["metric"]["kind"]: float(s["value"][1]) for s in result}
        return set(got) == set(want) and all(abs(got[k] - v) <= 1e-9 for k, v in want.items())

    _settled(base, substitute(panel_expr("Tokens by kind")), kinds_match)
    for title, key in (("Commits", "commits"), ("Pull requests", "prs")):
        _settled(
            base,
            substitute(panel_expr(title)),
            lambda r, key=key: _one(r) is not None and abs(_one(r) - expected[key]) <= 1e-9,
        )

    def lines_match(result, want=expected["lines"]):
        # The tool-session capture (sent by both apps) added 3 lines and removed none.
        return {s["metric"]["kind"]: float(s["value"][1]) for s in result} == want

    _settled(base, substitute(panel_expr("Lines of code")), lines_match)

    # App ($service) narrows every headline panel to one app's exact totals; All (above) is both.
    assert expected["cost"] > expected["apps"][desktop.SERVICE_NAME]["cost"] > 0
    for app, want in expected["apps"].items():
        one = {"$service": gs.interpolated(SERVICE_VAR, [app])}
        _settled(
            base,
            substitute(cost, one),
            lambda r, want=want: _one(r) is not None and abs(_one(r) - want["cost"]) <= 1e-9,
        )
        _settled(
            base,
            substitute(panel_expr("Sessions"), one),
            lambda r, want=want: _one(r) is not None and abs(_one(r) - want["sessions"]) <= 1e-9,
        )
        _settled(
            base, substitute(panel_expr("Tokens by kind"), one), lambda r, want=want: kinds_match(r, want["tokens"])
        )
        _settled(base, substitute(panel_expr("Lines of code"), one), lambda r, want=want: lines_match(r, want["lines"]))
    # Both chosen by hand is All.
    both = {"$service": gs.interpolated(SERVICE_VAR, list(expected["apps"]))}
    _settled(base, substitute(cost, both), lambda r: _one(r) is not None and abs(_one(r) - expected["cost"]) <= 1e-9)
    # Every sample carries the label the App variable filters on.
    for metric in sorted({m for _uid, _t, e in dashboard_queries() for m in re.findall(r"\b(claude_code_\w+)\{", e)}):
        assert procs.prom_query(base, f"count_over_time({metric}[1h])"), metric
        unlabelled = procs.prom_query(base, f'count_over_time({metric}{{service_name=""}}[1h])')
        assert unlabelled == [], (metric, unlabelled)
    app_values = procs.http_json(
        f"{base}/api/v1/label/service_name/values?" + urllib.parse.urlencode({"match[]": "claude_code_cost_usage_USD"})
    )["data"]
    assert set(app_values) == set(expected["apps"]), app_values

    # A variable narrows the panel: one user's cost.
    user = "user-1"
    _settled(
        base,
        substitute(cost, {"$user": user}),
        lambda r: _one(r) is not None and abs(_one(r) - expected["cost_by_user"][user]) <= 1e-9,
    )

    # Cache hit rate is a ratio of the exact token totals.
    t = expected["tokens"]
    rate = t["cacheRead"] / (t["input"] + t["cacheRead"] + t["cacheCreation"])
    _settled(
        base,
        substitute(panel_expr("Cache hit rate")),
        lambda r: _one(r) is not None and abs(_one(r) - rate) <= 1e-12,
    )

    # Every other panel and every alert query returns data.
    alert_rules = yaml.safe_load((rendered / "grafana_alert_rules.yml").read_text())
    alert_exprs = [
        ("alert", rule["title"], q["model"]["expr"])
        for rule in alert_rules
        for q in rule["data"]
        if q["datasourceUid"] == PROM_UID
    ]
    assert len(alert_exprs) == 2
    queries = dashboard_queries() + alert_exprs
    assert len(queries) >= 14
    over_time = {"Cost by model over time": expected["cost"], "Tokens by kind over time": sum(t.values())}
    for _uid, title, expr in queries:
        if title in over_time:
            continue
        result = _settled(base, substitute(expr), bool)
        assert all(not math.isnan(float(s["value"][1])) for s in result), (title, result)

    # The "over time" panels, as Grafana asks them: a range query over the last hour with a
    # 1 m step and $__interval = 1m. Each point is its own minute, so the points add up to the
    # exact total of the range.
    end = time.time()
    for title, want in over_time.items():
        params = {"query": substitute(panel_expr(title)), "start": end - 3600, "end": end, "step": 60}
        res = procs.http_json(f"{base}/api/v1/query_range?" + urllib.parse.urlencode(params))["data"]["result"]
        points = [float(v) for series in res for _t, v in series["values"]]
        assert len(points) > 1, (title, res)
        assert abs(math.fsum(points) - want) <= 1e-9 * max(1, want), (title, math.fsum(points), want)

    # The daily alert threshold is compared with the same number the spend alert of the
    # Prometheus role reads: total spend over 24 h (recorded at the next evaluation).
    _settled(
        base,
        "claude_code_cost_usd:window24h",
        lambda r: _one(r) is not None and abs(_one(r) - expected["cost"]) <= 1e-9,
    )

    # Template variables (label_values) list what was sent.
    for _uid, name, query in variable_queries():
        m = re.fullmatch(r"label_values\((\w+(?:\{[^}]*\})?), (\w+)\)", query)
        assert m, query
        series, label = m.groups()
        url = f"{base}/api/v1/label/{label}/values?" + urllib.parse.urlencode({"match[]": substitute(series)})
        values = procs.http_json(url)["data"]
        assert values, (name, query)
        if name == "user":
            assert {"user-0", "user-1", "user-2"} <= set(values)
        if name == "repository":
            assert set(values) == {REPOSITORY}
        if name == "machine":
            assert {"ci-box", "host 0, lab", "host 1, lab"} <= set(values)


def test_cost_by_repository_holds_the_captured_repository_session(loaded):
    """The real CLI's session in a git repository (its vcs.* attributes) is its own row of the
    repository panel and the repository recording rule; everything else is the row without one."""
    base, expected = loaded
    session = metric_totals(
        [otlp.load(p) for p in otlp.session_files("repository-session") if otlp.signal_of(p) == "metrics"]
    )
    want = {REPOSITORY: math.fsum(session["cost"]), "": expected["cost"] - math.fsum(session["cost"])}
    assert want[REPOSITORY] > 0

    def by_repository(result):
        got = {s["metric"].get("vcs_repository_url_full", ""): float(s["value"][1]) for s in result}
        return set(got) == set(want) and all(abs(got[k] - v) <= 1e-9 for k, v in want.items())

    _settled(base, substitute(panel_expr("Cost by repository")), by_repository)
    only = substitute(panel_expr("Total cost"), {"$repository": REPOSITORY})
    _settled(base, only, lambda r: _one(r) is not None and abs(_one(r) - want[REPOSITORY]) <= 1e-9)
    _settled(base, "vcs_repository_url_full:claude_code_cost_usd:window1h", by_repository)
