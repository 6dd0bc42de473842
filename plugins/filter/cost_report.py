# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The cost report of playbooks/report.yml: Prometheus answers turned into tables, CSV and Markdown.

Every Claude Code sample in Prometheus is one reported delta, so a window's
total is ``sum_over_time`` over it, exactly as the dashboards ask:
``sum by (<label>) (sum_over_time(<metric>[<window>]))``. One instant query per
breakdown asks for the three measures at once (each tagged with the label
``claude_code_report``), all at the same evaluation time, so every table adds
up to the same totals.

Filters

``cost_report_settings(options)``
    options: {window, at, breakdowns, dir, prometheus_url, kind_label, now?}
    (the playbook's ``report_*`` variables; ``now``, seconds, defaults to the
    controller's clock).
    Returns {window, window_seconds, at, at_param, at_text, start_text, date,
    breakdowns, kind_label, dir, prometheus_url, problems}; ``problems`` lists
    what is wrong with the input, each naming the variable and the fix.

``cost_report_prometheus(slurped, record)``
    the ``slurp`` loop results of each server host's ``endpoints.json`` ->
    {host, url, problem}: the first host that runs Prometheus.

``cost_report_breakdowns(breakdowns, cost_labels, auto_repository=True)``
    the breakdowns, plus ``vcs_repository_url_full`` (the git repository) when the cost metric has that label.

``cost_report_query(breakdown, window, kind_label='kind')``
    the PromQL of one breakdown.

``cost_report_tables(answers, breakdowns, label_names, kind_label='kind')``
    the Prometheus answers (``data.result`` lists or whole JSON bodies) of the
    queries, in the order of ``breakdowns`` -> one table each:
    {label, measures, kinds, rows: [{value, cost, sessions, tokens, kinds}],
    total, notes}; rows sorted by cost, highest first. ``label_names`` maps a
    metric name to the label names Prometheus has for it: a measure whose
    metric lacks the label (sessions by model) is left out of that table.

``cost_report_terminal(tables, meta)``, ``cost_report_files(tables, meta)``
    the texts (the terminal's as a list of lines); ``meta`` is the settings
    (plus ``prometheus_url``), and ``cost_report_files`` gives [{name,
    content}] for report.md and one CSV per breakdown. They are written by
    plugins/plugin_utils/cost_report.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import math
import os
import re
import time
from datetime import datetime, timezone

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common._collections_compat import Mapping
from ansible.module_utils.six import string_types
from ansible_collections.claude_code.observability.plugins.module_utils.verify_marker import without_verify
from ansible_collections.claude_code.observability.plugins.plugin_utils.cost_report import (
    MEASURES,
    cost_report_csv,
    cost_report_markdown,
    cost_report_terminal,
)

METRICS = dict(MEASURES)
KINDS = ("input", "output", "cacheRead", "cacheCreation")
TAG = "claude_code_report"
# The label of vcs.repository.url.full, which Claude Code adds with OTEL_METRICS_INCLUDE_REPOSITORY.
REPOSITORY = "vcs_repository_url_full"
DEFAULT_BREAKDOWNS = ("user_id", "project", "model")

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$",
)
DURATION_UNITS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)
MAX_TIME = 253402300799  # 9999-12-31T23:59:59Z
URL = re.compile(r"^https?://[^/\s]+")


def _fail(msg):
    raise AnsibleFilterError("cost_report: " + msg)


def duration_seconds(text):
    """Seconds of a Prometheus duration (``1h30m``, ``7d``), or None when it is not one."""
    if not isinstance(text, string_types):
        return None
    match = DURATION.match(text.strip())
    if not match or not text.strip():
        return None
    return sum(int(n) * unit for n, unit in zip(match.groups(), DURATION_UNITS, strict=True) if n)


