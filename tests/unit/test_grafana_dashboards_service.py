"""The App variable ($service) of the Grafana dashboards: the Claude Code CLI sends its events and
metrics with the resource attribute service.name=claude-code, the Desktop app with
claude-code-desktop. Every query of every dashboard (events, audit, overview) must see both apps
when App is All, and only the chosen one otherwise.

The Desktop app's data is derived from a real capture of the CLI with only service.name changed
(tests/helpers/desktop.py). The selectors are evaluated as Loki and Prometheus would, after
Grafana has put its variables in (tests/helpers/grafana_selectors.py); no Loki or Grafana can be
obtained here, so this runs without either. tests/integration/test_grafana_dashboards_promql.py
runs the PromQL on the real Prometheus.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from doubles.loki_double import DEFAULT_INDEX_LABELS
from helpers import desktop, otlp
from helpers import grafana_selectors as gs

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.claude_code.observability.plugins.filter import otel_collector_config as occ  # noqa: E402

DASHBOARDS = ROOT / "roles" / "grafana" / "files" / "dashboards"
EVENTS = "claude-code-events.json"
AUDIT = "claude-code-audit.json"
OVERVIEW = "claude-code-overview.json"
LOKI_DASHBOARDS = (EVENTS, AUDIT)
# At least this many queries each (a dashboard that lost its panels fails).
MIN_QUERIES = {EVENTS: 17, AUDIT: 20, OVERVIEW: 14}
APPS = [desktop.CLI_SERVICE_NAME, desktop.SERVICE_NAME]
CLI_SESSIONS = ("tool-session", "error-session")


def dashboard(name: str) -> dict:
    return json.loads((DASHBOARDS / name).read_text())


def targets(name: str) -> list[tuple[str, str]]:
    out = []
    for panel in dashboard(name)["panels"]:
        for target in panel.get("targets", []):
            out.append((f"{panel['title']} ({target['refId']})", target["expr"]))
    return out


def selector_cases(name: str) -> list[tuple[str, str]]:
    """(panel (refId) #n, selector) of every label selector of every query."""
    return [
        (f"{where} #{n}", sel) for where, expr in targets(name) for n, sel in enumerate(gs.selectors(expr), start=1)
    ]


@pytest.fixture(scope="module")
def desktop_session(tmp_path_factory) -> Path:
    """The derived Desktop session, written at test time (nothing copied into the repository)."""
    return desktop.write(tmp_path_factory.mktemp("derived"))


def _payloads(directory: Path | None, sessions=()) -> list[dict]:
    paths = sorted(directory.glob("*.json")) if directory else []
    for session in sessions:
        paths += otlp.session_files(session)
    return [otlp.load(p) for p in paths]


# -- what Loki and Prometheus hold for each app -----------------------------------------------


def loki_streams(payloads: list[dict]) -> list[dict]:
    """Stream labels of every log record: the resource attributes Loki indexes (its defaults and
    the loki role's otlp_config), dots turned into underscores."""
    configured = yaml.safe_load((ROOT / "roles" / "loki" / "defaults" / "main.yml").read_text())
    index = set(DEFAULT_INDEX_LABELS) | set(configured["loki_otlp_index_labels"])
    streams = []
    for payload in payloads:
        for resource, _record, _attrs in otlp.log_records(payload):
            streams.append({k.replace(".", "_"): str(v) for k, v in resource.items() if k in index})
    assert streams
    return streams


def prometheus_series(payloads: list[dict]) -> list[dict]:
    """Labels of every metric data point as the collector's default config stores them in
    Prometheus: resource attributes copied onto the point (the point's own win), type renamed to
    kind, dots turned into underscores."""
    series = []
    for payload in payloads:
        for rm in payload.get("resourceMetrics", []):
            resource = otlp.attrs(rm.get("resource", {}).get("attributes", []))
            for sm in rm["scopeMetrics"]:
                for metric in sm["metrics"]:
                    for dp in metric["sum"]["dataPoints"]:
                        labels = {**resource, **otlp.attrs(dp.get("attributes", []))}
                        if "type" in labels:
                            labels["kind"] = labels.pop("type")
                        series.append({k.replace(".", "_"): str(v) for k, v in labels.items()})
    assert series
    return series


def test_the_collector_copies_service_name_onto_every_sample_by_default():
    # The overview's $service matcher needs the label: resource attributes become labels unless
    # otel_collector_resource_to_labels is turned off.
    assert occ.DEFAULTS["resource_to_labels"] is True
    config = occ.otel_collector_config({"metrics_endpoint": "http://prometheus:9090/api/v1/otlp/v1/metrics"})
    statements = config["processors"]["transform/labels"]["metric_statements"][0]["statements"]
    assert set(occ.RESOURCE_TO_LABELS) <= set(statements)
    defaults = yaml.safe_load((ROOT / "roles" / "otel_collector" / "defaults" / "main.yml").read_text())
    assert defaults["otel_collector_resource_to_labels"] is True


# -- the derived Desktop session ----------------------------------------------------------------


def _differences(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        return [d for k in sorted(keys) for d in _differences(a.get(k), b.get(k), f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}/{i}")]
    return [] if a == b else [(path, a, b)]


def test_desktop_session_is_the_capture_with_only_service_name_changed(desktop_session):
    written = sorted(desktop_session.glob("*.json"))
    captured = otlp.session_files(desktop.SOURCE_SESSION)
    assert desktop_session.name == "desktop-session"
    assert [p.name for p in written] == [p.name for p in captured] and len(written) == 3
    for derived_path, captured_path in zip(written, captured, strict=True):
        derived, original = otlp.load(derived_path), otlp.load(captured_path)
        diffs = _differences(original, derived)
        assert diffs, derived_path.name
        for path, before, after in diffs:
            # .../resource/attributes/<n>/value/stringValue of the service.name attribute, nothing else
            assert path.endswith("/value/stringValue") and "/resource/attributes/" in path, path
            assert (before, after) == (desktop.CLI_SERVICE_NAME, desktop.SERVICE_NAME), path
    streams = loki_streams(_payloads(desktop_session))
    assert {s["service_name"] for s in streams} == {desktop.SERVICE_NAME}


# -- the variable ---------------------------------------------------------------------------------


def test_every_shipped_dashboard_is_checked_here():
    assert sorted(p.name for p in DASHBOARDS.glob("*.json")) == sorted(MIN_QUERIES)


@pytest.mark.parametrize("name", [EVENTS, AUDIT, OVERVIEW])
def test_app_variable(name):
    variables = gs.template_variables(dashboard(name))
    var = variables.get("service")
    assert var is not None, f"{name} has no variable service"
    assert var["label"] == "App"
    # A fixed list: a query over Loki's or Prometheus' service_name would also offer any other
    # service sending to a shared backend.
    assert var["type"] == "custom"
    assert var["query"] == ",".join(APPS)
    assert gs.options(var) == APPS
    assert var["multi"] is True and var["includeAll"] is True
    # All is both values, not .*: Loki refuses a stream selector whose matchers all accept "".
    assert not var.get("allValue")
    assert var["current"]["value"] == [gs.ALL]
    assert gs.interpolated(var) == "(claude-code|claude-code-desktop)"
    assert gs.interpolated(var, [desktop.SERVICE_NAME]) == "claude-code-desktop"
    # The first variable: it picks the data every other one lists.
    assert next(iter(variables)) == "service"


@pytest.mark.parametrize("name", [EVENTS, AUDIT, OVERVIEW])
def test_every_query_filters_on_the_app(name):
    found = targets(name)
    assert len(found) >= MIN_QUERIES[name]
    for where, expr in found:
        sels = gs.selectors(expr)
        assert sels, where
        for sel in sels:
            service = [m for m in gs.matchers(sel) if m[0] == "service_name"]
            assert service == [("service_name", "=~", "$service")], (where, sel)
        assert '"claude-code"' not in expr, where


# -- each selector against each app's data ------------------------------------------------------


def _scenarios(name: str) -> dict[str, tuple[dict, set[str]]]:
    """Variable values Grafana puts in, and which apps each choice of App must show."""
    dash = dashboard(name)
    everything = gs.all_values(dash)
    service = gs.template_variables(dash)["service"]
    return {
        "All": (everything, set(APPS)),
        "both chosen": ({**everything, "service": gs.interpolated(service, APPS)}, set(APPS)),
        **{app: ({**everything, "service": gs.interpolated(service, [app])}, {app}) for app in APPS},
    }


def _check_selector(name: str, selector: str, records_of: dict[str, list[dict]], loki: bool):
    # The same selector without its service_name matchers: what it picks when the app does not matter.
    others = ", ".join(f'{n}{op}"{raw}"' for n, op, raw in gs.matchers(selector) if n != "service_name")
    for scenario, (values, shown) in _scenarios(name).items():
        for app, records in records_of.items():
            chosen = [r for r in records if gs.selects(selector, r, values)]
            if app in shown:
                assert chosen, (scenario, app)
                assert chosen == [r for r in records if gs.selects(others, r, values)], (scenario, app)
            else:
                assert not chosen, (scenario, app)
        if loki:
            # Loki answers only if one matcher rejects the empty value.
            assert not all(gs.matches_empty(op, raw, values) for _n, op, raw in gs.matchers(selector)), scenario


LOKI_CASES = [(name, where, sel) for name in LOKI_DASHBOARDS for where, sel in selector_cases(name)]


@pytest.mark.parametrize(
    ("name", "where", "selector"), LOKI_CASES, ids=[f"{n.removesuffix('.json')}: {w}" for n, w, _s in LOKI_CASES]
)
def test_stream_selectors_show_the_chosen_apps(name, where, selector, desktop_session):
    del where
    records_of = {
        desktop.CLI_SERVICE_NAME: loki_streams(_payloads(None, CLI_SESSIONS)),
        desktop.SERVICE_NAME: loki_streams(_payloads(desktop_session)),
    }
    assert {s["service_name"] for s in records_of[desktop.CLI_SERVICE_NAME]} == {desktop.CLI_SERVICE_NAME}
    _check_selector(name, selector, records_of, loki=True)


@pytest.mark.parametrize(("where", "selector"), selector_cases(OVERVIEW), ids=[w for w, _s in selector_cases(OVERVIEW)])
def test_series_selectors_show_the_chosen_apps(where, selector, desktop_session):
    del where
    records_of = {
        desktop.CLI_SERVICE_NAME: prometheus_series(_payloads(None, CLI_SESSIONS)),
        desktop.SERVICE_NAME: prometheus_series(_payloads(desktop_session)),
    }
    _check_selector(OVERVIEW, selector, records_of, loki=False)


def test_selector_evaluation_finds_a_missing_app_filter():
    # The old selector, and one whose All would hide the Desktop app, are caught.
    records_of = {
        desktop.CLI_SERVICE_NAME: [{"service_name": "claude-code", "machine_name": "ci-box"}],
        desktop.SERVICE_NAME: [{"service_name": "claude-code-desktop", "machine_name": "ci-box"}],
    }
    for selector in ('service_name="claude-code", machine_name=~"$machine"', 'machine_name=~"$machine"'):
        with pytest.raises(AssertionError):
            _check_selector(EVENTS, selector, records_of, loki=True)
