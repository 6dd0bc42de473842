# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The texts of the cost report of playbooks/report.yml, from the tables of the cost_report filters.

``cost_report_csv(table)``, ``cost_report_markdown(tables, meta)``, ``cost_report_terminal(tables, meta)``
    the texts (the terminal's as a list of lines); ``meta`` is the settings
    (plus ``prometheus_url``).

CSV keeps exact values (``repr`` of the float, whole numbers as integers) and
the empty string for series without the label; its last row is the total.
Markdown and the terminal round money to cents and show ``(none)`` for series
without the label.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io
import re

COST = "claude_code_cost_usage_USD"
TOKENS = "claude_code_token_usage_tokens"
SESSIONS = "claude_code_session_count"
MEASURES = (("cost", COST), ("sessions", SESSIONS), ("tokens", TOKENS))
NONE_TEXT = "(none)"
TERMINAL_LABEL_WIDTH = 48


def _exact(number):
    """A value as CSV text: whole numbers as integers, others as the shortest exact float."""
    if isinstance(number, float) and number.is_integer() and abs(number) < 2**53:
        return str(int(number))
    return repr(float(number))


def _exact_money(number):
    return repr(float(number))


def money_text(number):
    """Money for people: cents, thousands separated."""
    return "{:,.2f}".format(number)


def count_text(number):
    """Tokens and sessions for people: whole numbers, thousands separated."""
    if float(number).is_integer():
        return "{:,}".format(int(number))
    return "{:,.2f}".format(number)


def _columns(table):
    """[(CSV header, people's header, getter, exact text, people's text)] of a table."""
    cols = [(table["label"], table["label"], None, None, None)]
    if "cost" in table["measures"]:
        cols.append(("cost_usd", "cost USD", lambda r: r["cost"], _exact_money, money_text))
    if "sessions" in table["measures"]:
        cols.append(("sessions", "sessions", lambda r: r["sessions"], _exact, count_text))
    if "tokens" in table["measures"]:
        cols.append(("tokens", "tokens", lambda r: r["tokens"], _exact, count_text))
        for kind in table["kinds"]:
            name = kind or NONE_TEXT
            cols.append(("tokens_" + name, name, lambda r, kind=kind: r["kinds"][kind], _exact, count_text))
    return cols


def cost_report_csv(table):
    """A table as CSV (RFC 4180 quoting), exact values; the last row is the total."""
    cols = _columns(table)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([c[0] for c in cols])
    for row in table["rows"]:
        writer.writerow([row["value"]] + [c[3](c[2](row)) for c in cols[1:]])
    writer.writerow(["Total"] + [c[3](c[2](table["total"])) for c in cols[1:]])
    return out.getvalue()


MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def markdown_escape(text):
    """A label value as the text of a Markdown table cell: specials escaped, line breaks as <br>."""
    escaped = MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return re.sub(r"\r\n|\r|\n", "<br>", escaped)


def _markdown_table(table):
    cols = _columns(table)
    lines = [
        # Header cells are label and kind names ([a-zA-Z0-9_]): nothing to escape.
        "| " + " | ".join(c[1] for c in cols) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(cols) - 1)) + "|",
    ]
    for row in table["rows"]:
        label = markdown_escape(row["value"]) if row["value"] != "" else "*" + NONE_TEXT + "*"
        lines.append("| " + " | ".join([label] + [c[4](c[2](row)) for c in cols[1:]]) + " |")
    lines.append("| " + " | ".join(["**Total**"] + ["**%s**" % c[4](c[2](table["total"])) for c in cols[1:]]) + " |")
    return lines


def _grand_total(tables):
    """Each measure's total, from the first table that breaks it down (all such tables agree)."""
    out = {}
    for measure, _metric in MEASURES:
        out[measure] = next((t["total"][measure] for t in tables if measure in t["measures"]), 0.0)
    return out


def _headline(tables):
    total = _grand_total(tables)
    return "%s USD, %s tokens, %s sessions" % (
        money_text(total["cost"]),
        count_text(total["tokens"]),
        count_text(total["sessions"]),
    )


def _window_text(meta):
    return "last %s up to %s (from %s)" % (meta.get("window", ""), meta.get("at_text", ""), meta.get("start_text", ""))


def cost_report_markdown(tables, meta):
    """The whole report as Markdown: a headline, one table per breakdown, and the queries."""
    meta = meta or {}
    window = meta.get("window", "")
    lines = [
        "# Claude Code cost report",
        "",
        "- Window: %s" % _window_text(meta),
        "- Prometheus: %s" % markdown_escape(meta.get("prometheus_url", "")),
        "- Total: %s" % _headline(tables),
        "",
    ]
    for table in tables:
        lines += ["## By `%s`" % table["label"], ""]
        lines += _markdown_table(table)
        lines.append("")
        for note in table["notes"]:
            lines += ["*%s.*" % markdown_escape(note), ""]
        if any(r["value"] == "" for r in table["rows"]):
            lines += ["*%s: series without a `%s` label.*" % (NONE_TEXT, table["label"]), ""]
    lines += [
        "## How these numbers are made",
        "",
        "Each Claude Code export is one sample in Prometheus, so a window's total is the sum of its samples, "
        "the same query the Grafana dashboards run (money rounded to cents here; the CSV files keep exact values). "
        "Every table was evaluated at %s:" % meta.get("at_text", ""),
        "",
        "```promql",
    ]
    kind_label = meta.get("kind_label") or "kind"
    for measure, metric in MEASURES:
        by = "<label>, " + kind_label if measure == "tokens" else "<label>"
        lines.append("sum by (%s) (sum_over_time(%s[%s]))" % (by, metric, window))
    lines += ["```", ""]
    return "\n".join(lines)


def terminal_escape(text, width=TERMINAL_LABEL_WIDTH):
    """A label value for one terminal line: control characters escaped, long values shortened."""
    shown = (
        "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
        if text != ""
        else NONE_TEXT
    )
    return shown if len(shown) <= width else shown[: width - 3] + "..."


def _terminal_table(table):
    cols = _columns(table)
    body = [[terminal_escape(r["value"])] + [c[4](c[2](r)) for c in cols[1:]] for r in table["rows"]]
    total = ["Total"] + [c[4](c[2](table["total"])) for c in cols[1:]]
    header = [c[1] for c in cols]
    widths = [max(len(line[i]) for line in [header] + body + [total]) for i in range(len(cols))]

    def render(cells):
        left = cells[0].ljust(widths[0])
        return ("  ".join([left] + [cell.rjust(w) for cell, w in zip(cells[1:], widths[1:], strict=True)])).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return [render(header), rule] + [render(line) for line in body] + [rule, render(total)]


def cost_report_terminal(tables, meta):
    """The report as lines of plain text tables for the terminal.

    Lines, not one text: Ansible's callbacks print a list of lines one per
    line (JSON or YAML), where a text would show as one line with ``\\n``.
    """
    meta = meta or {}
    lines = [
        "Claude Code cost report, %s" % _window_text(meta),
        "Prometheus %s; total %s" % (meta.get("prometheus_url", ""), _headline(tables)),
    ]
    for table in tables:
        lines += ["", "By %s" % table["label"]]
        lines += _terminal_table(table)
        lines += ["(%s)" % note for note in table["notes"]]
    return lines
