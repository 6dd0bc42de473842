"""playbooks/report.yml against the real Prometheus 3.5 of the test bed: a generated history of sessions
over six hours (several users, projects and models, past timestamps, sent out of order through the real
collector) is reported for a 1 h and a 24 h window; every number of every CSV file must equal the exact
math.fsum of what was sent in that window, per breakdown, to 1e-9, and the Markdown file and the terminal
must show the same numbers rounded. A repository table appears once Prometheus has that label. Bad input
fails with a message naming the variable, and writes nothing."""

from __future__ import annotations

import csv
import json
import math
import random
import re
import textwrap
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from helpers import load, metrics_path, otlp, playbook

pytestmark = pytest.mark.testbed

NS = 1_000_000_000
MS = 1_000_000
USERS = ("ana", "bo", "cy", "di")
# One project name with a comma, quotes and a pipe: CSV quoting and Markdown escaping, end to end.
PROJECTS = ("api", "web", 'ops|"lab, 2"')
REPOSITORIES = ("https://github.com/acme/api", "https://github.com/acme/web")
# The label of the vcs.repository.url.full attribute Claude Code adds with OTEL_METRICS_INCLUDE_REPOSITORY.
REPO = "vcs_repository_url_full"
KINDS = ("input", "output", "cacheRead", "cacheCreation")
BREAKDOWNS = ("user_id", "project", "model")
WINDOWS = {"1h": 3600, "24h": 86400}


def history(seed: int, now_ms: int, sessions: int, span_h: float, repository: bool = False):
    """(payloads in random order, samples): a sample is (t_ms, measure, labels, value)."""
    rng = random.Random(seed)
    payloads, samples = [], []
    for s in range(sessions):
        sid = str(uuid.UUID(int=rng.getrandbits(128)))
        user, project = USERS[s % len(USERS)], rng.choice(PROJECTS)
        resource = [load._kv("service.name", "claude-code"), load._kv("project", project)]
        where = {"user_id": user, "project": project}
        # Some sessions of the second batch have no repository: the "(none)" row.
        repo = rng.choice(REPOSITORIES) if repository and s % 3 else ""
        if repo:
            where[REPO] = repo
        # Whole milliseconds (Prometheus' resolution), off the whole second so no sample sits on a window edge.
        start = now_ms - int(rng.uniform(0.05, span_h) * 3600 * 1000) // 1000 * 1000 + rng.randint(1, 999)
        for i in range(rng.randint(1, 40)):
            t = start + i * 60_000
            if t >= now_ms - 1000:
                break
            base = [load._kv("session.id", sid), load._kv("user.id", user), load._kv("machine.name", f"m-{s % 3}")]
            if repo:  # a data point attribute, as Claude Code sends it
                base.append(load._kv("vcs.repository.url.full", repo))
            model = rng.choice(load.MODELS)
            metrics = []
            if i == 0:
                point = load._point(base, 1, (t - 1000) * MS, t * MS)
                metrics.append(load._sum("claude_code.session.count", "", [point]))
                samples.append((t, "sessions", where, 1))
            cost = round(rng.uniform(0.0001, 0.3), 6)
            point = load._point([*base, load._kv("model", model)], cost, (t - 1000) * MS, t * MS)
            metrics.append(load._sum("claude_code.cost.usage", "USD", [point]))
            samples.append((t, "cost", {**where, "model": model}, cost))
            points = []
            for kind in KINDS:
                n = rng.randint(0, 4000)
                attrs = [*base, load._kv("model", model), load._kv("type", kind)]
                points.append(load._point(attrs, n, (t - 1000) * MS, t * MS))
                samples.append((t, "tokens", {**where, "model": model, "kind": kind}, n))
            metrics.append(load._sum("claude_code.token.usage", "tokens", points))
            payloads.append(load.export(resource, metrics))
    rng.shuffle(payloads)
    return payloads, samples


