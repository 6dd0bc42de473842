"""Label selectors of Grafana dashboard queries (PromQL and LogQL), evaluated without a server.

A selector's matchers are read from the query text, Grafana's template variables are put in the
way Grafana's Prometheus and Loki data sources do it for a regex matcher (a multi-value or
include-All variable becomes ``value`` for one selected value, ``(a|b)`` for several, each value
regex-escaped; "All" is the variable's ``allValue`` when it has one, else every option), and the
matchers are evaluated against a set of labels. Regex matchers are fully anchored, as in
Prometheus and Loki (RE2; the patterns used here mean the same in Python's ``re``).
"""

from __future__ import annotations

import re

ALL = "$__all"
_MATCHER = re.compile(r'\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_REGEX_SPECIAL = re.compile(r"[$^*{}\[\]'+?.()|]")


def selectors(expr: str) -> list[str]:
    """The text between the braces of every label selector (braces inside quoted strings do not count)."""
    out, i, quote, start = [], 0, None, None
    while i < len(expr):
        ch = expr[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in '"`':
            quote = ch
        elif ch == "{":
            start = i + 1
        elif ch == "}" and start is not None:
            out.append(expr[start:i])
            start = None
        i += 1
    return out


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw)


def matchers(selector: str) -> list[tuple[str, str, str]]:
    """(label, operator, value as written) of each matcher of one selector; the value keeps its
    string escapes, so that a variable put in is unescaped once with the text around it, as the
    server does. ValueError when a matcher does not parse."""
    out = []
    for part in (p for p in _split(selector) if p.strip()):
        m = _MATCHER.fullmatch(part)
        if not m:
            raise ValueError(f"cannot parse matcher {part!r} of {{{selector}}}")
        out.append(m.groups())
    return out


def _split(selector: str) -> list[str]:
    """Split on commas outside quoted strings."""
    parts, buf, quote, i = [], [], False, 0
    while i < len(selector):
        ch = selector[i]
        if quote and ch == "\\":
            buf.append(selector[i : i + 2])
            i += 2
            continue
        if ch == '"':
            quote = not quote
        if ch == "," and not quote:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return parts


def regex_escape(value: str) -> str:
    """Grafana's escaping of a variable value inside a regex matcher of PromQL or LogQL (the
    backslash is doubled because the result sits inside a quoted string)."""
    return _REGEX_SPECIAL.sub(lambda m: "\\\\" + m.group(0), value.replace("\\", "\\\\\\\\"))


def options(variable: dict) -> list[str]:
    """The values a custom variable offers (its options without All)."""
    return [o["value"] for o in variable.get("options", []) if o["value"] != ALL]


def interpolated(variable: dict, selected: list[str] | None = None) -> str:
    """What Grafana puts in place of $variable in a regex matcher; selected None means All."""
    if selected is None:
        if variable.get("allValue"):
            return variable["allValue"]
        selected = options(variable)
    if not selected:
        raise ValueError(f"variable {variable['name']} has no value to select")
    escaped = [regex_escape(v) for v in selected]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def substitute(text: str, values: dict[str, str]) -> str:
    """Replace $name and ${name} by values[name] (longest names first)."""
    for name in sorted(values, key=len, reverse=True):
        text = text.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    return text


def matcher_selects(op: str, pattern: str, value: str) -> bool:
    if op == "=":
        return value == pattern
    if op == "!=":
        return value != pattern
    found = re.fullmatch(pattern, value) is not None
    return found if op == "=~" else not found


def selects(selector: str, labels: dict[str, str], values: dict[str, str]) -> bool:
    """Whether the selector, with variables substituted by values, selects a series or stream with
    these labels (a missing label is the empty string, as in Prometheus and Loki)."""
    return all(
        matcher_selects(op, _unquote(substitute(raw, values)), labels.get(name, ""))
        for name, op, raw in matchers(selector)
    )


def matches_empty(op: str, raw: str, values: dict[str, str]) -> bool:
    """Whether the matcher, variables substituted, accepts the empty value (Loki refuses a stream
    selector whose matchers all do)."""
    return matcher_selects(op, _unquote(substitute(raw, values)), "")


def template_variables(dashboard: dict) -> dict[str, dict]:
    return {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}


def all_values(dashboard: dict) -> dict[str, str]:
    """Every template variable of the dashboard as Grafana puts it when All is selected."""
    return {name: interpolated(var) for name, var in template_variables(dashboard).items()}
