"""The cost report's filters (plugins/filter/cost_report.py): settings, queries, rows, totals, and the
CSV, Markdown and terminal texts. tests/integration/test_cost_report.py runs playbooks/report.yml
against the real Prometheus."""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import cost_report as cr  # noqa: E402
from ansible_collections.claude_code.observability.plugins.plugin_utils import cost_report as texts  # noqa: E402

pytestmark = pytest.mark.unit

NOW = 1764633600.0  # 2025-12-02T00:00:00Z
ODD = 'lab, "north"|x\nline2'
COST, TOKENS, SESSIONS = texts.COST, texts.TOKENS, texts.SESSIONS
ALL_LABELS = {
    COST: ["__name__", "model", "project", "user_id"],
    TOKENS: ["__name__", "kind", "model", "project", "user_id"],
    SESSIONS: ["__name__", "project", "user_id"],
}


def sample(measure, value, **labels):
    return {"metric": {cr.TAG: measure, **labels}, "value": [NOW, str(value)]}


def settings(**over):
    base = {"window": "7d", "at": "", "breakdowns": ["user_id", "project", "model"], "dir": "", "now": NOW}
    base.update(over)
    return cr.cost_report_settings(base)


def meta(**over):
    return {**settings(**over), "prometheus_url": "http://prom:9090"}


BY_USER = [
    sample("cost", "0.1", user_id="ana"),
    sample("cost", "0.2", user_id="bo"),
    sample("cost", "1.25", user_id=ODD),
    sample("sessions", "2", user_id="ana"),
    sample("sessions", "1", user_id="bo"),
    sample("sessions", "1", user_id=ODD),
    sample("tokens", "100", user_id="ana", kind="input"),
    sample("tokens", "2000", user_id="ana", kind="output"),
    sample("tokens", "5", user_id="bo", kind="cacheRead"),
    sample("tokens", "7", user_id=ODD, kind="cacheCreation"),
    sample("tokens", "1", user_id="bo", kind="thinking"),
]


def table(result=None, label="user_id", names=None):
    return cr.cost_report_table(BY_USER if result is None else result, label, ALL_LABELS if names is None else names)


# --- settings -------------------------------------------------------------------


def test_settings_default_to_a_week_up_to_now_and_a_dated_directory():
    s = settings()
    assert s["problems"] == []
    assert (s["window"], s["window_seconds"], s["at"], s["at_param"]) == ("7d", 7 * 86400, NOW, "1764633600.000")
    assert s["at_text"] == "2025-12-02 00:00:00 UTC" and s["start_text"] == "2025-11-25 00:00:00 UTC"
    assert s["dir"] == os.path.join(os.getcwd(), "claude-code-report-2025-12-02-7d")
    assert s["breakdowns"] == ["user_id", "project", "model"]


def test_an_empty_report_at_is_the_controllers_clock():
    before = time.time()
    at = cr.cost_report_settings({"window": "1h", "at": "", "breakdowns": ["user_id"]})["at"]
    assert before - 0.001 <= at <= time.time() + 0.001


@pytest.mark.parametrize(
    ("window", "seconds"),
    [("1h", 3600), ("24h", 86400), ("30d", 30 * 86400), ("1h30m", 5400), ("2w", 14 * 86400), ("1y", 365 * 86400)],
)
def test_any_prometheus_duration_is_a_window(window, seconds):
    assert settings(window=window)["window_seconds"] == seconds


@pytest.mark.parametrize("window", ["7x", "", "0s", "h", "7 d", "1m1h", "3600", 3600, None, "7d;drop"])
def test_a_bad_window_names_report_window_and_the_fix(window):
    problems = settings(window=window)["problems"]
    assert len(problems) == 1 and problems[0].startswith("report_window:")
    assert "e.g. 1h, 24h, 7d" in problems[0]
    if window in ("3600", 3600):
        assert "3600s" in problems[0]


@pytest.mark.parametrize(
    ("at", "seconds"),
    [
        ("1764633600", NOW),
        (1764633600.1234, 1764633600.123),
        ("2025-12-02T00:00:00Z", NOW),
        ("2025-12-02T01:00:00+01:00", NOW),
    ],
)
def test_report_at_takes_unix_seconds_or_rfc3339_at_a_whole_millisecond(at, seconds):
    s = settings(at=at)
    assert s["problems"] == [] and s["at"] == seconds


@pytest.mark.parametrize("at", ["yesterday", "2025-12-02T00:00:00", True, "-5", "1e20", "nan", "inf"])
def test_a_bad_report_at_is_named(at):
    problems = settings(at=at)["problems"]
    assert len(problems) == 1 and problems[0].startswith("report_at:")