def exact(samples, at_ms: int, window_s: int, label: str, leave_out: tuple[str, ...] = ()) -> dict:
    """{label value: {column: exact sum}} of the samples in (at - window, at], with the CSV's column names."""
    sums = defaultdict(lambda: defaultdict(list))
    for t, measure, labels, value in samples:
        if at_ms - window_s * 1000 < t <= at_ms and measure not in leave_out:
            row = sums[labels.get(label, "")]
            if measure == "cost":
                row["cost_usd"].append(value)
            elif measure == "sessions":
                row["sessions"].append(value)
            else:
                row["tokens"].append(value)
                row["tokens_" + labels["kind"]].append(value)
    return {key: {col: math.fsum(values) for col, values in row.items()} for key, row in sums.items()}


def send(prom, samples_so_far, payloads):
    col = metrics_path.Collector(prom.testbed, prom.dir.parent / f"otelcol-{len(samples_so_far)}", prom.otlp).start()
    try:
        for payload in payloads:
            assert otlp.post(col.http, "metrics", payload) == 200
        for metric, measure in (
            ("claude_code_cost_usage_USD", "cost"),
            ("claude_code_token_usage_tokens", "tokens"),
            ("claude_code_session_count", "sessions"),
        ):
            want = math.fsum(v for _t, m, _l, v in samples_so_far if m == measure)
            metrics_path.wait_value(prom, f"sum(sum_over_time({metric}[7d]))", want, timeout=90)
    finally:
        col.stop()


@pytest.fixture(scope="module")
def prom(testbed, tmp_path_factory):
    work = tmp_path_factory.mktemp("cost-report")
    prometheus = metrics_path.Prometheus(testbed, work / "prom").start()
    prometheus.testbed = testbed
    try:
        yield prometheus
    finally:
        prometheus.stop()


@pytest.fixture(scope="module")
def first(prom):
    """The history without any repository label; the report ends two minutes before now."""
    now_ms = time.time_ns() // MS
    payloads, samples = history(seed=7, now_ms=now_ms, sessions=36, span_h=6.0)
    send(prom, samples, payloads)
    return samples, now_ms - 120_000


def report(prom, tmp_path, window: str, at_ms: int, *args, via_endpoints: bool = False, check: bool = True, **extra):
    out = tmp_path / f"report-{window}"
    extra_vars = {"report_window": window, "report_at": f"{at_ms / 1000:.3f}", "report_dir": str(out), **extra}
    if via_endpoints:
        # Found where site.yml records it: <stack_project_dir>/endpoints.json of the server host.
        project = tmp_path / "project"
        project.mkdir(exist_ok=True)
        (project / "endpoints.json").write_text(json.dumps({"project": "p", "prometheus": {"url": prom.base}}))
        extra_vars["stack_project_dir"] = str(project)
    else:
        extra_vars.setdefault("report_prometheus_url", prom.base)
    proc, recap = playbook.run("playbooks/report.yml", extra_vars, *args, check=check, timeout=300)
    return out, proc, recap


def read_csv(path: Path):
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return rows[:-1], rows[-1]


