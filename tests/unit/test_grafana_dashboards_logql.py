"""The LogQL of the shipped Grafana dashboards, checked without a Loki (none can be obtained here).

Each query is parsed structurally (balanced brackets and quotes, known functions and pipeline
stages, valid ranges), and every label or field it names is checked against what Loki holds
for Claude Code's events: the attributes of the captured fixtures' log records and resources
(shared/fixtures and this repository's tests/fixtures), with dots turned into underscores as
Loki's OTLP ingestion does, split into stream labels (the loki role's otlp_config choices plus
Loki's own defaults) and structured metadata (the rest). Events and attributes no capture holds
(a permission mode change, a hook run, an MCP server, user.email, ...) are accepted only as
Claude Code's monitoring documentation lists them (tests/helpers/documented_events.py), and
only a documented number may be unwrapped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from doubles.loki_double import DEFAULT_INDEX_LABELS
from helpers import documented_events, grafana_selectors, otlp

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "roles" / "grafana" / "files" / "dashboards"
LOKI_UID = "claude-code-loki"
# Resource attributes Loki makes stream labels by default (Loki 3 otlp_config defaults).
LOKI_DEFAULT_INDEX = set(DEFAULT_INDEX_LABELS)
FUNCTIONS = {
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "topk",
    "bottomk",
    "sort",
    "sort_desc",
    "rate",
    "count_over_time",
    "bytes_over_time",
    "sum_over_time",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "quantile_over_time",
    "last_over_time",
    "first_over_time",
}
GROUPING = {"by", "without"}
RANGES = {"$__range", "$__interval", "$__auto", "$__rate_interval"}


def loki_name(attribute: str) -> str:
    return attribute.replace(".", "_")


def _all_records():
    dirs = [otlp.fixture_dir()] + ([otlp.LOCAL_FIXTURES] if otlp.LOCAL_FIXTURES.is_dir() else [])
    for path in sorted(p for d in dirs for p in d.glob("*/*.json")):
        if otlp.signal_of(path) == "logs":
            yield from otlp.log_records(otlp.load(path))


class Schema:
    """What Loki holds for the fixtures: stream labels, structured metadata, events and their fields;
    plus what the documentation lists that no fixture holds (`documented`: event -> field -> kind)."""

    def __init__(self):
        configured = yaml.safe_load((ROOT / "roles" / "loki" / "defaults" / "main.yml").read_text())
        resource_keys, self.events = set(), {}
        for resource, _record, attrs in _all_records():
            resource_keys |= set(resource)
            event = self.events.setdefault(attrs["event.name"], {})
            for key, value in attrs.items():
                event.setdefault(loki_name(key), []).append(value)
        index = (LOKI_DEFAULT_INDEX | set(configured["loki_otlp_index_labels"])) & resource_keys
        self.stream_labels = {loki_name(a) for a in index}
        metadata = {loki_name(a) for a in resource_keys - index}
        for fields in self.events.values():
            metadata |= set(fields)
        self.documented = {
            event: {loki_name(k): kind for k, kind in attributes.items()}
            for event, attributes in documented_events.EVENTS.items()
        }
        for fields in self.documented.values():
            metadata |= set(fields)
        metadata |= {loki_name(a) for a in documented_events.STANDARD_ATTRIBUTES} - self.stream_labels
        self.fields = metadata | self.stream_labels | {"__error__"}

    def known_event(self, event: str) -> bool:
        return event in self.events or event in self.documented

    def numeric(self, event: str, field: str) -> bool:
        values = self.events.get(event, {}).get(field)
        if not values:
            return self.documented.get(event, {}).get(field) == "number"
        for value in values:
            try:
                float(value)
            except (TypeError, ValueError):
                return False
        return not any(isinstance(v, bool) for v in values)


SCHEMA = Schema()
# Every template variable of the dashboards as Grafana puts it when All is selected.
VARIABLES = {
    name: value
    for path in sorted(DASHBOARDS.glob("*.json"))
    for name, value in grafana_selectors.all_values(json.loads(path.read_text())).items()
}


def mask_strings(expr: str) -> tuple[str, list[str]]:
    """Replace each quoted string by "#n" so brackets inside strings do not count."""
    out, strings, i = [], [], 0
    while i < len(expr):
        ch = expr[i]
        if ch in '"`':
            j, buf = i + 1, []
            while j < len(expr) and expr[j] != ch:
                if ch == '"' and expr[j] == "\\":
                    buf.append(expr[j : j + 2])
                    j += 2
                    continue
                buf.append(expr[j])
                j += 1
            if j >= len(expr):
                raise ValueError(f"unterminated string at {i}")
            out.append(f'"#{len(strings)}"')
            strings.append("".join(buf))
            i = j + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out), strings


def check(expr: str) -> list[str]:
    """Problems found in one LogQL expression (empty when it is sound)."""
    try:
        masked, strings = mask_strings(expr)
    except ValueError as exc:
        return [str(exc)]
    problems = []
    pairs, stack = {")": "(", "]": "[", "}": "{"}, []
    for pos, ch in enumerate(masked):
        if ch in "([{":
            stack.append(ch)
        elif ch in ")]}":
            if not stack or stack.pop() != pairs[ch]:
                return [f"unbalanced {ch!r} at {pos}"]
    if stack:
        return [f"unclosed {''.join(stack)!r}"]

    def string(token: str) -> str:
        return strings[int(token.strip('"#'))]

    selectors = re.findall(r"\{([^{}]*)\}", masked)
    if not selectors:
        problems.append("no stream selector")
    for selector in selectors:
        matchers = re.findall(r"\s*(\w+)\s*(=~|!~|!=|=)\s*(\"#\d+\")\s*(?:,|$)", selector)
        if len(matchers) != len([m for m in selector.split(",") if m.strip()]):
            problems.append(f"malformed stream selector {{{selector}}}")
        # Loki refuses a selector whose matchers all accept the empty value (after Grafana has put
        # in its variables: All of $service is both apps, All of the others is .*).
        if all(grafana_selectors.matches_empty(op, string(v), VARIABLES) for _n, op, v in matchers):
            problems.append(f"stream selector {{{selector}}} has no matcher that rejects the empty value")
        for name, _op, _value in matchers:
            if name not in SCHEMA.stream_labels:
                problems.append(f"{name} is not a stream label (stream labels: {sorted(SCHEMA.stream_labels)})")

    events = set()
    for raw in re.findall(r"\|(?![=~])\s*([^|\[]*)", masked):
        stage = raw.strip().rstrip(")").strip()
        if m := re.fullmatch(r"(\w+)\s*(=~|!~|!=|=)\s*(\"#\d+\")", stage):
            name, op, value = m.groups()
            if name not in SCHEMA.fields:
                problems.append(f"unknown field {name}")
            if name == "event_name" and op == "=":
                events.add(string(value))
        elif re.fullmatch(r"unwrap\s+\w+", stage):
            pass  # checked below, once the events of the query are known
        elif m := re.fullmatch(r"line_format\s+(\"#\d+\")", stage):
            for field in re.findall(r"\{\{\s*\.(\w+)\s*\}\}", string(m.group(1))):
                if field not in SCHEMA.fields:
                    problems.append(f"line_format uses unknown field {field}")
        else:
            problems.append(f"unknown pipeline stage {stage!r}")
    for event in events:
        if not SCHEMA.known_event(event):
            known = sorted(set(SCHEMA.events) | set(SCHEMA.documented))
            problems.append(f"no event {event} in the fixtures or the documentation (events: {known})")
    for m in re.finditer(r"\|\s*unwrap\s+(\w+)", masked):
        unwrapped = m.group(1)
        for event in events or {None}:
            if not SCHEMA.numeric(event, unwrapped):
                problems.append(f"{unwrapped} of {event} events is not a number (fixture records, documentation)")
    for rng in re.findall(r"\[([^\]]*)\]", masked):
        if rng.strip() not in RANGES and not re.fullmatch(r"\d+[smhdw]", rng.strip()):
            problems.append(f"bad range [{rng}]")
    for word in re.findall(r"\b(\w+)\s*\(", masked):
        if word not in FUNCTIONS | GROUPING:
            problems.append(f"unknown function {word}")
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", masked):
        for name in (n.strip() for n in group.split(",")):
            if name not in SCHEMA.fields:
                problems.append(f"grouping by unknown field {name}")
    # A range aggregation needs a range; a log query must not have one.
    if re.search(r"_over_time\(|rate\(", masked) and not re.search(r"\[[^\]]+\]", masked):
        problems.append("range aggregation without a range")
    return problems


def loki_queries() -> list[tuple[str, str]]:
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dash = json.loads(path.read_text())
        for panel in dash["panels"]:
            for target in panel.get("targets", []):
                if (target.get("datasource") or panel.get("datasource") or {}).get("uid") == LOKI_UID:
                    out.append((f"{dash['uid']}: {panel['title']} ({target['refId']})", target["expr"]))
    return out


def test_schema_is_what_the_fixtures_and_the_loki_role_give():
    assert SCHEMA.stream_labels == {"service_name", "machine_name"}
    assert {"event_name", "user_id", "session_id", "model", "duration_ms", "success", "status_code"} <= SCHEMA.fields
    # tool_result's numbers arrive as strings; they still unwrap.
    assert all(isinstance(v, str) for v in SCHEMA.events["tool_result"]["duration_ms"])
    assert SCHEMA.numeric("tool_result", "duration_ms")
    assert not SCHEMA.numeric("user_prompt", "prompt")
    # The repository capture (tests/fixtures) is read too: its events carry the vcs attributes.
    assert {"vcs_repository_url_full", "vcs_repository_name"} <= set(SCHEMA.events["api_request"])
    # Documented events no capture holds are known as documented only, with the documented kinds.
    assert "permission_mode_changed" not in SCHEMA.events
    assert SCHEMA.known_event("permission_mode_changed") and not SCHEMA.known_event("tool_decided")
    assert SCHEMA.numeric("hook_execution_complete", "num_blocking")
    assert not SCHEMA.numeric("mcp_server_connection", "status")
    assert {"from_mode", "to_mode", "user_email", "skill_name", "error_type"} <= SCHEMA.fields


def test_dashboards_have_loki_queries():
    queries = loki_queries()
    assert len(queries) >= 15
    used_events = set()
    for _where, expr in queries:
        used_events |= set(re.findall(r'event_name="(\w+)"', expr))
    assert {"api_request", "api_error", "api_retries_exhausted", "tool_result", "user_prompt"} <= used_events


@pytest.mark.parametrize(("where", "expr"), loki_queries(), ids=[w for w, _e in loki_queries()])
def test_logql_query_is_sound(where, expr):
    assert check(expr) == [], where


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ('sum(count_over_time({service_name="claude-code"} | event_name="api_error" [1m])', "unclosed"),
        ('{service_name="claude-code"} | event_name="api_error" | colour="red"', "unknown field colour"),
        ('{user_id="x"} | event_name="api_error"', "user_id is not a stream label"),
        ('{machine_name=~".*"} | event_name="api_error"', "no matcher that rejects the empty value"),
        ('{machine_name=~"$machine"} | event_name="api_error"', "no matcher that rejects the empty value"),
        ('{service_name="claude-code"} | event_name="api_eror"', "no event api_eror"),
        (
            'sum_over_time({service_name="claude-code"} | event_name="user_prompt" | unwrap prompt [1m])',
            "prompt of user_prompt events is not a number",
        ),
        ('{service_name="claude-code"} | json | event_name="api_error"', "unknown pipeline stage 'json'"),
        ('{service_name="claude-code"} | line_format "{{.nope}}"', "line_format uses unknown field nope"),
        ('count_over_time({service_name="claude-code"} [$__whenever])', "bad range"),
        ('sum by (colour) (count_over_time({service_name="claude-code"} [1m]))', "grouping by unknown field colour"),
        ('avg_over_tme({service_name="claude-code"} [1m])', "unknown function avg_over_tme"),
        ('{service_name="claude-code} | event_name="api_error"', "unterminated string"),
        ('{service_name="claude-code"} | event_name="permission_mode_changed" | mode="plan"', "unknown field mode"),
        (
            'sum_over_time({service_name="claude-code"} | event_name="mcp_server_connection" | unwrap status [1m])',
            "status of mcp_server_connection events is not a number",
        ),
    ],
)
def test_checker_finds_broken_queries(expr, problem):
    found = check(expr)
    assert any(problem in p for p in found), found