def test_breakdowns_are_label_names_once_each():
    assert settings(breakdowns="user_id, model")["breakdowns"] == ["user_id", "model"]
    problems = settings(breakdowns=["user_id", "user-id", "kind", "__name__", "user_id"])["problems"]
    assert [p.split(":")[0] for p in problems] == ["report_breakdowns"] * 3 + [
        "report_breakdowns names user_id more than once"
    ]
    assert settings(breakdowns=[])["problems"] == [
        "report_breakdowns is empty; give at least one label, e.g. [user_id]"
    ]
    assert settings(breakdowns={"a": 1})["problems"][0].startswith("report_breakdowns:")
    assert settings(breakdowns=["type"], kind_label="type")["problems"][0].startswith("report_breakdowns:")


def test_dir_and_url():
    s = settings(dir="~/reports", prometheus_url="https://prom.example:9090/")
    assert s["dir"] == os.path.expanduser("~/reports") and s["prometheus_url"] == "https://prom.example:9090"
    assert settings(dir="out")["dir"] == os.path.join(os.getcwd(), "out")
    assert settings(prometheus_url="prom:9090")["problems"][0].startswith("report_prometheus_url:")


def test_settings_need_a_dict():
    with pytest.raises(AnsibleFilterError):
        cr.cost_report_settings("7d")


# --- where Prometheus is ------------------------------------------------------------


def _slurped(host, endpoints=None, msg=""):
    if endpoints is None:
        return {"item": host, "failed": True, "msg": msg}
    return {"item": host, "content": base64.b64encode(json.dumps(endpoints).encode()).decode()}


def test_the_first_server_host_with_a_prometheus_is_asked():
    found = cr.cost_report_prometheus(
        {
            "results": [
                _slurped("ingest", {"project": "p", "otel_collector": {}}),
                _slurped("store", {"prometheus": {"url": "http://127.0.0.1:9090/"}}),
            ]
        },
        "/opt/claude-observability/endpoints.json",
    )
    assert found == {"host": "store", "url": "http://127.0.0.1:9090", "problem": ""}


def test_no_prometheus_says_what_was_found_and_the_variable_to_set():
    found = cr.cost_report_prometheus([_slurped("a", msg="file not found"), _slurped("b", {"loki": {}})], "x.json")
    assert (
        found["url"] == "" and "a: file not found" in found["problem"] and "b: runs no Prometheus" in found["problem"]
    )
    assert "report_prometheus_url" in found["problem"]
    assert "no observability_servers host" in cr.cost_report_prometheus([], "x.json")["problem"]


# --- queries ---------------------------------------------------------------------


def test_one_query_per_breakdown_in_the_dashboards_form():
    query = cr.cost_report_query("user_id", "24h")
    parts = query.split(" or ")
    # verify.yml's session (its own app) is left out of every measure.
    assert parts == [
        'label_replace(sum by (user_id) (sum_over_time(claude_code_cost_usage_USD{service_name!="claude-code-verify"}'
        '[24h])), "claude_code_report", "cost", "", "")',
        'label_replace(sum by (user_id) (sum_over_time(claude_code_session_count{service_name!="claude-code-verify"}'
        '[24h])), "claude_code_report", "sessions", "", "")',
        "label_replace(sum by (user_id, kind) (sum_over_time(claude_code_token_usage_tokens"
        '{service_name!="claude-code-verify"}[24h])), "claude_code_report", "tokens", "", "")',
    ]
    assert "sum by (model, type)" in cr.cost_report_query("model", "1h", "type")
    with pytest.raises(AnsibleFilterError):
        cr.cost_report_query("user id", "1h")
    with pytest.raises(AnsibleFilterError):
        cr.cost_report_query("user_id", "1x")


def test_repository_is_added_only_when_prometheus_has_the_label():
    base = ["user_id", "project", "model"]
    assert cr.cost_report_breakdowns(base, ALL_LABELS[COST]) == base
    assert cr.cost_report_breakdowns(base, [*ALL_LABELS[COST], cr.REPOSITORY]) == [*base, cr.REPOSITORY]
    assert cr.cost_report_breakdowns(base, [*ALL_LABELS[COST], cr.REPOSITORY], False) == base
    assert cr.cost_report_breakdowns([cr.REPOSITORY], [cr.REPOSITORY]) == [cr.REPOSITORY]


# --- rows and totals --------------------------------------------------------------


def test_rows_sum_each_measure_and_kind_highest_cost_first():
    t = table()
    assert [r["value"] for r in t["rows"]] == [ODD, "bo", "ana"]
    ana = t["rows"][2]
    assert (ana["cost"], ana["sessions"], ana["tokens"]) == (0.1, 2.0, 2100.0)
    assert ana["kinds"] == {"input": 100.0, "output": 2000.0, "cacheRead": 0.0, "cacheCreation": 0.0, "thinking": 0.0}
    # The four kinds Claude Code sends always, in its order; others after them.
    assert t["kinds"] == ["input", "output", "cacheRead", "cacheCreation", "thinking"]
    assert t["measures"] == ["cost", "sessions", "tokens"] and t["notes"] == []


