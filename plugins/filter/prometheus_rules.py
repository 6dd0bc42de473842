# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Claude Code recording and alert rules of Prometheus, as data.

Filter ``prometheus_rule_groups(options)``

options  the dict the prometheus role keeps in ``prometheus__rule_options``:

  window_sums          [{record, metric, by: [[label, ...], ...]}]: each a
                       recorded ``sum by (...) (sum_over_time(metric[w]))``
  windows              [{window, interval}]: one group per window; an empty
                       interval means Prometheus' global one
  budgets              {total|user|project: {day|week|month: USD}}; 0 or
                       empty turns one budget off
  spike_factor         alert when a user's last hour costs more than this
                       many times their usual active hour (0: off)
  spike_min_usd        ... and more than this
  spike_baseline       the past the usual hour is taken from (e.g. 7d)
  silent_after         alert for a machine or user that spent nothing for
                       this long (empty: off) ...
  silent_lookback      ... after it spent something within this long
  collector_down_for   ``for`` of the collector-down alert
  no_data_hours        hours without any accepted metric point

Returns ``[{name, interval?, rules: [...]}]``, the ``groups`` of a rule file.

Every Claude Code sample is the amount one export reported (a delta), so the
exact total over a window is ``sum_over_time`` over it. An alert on a window
total sits in the group that records that total, after it: rules of a group
run in order, so the alert reads the value recorded in the same evaluation
(a long window's group runs less often than Prometheus' 5 minute lookback
would forgive).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common._collections_compat import Mapping
from ansible.module_utils.six import string_types
from ansible_collections.claude_code.observability.plugins.module_utils.verify_marker import without_verify

# verify.yml's session is left out of every total and alert.
COST = without_verify("claude_code_cost_usage_USD")
COST_RECORD = "claude_code_cost_usd"
# Budget period -> the window whose group records its totals.
PERIODS = (("day", "24h", "Daily", "24 h"), ("week", "7d", "Weekly", "7 days"), ("month", "30d", "Monthly", "30 days"))
SCOPES = (
    ("total", None, "Total", "Claude Code spend"),
    ("user", "user_id", "PerUser", "Claude Code spend of {{ $labels.user_id }}"),
    ("project", "project", "PerProject", "Claude Code spend of project {{ $labels.project }}"),
)
SILENT = (("machine_name", "Machine", "machine"), ("user_id", "User", "user"))
VALUE = '{{ $value | printf "%.2f" }}'


def _fail(msg):
    raise AnsibleFilterError("prometheus_rule_groups: " + msg)