def _parse_at(value, now):
    """(seconds, problem) of report_at: empty for now, unix seconds, or RFC 3339 with a zone."""
    if value is None or (isinstance(value, string_types) and not value.strip()):
        return float(now), None
    if isinstance(value, bool):
        return None, "report_at: %r is not a time" % (value,)
    if isinstance(value, (int, float)):
        return float(value), None
    text = value.strip()
    try:
        return float(text), None
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return None, (
            "report_at: %r is not a time Prometheus takes; give unix seconds (1764633600) or RFC 3339 with a "
            "zone (2025-12-02T00:00:00Z), or leave it empty for now" % (value,)
        )
    return parsed.timestamp(), None


def _breakdown_list(value):
    if isinstance(value, string_types):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


def _utc(seconds, fmt="%Y-%m-%d %H:%M:%S UTC"):
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime(fmt)


def cost_report_settings(options):
    """The report's settings, checked; see the module documentation."""
    if not isinstance(options, Mapping):
        _fail("cost_report_settings expects a dict, got %r" % (options,))
    problems = []

    window = options.get("window")
    window_text = window.strip() if isinstance(window, string_types) else window
    seconds = duration_seconds(window_text)
    if not seconds:
        bare_number = isinstance(window_text, (int, float)) or (
            isinstance(window_text, string_types) and window_text.isdigit()
        )
        hint = " (add a unit: %ss)" % window_text if bare_number else ""
        problems.append(
            "report_window: %r is not a Prometheus duration%s; give a number and a unit, e.g. 1h, 24h, 7d, 30d "
            "or 1h30m (units ms, s, m, h, d, w, y), more than zero" % (window, hint)
        )

    # The controller's clock; a test gives its own.
    at, problem = _parse_at(options.get("at"), options.get("now") or time.time())
    if problem:
        problems.append(problem)
    elif math.isnan(at) or not 0 < at < MAX_TIME:
        problems.append(
            "report_at: %r is not a time between 1970 and 9999; leave it empty for now" % (options.get("at"),)
        )
        at = None

    kind_label = options.get("kind_label") or "kind"
    if not isinstance(kind_label, string_types) or not LABEL_NAME.match(kind_label):
        problems.append("report_kind_label: %r is not a label name (kind, or type without the rename)" % (kind_label,))
        kind_label = "kind"

    breakdowns = _breakdown_list(options.get("breakdowns"))
    if breakdowns is None:
        problems.append(
            "report_breakdowns: %r is not a list of label names, e.g. [user_id, project, model]"
            % (options.get("breakdowns"),)
        )
        breakdowns = []
    elif not breakdowns:
        problems.append("report_breakdowns is empty; give at least one label, e.g. [user_id]")
    for name in breakdowns:
        if not isinstance(name, string_types) or not LABEL_NAME.match(name) or name.startswith("__"):
            problems.append("report_breakdowns: %r is not a Prometheus label name (letters, digits, _)" % (name,))
        elif name in (kind_label, TAG):
            problems.append(
                "report_breakdowns: %r cannot be a breakdown (tokens are always broken down by %s)" % (name, kind_label)
            )
    duplicates = sorted({n for n in breakdowns if isinstance(n, string_types) and breakdowns.count(n) > 1})
    if duplicates:
        problems.append("report_breakdowns names %s more than once" % ", ".join(duplicates))

    url = options.get("prometheus_url") or ""
    if not isinstance(url, string_types) or (url and not URL.match(url)):
        problems.append(
            "report_prometheus_url: %r is not an http(s) URL, e.g. http://127.0.0.1:9090 (empty: the one "
            "site.yml recorded)" % (url,)
        )
        url = ""

    settings = {
        "window": window_text if seconds else "",
        "window_seconds": seconds or 0,
        "breakdowns": [n for n in breakdowns if isinstance(n, string_types)],
        "kind_label": kind_label,
        "prometheus_url": url.rstrip("/") if isinstance(url, string_types) else "",
        "problems": problems,
        "at": 0.0,
        "at_param": "",
        "at_text": "",
        "start_text": "",
        "date": "",
        "dir": "",
    }
    if at is not None:
        # Prometheus evaluates at a whole millisecond.
        at = round(at * 1000) / 1000.0
        settings.update(
            at=at,
            at_param="%.3f" % at,
            at_text=_utc(at),
            start_text=_utc(at - (seconds or 0)),
            date=_utc(at, "%Y-%m-%d"),
        )
    report_dir = options.get("dir") or ""
    if not isinstance(report_dir, string_types):
        problems.append("report_dir: %r is not a path" % (report_dir,))
        report_dir = ""
    if not report_dir and settings["date"] and settings["window"]:
        report_dir = "claude-code-report-%s-%s" % (settings["date"], settings["window"])
    # Relative to where ansible-playbook was started (filters run there).
    settings["dir"] = os.path.abspath(os.path.expanduser(report_dir)) if report_dir else ""
    return settings