def test_totals_are_exact_sums_of_the_rows():
    t = table()
    assert t["total"]["cost"] == math.fsum([0.1, 0.2, 1.25]) == 1.55
    assert (t["total"]["sessions"], t["total"]["tokens"]) == (4.0, 2113.0)
    assert t["total"]["kinds"]["cacheRead"] == 5.0 and t["total"]["kinds"]["thinking"] == 1.0


def test_ties_in_cost_are_broken_by_tokens_then_name():
    result = [
        sample("cost", "1", user_id="b"),
        sample("cost", "1", user_id="a"),
        sample("cost", "1", user_id="c"),
        sample("tokens", "9", user_id="c", kind="input"),
    ]
    assert [r["value"] for r in table(result)["rows"]] == ["c", "a", "b"]


def test_series_without_the_label_are_one_row_with_an_empty_value():
    result = [sample("cost", "0.5", user_id="ana"), sample("cost", "0.25"), sample("sessions", "3")]
    rows = table(result)["rows"]
    assert [(r["value"], r["cost"], r["sessions"]) for r in rows] == [("ana", 0.5, 0.0), ("", 0.25, 3.0)]


def test_a_measure_whose_metric_lacks_the_label_is_left_out_with_a_note():
    result = [
        sample("cost", "0.5", model="opus"),
        sample("cost", "0.25", model="haiku"),
        sample("tokens", "10", model="opus", kind="input"),
        sample("sessions", "4"),  # sum by (model) of a metric without model
    ]
    t = table(result, "model")
    assert t["measures"] == ["cost", "tokens"]
    assert [r["value"] for r in t["rows"]] == ["opus", "haiku"]
    assert t["notes"] == ["claude_code_session_count has no model label: sessions are not broken down by model"]
    assert "sessions" not in texts.cost_report_csv(t).splitlines()[0]
    # Without the label names (or while the metric has none yet) every measure stays.
    assert table(result, "model", names={})["measures"] == ["cost", "sessions", "tokens"]


def test_empty_result_gives_a_table_of_zero_totals():
    t = table([])
    assert t["rows"] == [] and t["total"]["cost"] == 0.0 and t["total"]["tokens"] == 0.0
    text = texts.cost_report_csv(t)
    assert text.splitlines() == [
        "user_id,cost_usd,sessions,tokens,tokens_input,tokens_output,tokens_cacheRead,tokens_cacheCreation",
        "Total,0.0,0,0,0,0,0,0",
    ]
    md = texts.cost_report_markdown([t], meta())
    assert "| **Total** | **0.00** | **0** | **0** | **0** | **0** | **0** | **0** |" in md
    assert "Total: 0.00 USD, 0 tokens, 0 sessions" in md
    assert cr.cost_report_terminal([t], meta())[-1].split() == ["Total", "0.00"] + ["0"] * 6
    assert cr.cost_report_tables([{"status": "success", "data": {"resultType": "vector", "result": []}}], ["x"])


def test_answers_are_checked():
    with pytest.raises(AnsibleFilterError, match="result list"):
        cr.cost_report_table({"data": {"result": "x"}}, "user_id")
    with pytest.raises(AnsibleFilterError, match="claude_code_report"):
        cr.cost_report_table([{"metric": {"user_id": "a"}, "value": [1, "1"]}], "user_id")
    with pytest.raises(AnsibleFilterError, match="instant vector sample"):
        cr.cost_report_table([{"metric": {cr.TAG: "cost"}, "value": [1]}], "user_id")
    with pytest.raises(AnsibleFilterError, match="2 answers for 1 breakdowns"):
        cr.cost_report_tables([[], []], ["user_id"])


# --- texts ------------------------------------------------------------------------


def test_csv_keeps_exact_values_and_quotes_odd_label_values():
    result = [*BY_USER, sample("cost", "0.30000000000000004", user_id="cy")]
    text = texts.cost_report_csv(table(result))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == [
        "user_id",
        "cost_usd",
        "sessions",
        "tokens",
        "tokens_input",
        "tokens_output",
        "tokens_cacheRead",
        "tokens_cacheCreation",
        "tokens_thinking",
    ]
    assert rows[1][0] == ODD  # commas, quotes and a newline survive the round trip
    assert '"lab, ""north""|x\nline2"' in text
    assert rows[2] == ["cy", "0.30000000000000004", "0", "0", "0", "0", "0", "0", "0"]
    assert rows[-1] == [
        "Total",
        repr(math.fsum([0.1, 0.2, 1.25, 0.30000000000000004])),
        "4",
        "2113",
        "100",
        "2000",
        "5",
        "7",
        "1",
    ]
    assert float(rows[2][1]) == 0.30000000000000004  # repr: the float read back is the one Prometheus sent