def md_cells(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [re.sub(r"\\(.)", r"\1", c.strip()).replace("<br>", "\n") for c in cells]


def md_table(text: str, label: str) -> list[list[str]]:
    lines = text.splitlines()
    start = lines.index(f"## By `{label}`") + 2
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(md_cells(line))
    return [table[0]] + table[2:]  # without the alignment row


def printed_lines(stdout: str) -> list[str]:
    """The lines of the report the playbook printed (its msg, in the JSON or the YAML result format)."""
    block = stdout.split("TASK [Show the report]", 1)[1].split("\nTASK [", 1)[0]
    return yaml.safe_load(textwrap.dedent(block.split("=>", 1)[1]))["msg"]


def terminal_table(stdout: str, label: str) -> list[list[str]]:
    """The rows (header, body, total) of one table the playbook printed."""
    lines = printed_lines(stdout)
    start = lines.index(f"By {label}")
    table = []
    for line in lines[start + 1 :]:
        if not set(line) <= {"-", " "}:
            table.append(re.split(r"\s{2,}", line.strip()))
        if line.startswith("Total "):
            return table
    raise AssertionError(f"no total row after By {label}")


def money(value: float) -> str:
    return f"{value:,.2f}"


def count(value: float) -> str:
    return f"{int(value):,}"


def check_report(out: Path, stdout: str, samples, at_ms: int, window: str, breakdowns) -> None:
    seconds = WINDOWS[window]
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == sorted(["report.md", *(f"by-{b}.csv" for b in breakdowns)])
    assert f"last {window} up to " in markdown
    everything = exact(samples, at_ms, seconds, "no such label").get("", {})
    for label in breakdowns:
        # Sessions carry no model: that table leaves them out and says so.
        no_sessions = label == "model"
        want = exact(samples, at_ms, seconds, label, ("sessions",) if no_sessions else ())
        rows, total = read_csv(out / f"by-{label}.csv")
        columns = list(rows[0]) if rows else []
        assert ("sessions" not in columns) if no_sessions else ("sessions" in columns), (label, columns)
        assert {r[label] for r in rows} == set(want), (label, window)
        costs = [float(r["cost_usd"]) for r in rows]
        assert costs == sorted(costs, reverse=True), "highest cost first"
        md = {cells[0]: cells for cells in md_table(markdown, label)[1:]}
        term = {cells[0]: cells for cells in terminal_table(stdout, label)[1:]}
        header = md_table(markdown, label)[0]
        assert header == [label, "cost USD", *([] if no_sessions else ["sessions"]), "tokens", *KINDS]
        assert terminal_table(stdout, label)[0] == header
        shown = [(r[label], r, want[r[label]]) for r in rows]
        shown.append(("Total", total, everything))
        for value, row, expected in shown:
            people = "Total" if value == "Total" else (value or "(none)")
            md_row = [c.strip("*") for c in md["**Total**" if value == "Total" else (value or "*(none)*")]]
            term_row = term[people if "\n" not in people else people.replace("\n", "\\n")]
            assert md_row[0] == people and term_row[0] == people
            for i, col in enumerate(columns[1:], start=1):
                got, sent = float(row[col]), expected.get(col, 0.0)
                assert abs(got - sent) <= 1e-9, (window, label, value, col, got, sent)
                if col == "cost_usd":
                    # Rounded to cents for people: the CSV's value rounded, and within a half cent of the exact one.
                    assert md_row[i] == term_row[i] == money(got), (window, label, value, col)
                    assert abs(float(md_row[i].replace(",", "")) - sent) <= 0.005 + 1e-9
                else:
                    assert row[col] == str(int(sent)), (window, label, value, col)  # whole numbers, exactly
                    assert md_row[i] == term_row[i] == count(sent), (window, label, value, col)
        if no_sessions:
            assert "sessions are not broken down by model" in markdown
            note = "(claude_code_session_count has no model label: sessions are not broken down by model)"
            assert note in printed_lines(stdout)
    totals = [
        money(everything.get("cost_usd", 0.0)),
        count(everything.get("tokens", 0)),
        count(everything.get("sessions", 0)),
    ]
    assert "Total: %s USD, %s tokens, %s sessions" % tuple(totals) in markdown


def test_report_for_two_windows_equals_what_was_sent(prom, first, tmp_path):
    samples, at_ms = first
    for window, via_endpoints in (("1h", False), ("24h", True)):
        out, proc, recap = report(prom, tmp_path, window, at_ms, via_endpoints=via_endpoints)
        assert recap["localhost"]["failed"] == 0 and recap["localhost"]["changed"] >= 1
        check_report(out, proc.stdout, samples, at_ms, window, BREAKDOWNS)
        if window == "24h":  # the odd project name went through CSV, Markdown and the terminal
            assert PROJECTS[2] in {r["project"] for r in read_csv(out / "by-project.csv")[0]}
    # The 1 h window holds fewer samples than the 24 h one, and later ones exist after report_at.
    assert any(at_ms - 3600_000 >= t for t, *_rest in samples) and any(t > at_ms for t, *_rest in samples)
    # The same report again: the same files, nothing changed.
    _out, _proc, recap = report(prom, tmp_path, "24h", at_ms, via_endpoints=True)
    assert recap["localhost"]["changed"] == 0


def test_check_mode_writes_nothing(prom, first, tmp_path):
    _samples, at_ms = first
    out, proc, _recap = report(prom, tmp_path, "1h", at_ms, "--check")
    assert not out.exists()
    assert "Would write report.md, by-user_id.csv, by-project.csv, by-model.csv" in proc.stdout
    assert "By user_id" in printed_lines(proc.stdout)


# After the tests above (pytest runs a file in order): from here on Prometheus has a repository label.
def test_a_repository_table_appears_once_prometheus_has_the_label(prom, first, tmp_path):
    samples, at_ms = first
    # Sessions of some repositories, inside both windows.
    payloads, more = history(seed=8, now_ms=at_ms - 60_000, sessions=12, span_h=0.9, repository=True)
    everything = samples + more
    send(prom, everything, payloads)
    out, proc, _recap = report(prom, tmp_path, "24h", at_ms)
    check_report(out, proc.stdout, everything, at_ms, "24h", [*BREAKDOWNS, REPO])
    rows, _total = read_csv(out / f"by-{REPO}.csv")
    assert {r[REPO] for r in rows} == {"", *REPOSITORIES}
    # ... unless turned off.
    out, _proc, _recap = report(prom, tmp_path, "1h", at_ms, report_repository_auto=False)
    check_report(out, _proc.stdout, everything, at_ms, "1h", BREAKDOWNS)


@pytest.mark.parametrize("window", ["7x", "0s", "3600"])
def test_a_bad_window_fails_naming_report_window(window, tmp_path):
    out = tmp_path / "out"
    proc, recap = playbook.run(
        "playbooks/report.yml",
        {"report_window": window, "report_dir": str(out), "report_prometheus_url": "http://127.0.0.1:1"},
        check=False,
    )
    assert proc.returncode != 0 and recap["localhost"]["failed"] == 1
    assert f"report_window: '{window}' is not a Prometheus duration" in proc.stdout
    assert not out.exists()


def test_an_unreachable_prometheus_fails_naming_report_prometheus_url(tmp_path):
    out = tmp_path / "out"
    proc, recap = playbook.run(
        "playbooks/report.yml", {"report_dir": str(out), "report_prometheus_url": "http://127.0.0.1:1"}, check=False
    )
    assert recap["localhost"]["failed"] == 1
    assert "Prometheus at http://127.0.0.1:1 (asked from localhost) does not answer" in proc.stdout
    assert "-e report_prometheus_url=" in proc.stdout and not out.exists()


def test_no_recorded_prometheus_fails_naming_report_prometheus_url(tmp_path):
    proc, recap = playbook.run(
        "playbooks/report.yml", {"report_dir": str(tmp_path / "out"), "stack_project_dir": str(tmp_path)}, check=False
    )
    assert recap["localhost"]["failed"] == 1
    assert f"No Prometheus found: localhost: File not found: {tmp_path}/endpoints.json" in proc.stdout
    assert "-e report_prometheus_url=" in proc.stdout and not (tmp_path / "out").exists()


def test_a_prometheus_without_claude_code_metrics_fails(testbed, tmp_path):
    empty = metrics_path.Prometheus(testbed, tmp_path / "empty").start()
    try:
        out = tmp_path / "out"
        proc, recap = playbook.run(
            "playbooks/report.yml", {"report_dir": str(out), "report_prometheus_url": empty.base}, check=False
        )
    finally:
        empty.stop()
    assert recap["localhost"]["failed"] == 1
    assert f"Prometheus at {empty.base} has no claude_code_cost_usage_USD series" in proc.stdout
    assert "report_prometheus_url" in proc.stdout and not out.exists()