def cost_report_prometheus(slurped, record="endpoints.json"):
    """The first server host whose endpoints record has a Prometheus: {host, url, problem}."""
    results = slurped.get("results", []) if isinstance(slurped, Mapping) else slurped
    if not isinstance(results, (list, tuple)):
        _fail("cost_report_prometheus expects the results of a slurp loop, got %r" % (slurped,))
    seen = []
    for result in results:
        host = result.get("item", "?")
        content = result.get("content")
        if content is None:
            seen.append("%s: %s" % (host, result.get("msg") or "no endpoints record"))
            continue
        try:
            endpoints = json.loads(base64.b64decode(content).decode("utf-8"))
        except ValueError as exc:
            seen.append("%s: unreadable endpoints record (%s)" % (host, exc))
            continue
        url = ((endpoints or {}).get("prometheus") or {}).get("url")
        if url:
            return {"host": host, "url": url.rstrip("/"), "problem": ""}
        seen.append("%s: runs no Prometheus" % host)
    return {
        "host": "",
        "url": "",
        "problem": (
            "No Prometheus found: %s (read %s of each observability_servers host). Run site.yml to deploy the "
            "stack, or point the report at a Prometheus with -e report_prometheus_url=http://<host>:9090"
            % ("; ".join(seen) if seen else "the inventory has no observability_servers host", record)
        ),
    }


def cost_report_breakdowns(breakdowns, cost_labels, auto_repository=True):
    """The breakdowns, plus the repository when Prometheus has its label on the cost metric."""
    out = list(breakdowns or [])
    if auto_repository and REPOSITORY in (cost_labels or []) and REPOSITORY not in out:
        out.append(REPOSITORY)
    return out


def cost_report_query(breakdown, window, kind_label="kind"):
    """One instant query for the three measures of a breakdown, each tagged with its measure."""
    if not isinstance(breakdown, string_types) or not LABEL_NAME.match(breakdown):
        _fail("%r is not a label name" % (breakdown,))
    if not duration_seconds(window):
        _fail("%r is not a Prometheus duration" % (window,))
    parts = []
    for measure, metric in MEASURES:
        by = [breakdown, kind_label] if measure == "tokens" else [breakdown]
        parts.append(
            'label_replace(sum by (%s) (sum_over_time(%s[%s])), "%s", "%s", "", "")'
            % (", ".join(by), without_verify(metric), window, TAG, measure)
        )
    return " or ".join(parts)


def _result_list(answer):
    """The ``data.result`` list of a Prometheus answer, or the list itself."""
    if isinstance(answer, Mapping):
        data = answer.get("data")
        if isinstance(data, Mapping):
            answer = data.get("result")
        elif "result" in answer:
            answer = answer.get("result")
    if not isinstance(answer, (list, tuple)):
        _fail("expected the result list of an instant query, got %r" % (answer,))
    return answer


