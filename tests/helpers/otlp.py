"""Load the captured Claude Code OTLP/JSON payloads and send them to a collector."""

from __future__ import annotations

import copy
import json
import time
import urllib.request
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "claude-code-2.1.330"
# Captures of this collection's own (tests/fixtures/capture_*.py), beside the shared ones.
LOCAL_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "claude-code-2.1.330"
SIGNAL_PATHS = {"metrics": "/v1/metrics", "logs": "/v1/logs", "traces": "/v1/traces"}
_TIME_KEYS = ("timeUnixNano", "startTimeUnixNano", "observedTimeUnixNano", "endTimeUnixNano")


def fixture_dir() -> Path:
    if not FIXTURES.is_dir():
        raise FileNotFoundError(f"fixtures not found at {FIXTURES}: shared/ must sit beside the checkout")
    return FIXTURES


def signal_of(path: Path) -> str:
    for signal in SIGNAL_PATHS:
        if path.stem.endswith(signal):
            return signal
    raise ValueError(f"cannot tell the signal of {path.name}")


def session_files(session: str) -> list[Path]:
    local = LOCAL_FIXTURES / session
    return sorted((local if local.is_dir() else fixture_dir() / session).glob("*.json"))


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def attr_value(value: dict):
    """Decode one OTLP/JSON AnyValue."""
    ((kind, raw),) = value.items()
    if kind == "intValue":
        return int(raw)
    if kind == "doubleValue":
        return float(raw)
    if kind == "arrayValue":
        return [attr_value(v) for v in raw.get("values", [])]
    if kind == "kvlistValue":
        return {kv["key"]: attr_value(kv["value"]) for kv in raw.get("values", [])}
    return raw


def attrs(items: list[dict]) -> dict:
    return {a["key"]: attr_value(a["value"]) for a in items}


def _walk(node, fn):
    if isinstance(node, dict):
        fn(node)
        for v in node.values():
            _walk(v, fn)
    elif isinstance(node, list):
        for v in node:
            _walk(v, fn)


def earliest_time(payload: dict) -> int:
    found = []

    def grab(node):
        for key in _TIME_KEYS:
            if key in node and int(node[key]) > 0:
                found.append(int(node[key]))

    _walk(payload, grab)
    return min(found)


def shifted(payload: dict, offset_ns: int) -> dict:
    """Copy of payload with every timestamp moved by offset_ns (keeps intervals)."""
    out = copy.deepcopy(payload)

    def move(node):
        for key in _TIME_KEYS:
            if key in node and int(node[key]) > 0:
                node[key] = str(int(node[key]) + offset_ns)

    _walk(out, move)
    return out


def session_payloads(session: str, now_ns: int | None = None) -> list[tuple[str, dict]]:
    """(signal, payload) for every file of a captured session, moved so it ends just before now."""
    files = session_files(session)
    payloads = [(signal_of(f), load(f)) for f in files]
    start = min(earliest_time(payload) for _signal, payload in payloads)
    now_ns = now_ns or time.time_ns()
    offset = now_ns - 60_000_000_000 - start
    return [(s, shifted(p, offset)) for s, p in payloads]


def post(endpoint: str, signal: str, payload: dict, headers: dict | None = None, timeout: float = 10) -> int:
    req = urllib.request.Request(
        endpoint.rstrip("/") + SIGNAL_PATHS[signal],
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status


def log_records(payload: dict):
    for rl in payload.get("resourceLogs", []):
        res = attrs(rl.get("resource", {}).get("attributes", []))
        for sl in rl.get("scopeLogs", []):
            for rec in sl.get("logRecords", []):
                yield res, rec, attrs(rec.get("attributes", []))


def events(session: str, name: str) -> list[dict]:
    """Attributes of every event `name` (without the claude_code. prefix) in a session."""
    out = []
    for f in session_files(session):
        if signal_of(f) != "logs":
            continue
        for _resource, _record, a in log_records(load(f)):
            if a.get("event.name") == name:
                out.append(a)
    return out


def _loki_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def loki_records(sessions) -> list[dict]:
    """Every captured event of the sessions as Loki holds it: resource and record attributes,
    dots in names turned into underscores, values as text."""
    out = []
    for session in sessions:
        for path in session_files(session):
            if signal_of(path) != "logs":
                continue
            for resource, _record, attrs in log_records(load(path)):
                out.append({k.replace(".", "_"): _loki_text(v) for k, v in {**resource, **attrs}.items()})
    return out