@pytest.mark.parametrize("value", ["a,b", 'say "hi"', "two\nlines", "cr\r\nlf", " lead", "=1+2", ""])
def test_csv_round_trips_any_label_value(value):
    text = texts.cost_report_csv(table([sample("cost", "1", user_id=value)]))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1][0] == value and len(rows) == 3


def test_markdown_escapes_pipes_and_marks_no_label_and_total():
    result = [*BY_USER, sample("cost", "0.004", user_id="a_b*c`d[e]<f>#"), sample("cost", "0.016")]
    md = texts.cost_report_markdown([table(result)], meta())
    lines = md.splitlines()
    assert "| user_id | cost USD | sessions | tokens | input | output | cacheRead | cacheCreation | thinking |" in lines
    assert '| lab, "north"\\|x<br>line2 | 1.25 | 1 | 7 | 0 | 0 | 0 | 7 | 0 |' in lines
    assert "| a\\_b\\*c\\`d\\[e\\]\\<f\\>\\# | 0.00 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |" in lines
    assert "| *(none)* | 0.02 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |" in lines
    assert "| **Total** | **1.57** | **4** | **2,113** | **100** | **2,000** | **5** | **7** | **1** |" in lines
    # Every table row has the same number of unescaped pipes as the header.
    rows = [line for line in lines if line.startswith("|")]
    assert len({line.replace("\\|", "").count("|") for line in rows}) == 1
    assert "## By `user_id`" in lines and "- Window: last 7d up to 2025-12-02 00:00:00 UTC" in md
    assert "sum by (<label>, kind) (sum_over_time(claude_code_token_usage_tokens[7d]))" in lines


def test_money_is_rounded_to_cents_for_people_and_counts_are_whole():
    assert texts.money_text(1234.5678) == "1,234.57" and texts.money_text(0.004) == "0.00"
    assert texts.count_text(1234567.0) == "1,234,567" and texts.count_text(2.5) == "2.50"


def test_terminal_tables_align_and_escape_control_characters():
    t = table([*BY_USER, sample("cost", "0.01", user_id="x" * 80)])
    lines = cr.cost_report_terminal([t], meta())
    assert lines[0] == "Claude Code cost report, last 7d up to 2025-12-02 00:00:00 UTC (from 2025-11-25 00:00:00 UTC)"
    assert lines[1] == "Prometheus http://prom:9090; total 1.56 USD, 2,113 tokens, 4 sessions"
    header = lines[lines.index("By user_id") + 1]
    assert header.split() == ["user_id", "cost", "USD", "sessions", "tokens", "input", "output", "cacheRead",
                              "cacheCreation", "thinking"]  # fmt: skip
    odd = next(line for line in lines if line.startswith("lab,"))
    assert odd.startswith('lab, "north"|x\\nline2  ')
    assert odd.split()[-8:] == ["1.25", "1", "7", "0", "0", "0", "7", "0"]
    assert any(line.startswith("x" * 45 + "...") for line in lines)
    widths = {len(line) for line in lines[lines.index("By user_id") + 1 :] if not line.startswith("(")}
    assert len(widths) == 1  # every line of the table as wide as the header
    assert lines[-1].split() == ["Total", "1.56", "4", "2,113", "100", "2,000", "5", "7", "1"]
    assert all(line == line.rstrip() for line in lines)


def test_terminal_shows_notes_and_none():
    result = [sample("cost", "0.5"), sample("cost", "0.25", model="opus"), sample("sessions", "4")]
    lines = cr.cost_report_terminal([table(result, "model")], meta())
    assert "(none)" in lines[lines.index("By model") + 3].split()[0]
    assert lines[-1] == "(claude_code_session_count has no model label: sessions are not broken down by model)"


def test_files_are_the_markdown_and_one_csv_per_breakdown():
    tables = [table(), table([], "project")]
    files = cr.cost_report_files(tables, meta())
    assert [f["name"] for f in files] == ["report.md", "by-user_id.csv", "by-project.csv"]
    assert files[1]["content"] == texts.cost_report_csv(tables[0])
    assert "## By `project`" in files[0]["content"]


def test_the_headline_takes_each_measure_from_a_table_that_has_it():
    by_model = table([sample("cost", "2", model="opus"), sample("sessions", "4")], "model")
    by_user = table([sample("cost", "2", user_id="a"), sample("sessions", "4", user_id="a")])
    assert "total 2.00 USD, 0 tokens, 4 sessions" in cr.cost_report_terminal([by_model, by_user], meta())[1]


def test_filters_are_registered():
    names = set(cr.FilterModule().filters())
    assert {"cost_report_settings", "cost_report_query", "cost_report_tables", "cost_report_files"} <= names