def _value(sample):
    try:
        return float(sample["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        _fail("expected an instant vector sample {metric, value: [time, number]}, got %r" % (sample,))


def _ordered_kinds(kinds):
    return list(KINDS) + sorted(k for k in kinds if k not in KINDS)


def cost_report_table(answer, breakdown, label_names=None, kind_label="kind"):
    """One breakdown's table from its query's answer (see the module documentation)."""
    grouped = {}
    kinds_seen = set()
    carried = {measure: False for measure, _metric in MEASURES}
    for sample in _result_list(answer):
        labels = (sample.get("metric") or {}) if isinstance(sample, Mapping) else {}
        measure = labels.get(TAG)
        if measure not in METRICS:
            _fail("a sample without a known %s label: %r" % (TAG, sample))
        value = labels.get(breakdown, "")
        carried[measure] = carried[measure] or value != ""
        row = grouped.setdefault(value, {"cost": [], "sessions": [], "kinds": {}, "seen": set()})
        row["seen"].add(measure)
        if measure == "tokens":
            kind = labels.get(kind_label, "")
            kinds_seen.add(kind)
            row["kinds"].setdefault(kind, []).append(_value(sample))
        else:
            row[measure].append(_value(sample))

    measures = [measure for measure, _metric in MEASURES]
    notes = []
    for measure, metric in MEASURES:
        names = (label_names or {}).get(metric)
        # Prometheus has the metric, without this label: the measure cannot
        # be broken down by it (sessions carry no model).
        if names and breakdown not in names and not carried[measure]:
            measures.remove(measure)
            notes.append("%s has no %s label: %s are not broken down by %s" % (metric, breakdown, measure, breakdown))
    kinds = _ordered_kinds(kinds_seen)

    rows = []
    for value, parts in grouped.items():
        # A row only a left-out measure has samples for (the sessions of
        # every model together) is not a row of this table.
        if not parts["seen"] & set(measures):
            continue
        row = {
            "value": value,
            "cost": math.fsum(parts["cost"]),
            "sessions": math.fsum(parts["sessions"]),
            "kinds": {kind: math.fsum(parts["kinds"].get(kind, [])) for kind in kinds},
        }
        row["tokens"] = math.fsum(row["kinds"].values())
        rows.append(row)
    rows.sort(key=lambda r: (-r["cost"], -r["tokens"], -r["sessions"], r["value"]))
    total = {
        "cost": math.fsum(r["cost"] for r in rows),
        "sessions": math.fsum(r["sessions"] for r in rows),
        "tokens": math.fsum(r["tokens"] for r in rows),
        "kinds": {kind: math.fsum(r["kinds"][kind] for r in rows) for kind in kinds},
    }
    return {"label": breakdown, "measures": measures, "kinds": kinds, "rows": rows, "total": total, "notes": notes}


def cost_report_tables(answers, breakdowns, label_names=None, kind_label="kind"):
    """One table per breakdown, from the answers of its queries in the same order."""
    answers = list(answers or [])
    breakdowns = list(breakdowns or [])
    if len(answers) != len(breakdowns):
        _fail("%d answers for %d breakdowns" % (len(answers), len(breakdowns)))
    return [cost_report_table(a, b, label_names, kind_label) for a, b in zip(answers, breakdowns, strict=True)]


# --- text ---------------------------------------------------------------


def cost_report_files(tables, meta):
    """[{name, content}]: report.md and by-<label>.csv for each breakdown."""
    files = [{"name": "report.md", "content": cost_report_markdown(tables, meta)}]
    for table in tables:
        files.append({"name": "by-%s.csv" % table["label"], "content": cost_report_csv(table)})
    return files


class FilterModule(object):
    def filters(self):
        return {
            "cost_report_settings": cost_report_settings,
            "cost_report_prometheus": cost_report_prometheus,
            "cost_report_breakdowns": cost_report_breakdowns,
            "cost_report_query": cost_report_query,
            "cost_report_tables": cost_report_tables,
            "cost_report_terminal": cost_report_terminal,
            "cost_report_files": cost_report_files,
        }