def _number(value, what):
    """A threshold as a float; empty/None/0 means off (returns 0.0)."""
    if value is None or (isinstance(value, string_types) and value.strip() == ""):
        return 0.0
    if isinstance(value, bool):
        _fail("%s must be a number, not %r" % (what, value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        _fail("%s must be a number of USD (0 turns it off), not %r" % (what, value))
    if number < 0 or math.isnan(number) or math.isinf(number):
        _fail("%s must be 0 (off) or more, not %r" % (what, value))
    return number


def _num(number):
    """A threshold as PromQL text: integers without a trailing .0, others exactly."""
    return str(int(number)) if number == int(number) else repr(number)


def _recorded(by, record, window):
    return "%s%s:window%s" % ("_".join(by) + ":" if by else "", record, window)


def _recording_rules(window_sums, window):
    rules = []
    for spec in window_sums:
        for by in spec["by"]:
            grouping = " by (%s)" % ", ".join(by) if by else ""
            rules.append(
                {
                    "record": _recorded(by, spec["record"], window),
                    "expr": "sum%s (sum_over_time(%s[%s]))" % (grouping, without_verify(spec["metric"]), window),
                }
            )
    return rules


def _budget_rules(budgets, window):
    rules = []
    for period, period_window, adjective, span in PERIODS:
        if period_window != window:
            continue
        for scope, label, suffix, subject in SCOPES:
            usd = _number((budgets.get(scope) or {}).get(period), "the %s budget of %s" % (period, scope))
            if not usd:
                continue
            rules.append(
                {
                    "alert": "ClaudeCode%sSpend%s" % (adjective, suffix),
                    "expr": "%s > %s" % (_recorded([label] if label else [], COST_RECORD, window), _num(usd)),
                    "labels": {"severity": "warning", "budget_scope": scope, "budget_period": period},
                    "annotations": {
                        "summary": "%s over the last %s is %s USD" % (subject, span, VALUE),
                        "description": "Above the %s budget of %s USD per %s (prometheus_budget_%s_usd.%s)."
                        % ("total" if scope == "total" else "per-" + scope, _num(usd), span, scope, period),
                    },
                }
            )
    return rules


def _spike_rule(options, window):
    factor = _number(options.get("spike_factor"), "spike_factor")
    if not factor or window != "1h":
        return []
    floor = _number(options.get("spike_min_usd"), "spike_min_usd")
    baseline = options.get("spike_baseline") or "7d"
    hour = _recorded(["user_id"], COST_RECORD, "1h")
    # The usual hour: what the user spent over the baseline before this hour,
    # divided by the hours of it in which they spent anything (idle nights and
    # weekends would otherwise make every working hour a spike).
    usual = (
        "(sum by (user_id) (sum_over_time({cost}[{b}] offset 1h))"
        " / count_over_time((sum by (user_id) (sum_over_time({cost}[1h])) > 0)[{b}:1h] offset 1h))"
    ).format(cost=COST, b=baseline)
    return [
        {
            "alert": "ClaudeCodeSpendSpike",
            "expr": "%s > %s and on (user_id) %s > %s * %s" % (hour, _num(floor), hour, _num(factor), usual),
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "Claude Code spend of {{ $labels.user_id }} in the last hour is %s USD" % VALUE,
                "description": "More than %s times the usual active hour of the last %s, and above %s USD "
                "(prometheus_alert_spike_factor, prometheus_alert_spike_min_usd)."
                % (_num(factor), baseline, _num(floor)),
            },
        }
    ]


def _silent_rules(options, window):
    after = options.get("silent_after") or ""
    if not after or window != "7d":
        return []
    lookback = options.get("silent_lookback") or "14d"
    rules = []
    for label, title, noun in SILENT:
        rules.append(
            {
                "alert": "ClaudeCode%sSilent" % title,
                "expr": (
                    "count by ({l}) (count_over_time({c}[{lb}]))"
                    " unless on ({l}) count by ({l}) (count_over_time({c}[{a}]))"
                ).format(l=label, c=COST, lb=lookback, a=after),
                "labels": {"severity": "warning"},
                "annotations": {
                    "summary": "%s {{ $labels.%s }} reported Claude Code use within %s, but nothing for %s"
                    % (title, label, lookback, after),
                    "description": "The %s may have lost its telemetry settings or cannot reach the collector "
                    "(prometheus_alert_silent_after)." % noun,
                },
            }
        )
    return rules


def _service_rules(options):
    return [
        {
            "alert": "ClaudeCodeCollectorDown",
            "expr": 'up{job="otel-collector"} == 0 or absent(up{job="otel-collector"})',
            "for": options.get("collector_down_for") or "5m",
            "labels": {"severity": "critical"},
            "annotations": {"summary": "The OpenTelemetry Collector is not answering Prometheus' scrapes"},
        },
        {
            "alert": "ClaudeCodeNoData",
            "expr": "sum(increase(otelcol_receiver_accepted_metric_points_total[%sh])) == 0"
            % int(options.get("no_data_hours") or 24),
            "for": "10m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "No Claude Code metrics received for %s h" % int(options.get("no_data_hours") or 24),
                "description": "Clients may have lost their configuration, or the OTLP ingress is unreachable.",
            },
        },
    ]


def prometheus_rule_groups(options):
    """The rule groups: one per window (its totals, then the alerts on them), then the service alerts."""
    if not isinstance(options, Mapping):
        _fail("expects the dict of prometheus__rule_options, got %r" % (options,))
    budgets = options.get("budgets") or {}
    if not isinstance(budgets, Mapping):
        _fail("budgets must be a dict of total/user/project, got %r" % (budgets,))
    unknown = sorted(set(budgets) - set(s[0] for s in SCOPES))
    if unknown:
        _fail("unknown budget scope %s: use total, user or project" % ", ".join(unknown))
    for scope, periods in budgets.items():
        if periods and not isinstance(periods, Mapping):
            _fail("the %s budget must be a dict of day/week/month, got %r" % (scope, periods))
        unknown = sorted(set(periods or {}) - set(p[0] for p in PERIODS))
        if unknown:
            _fail(
                "unknown budget period %s in prometheus_budget_%s_usd: use day, week or month"
                % (", ".join(unknown), scope)
            )
    groups = []
    for spec in options.get("windows") or []:
        window = spec["window"]
        group = {"name": "claude_code_window_%s" % window}
        if spec.get("interval"):
            group["interval"] = spec["interval"]
        group["rules"] = (
            _recording_rules(options.get("window_sums") or [], window)
            + _budget_rules(budgets, window)
            + _spike_rule(options, window)
            + _silent_rules(options, window)
        )
        groups.append(group)
    groups.append({"name": "claude_code_alerts", "rules": _service_rules(options)})
    return groups


class FilterModule(object):
    def filters(self):
        return {"prometheus_rule_groups": prometheus_rule_groups}
