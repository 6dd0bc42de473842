"""Generated Claude Code metric load: many sessions, users, machines and models.

Each session sends its cost and token counters as Claude Code does: delta
sums, several exports per session with contiguous intervals. The generator
keeps the exact totals it sent so tests can compare them with what the
backends report.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

MODELS = ("claude-opus-5-5", "claude-sonnet-5-1", "claude-haiku-5-0")
KINDS = ("input", "output", "cacheRead", "cacheCreation")


def _kv(key, value):
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


@dataclass
class Totals:
    cost_by_model: dict = field(default_factory=lambda: defaultdict(float))
    tokens_by_model_kind: dict = field(default_factory=lambda: defaultdict(int))
    cost_by_user: dict = field(default_factory=lambda: defaultdict(float))
    machines: set = field(default_factory=set)
    sessions: int = 0

    @property
    def cost(self) -> float:
        return sum(self.cost_by_model.values())


def session_exports(rng: random.Random, user: str, machine: str, exports: int, start_ns: int, totals: Totals):
    """OTLP/JSON metric payloads of one session, one per export interval."""
    session_id = str(uuid.UUID(int=rng.getrandbits(128)))
    resource = [
        _kv("service.name", "claude-code"),
        _kv("service.version", "2.1.330"),
        _kv("machine.name", machine),
        _kv("project", "load"),
        _kv("os.type", "linux"),
    ]
    totals.sessions += 1
    totals.machines.add(machine)
    payloads = []
    step = 1_000_000_000
    for i in range(exports):
        t0, t1 = start_ns + i * step, start_ns + (i + 1) * step
        base = [_kv("session.id", session_id), _kv("user.id", user), _kv("terminal.type", "load")]
        metrics = []
        if i == 0:
            metrics.append(_sum("claude_code.session.count", "", [_point(base, 1, t0, t1)]))
        model = rng.choice(MODELS)
        cost = round(rng.uniform(0.0001, 0.05), 6)
        totals.cost_by_model[model] += cost
        totals.cost_by_user[user] += cost
        metrics.append(_sum("claude_code.cost.usage", "USD", [_point([*base, _kv("model", model)], cost, t0, t1)]))
        points = []
        for kind in KINDS:
            n = rng.randint(0, 5000)
            totals.tokens_by_model_kind[(model, kind)] += n
            points.append(_point([*base, _kv("model", model), _kv("type", kind)], n, t0, t1))
        metrics.append(_sum("claude_code.token.usage", "tokens", points))
        payloads.append(export(resource, metrics, version="2.1.330"))
    return payloads


def _point(attrs, value, t0, t1):
    point = {"attributes": attrs, "startTimeUnixNano": str(t0), "timeUnixNano": str(t1)}
    if isinstance(value, int):
        point["asInt"] = str(value)
    else:
        point["asDouble"] = value
    return point


def export(resource: list, metrics: list, version: str | None = None) -> dict:
    """One OTLP/JSON metrics export of Claude Code: its resource attributes and metrics."""
    scope = {"name": "com.anthropic.claude_code", **({"version": version} if version else {})}
    return {
        "resourceMetrics": [
            {"resource": {"attributes": resource}, "scopeMetrics": [{"scope": scope, "metrics": metrics}]}
        ]
    }


def _sum(name, unit, points):
    return {"name": name, "unit": unit, "sum": {"aggregationTemporality": 1, "isMonotonic": True, "dataPoints": points}}


def generate(seed: int, users: int, machines: int, sessions: int, exports: int = 3):
    """(payloads interleaved across sessions, totals)."""
    rng = random.Random(seed)
    totals = Totals()
    start = time.time_ns() - 30 * 60 * 1_000_000_000
    per_session = []
    for s in range(sessions):
        user = f"user-{s % users}"
        machine = f"host {s % machines}, lab"  # spaces and a comma, as real names have
        per_session.append(session_exports(rng, user, machine, exports, start + s * 10**6, totals))
    # Exports of different sessions interleave, as concurrent sessions do;
    # within a session they stay in order.
    ordered = []
    for i in range(exports):
        for session in per_session:
            ordered.append(session[i])
    return ordered, totals


def to_grpc_request(payload: dict):
    """The protobuf ExportMetricsServiceRequest for an OTLP/JSON metrics payload."""
    from google.protobuf import json_format  # noqa: PLC0415
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2  # noqa: PLC0415

    return json_format.ParseDict(payload, metrics_service_pb2.ExportMetricsServiceRequest())


def send_grpc(endpoint: str, payloads: list[dict], timeout: float = 10) -> None:
    import grpc  # noqa: PLC0415
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc  # noqa: PLC0415

    with grpc.insecure_channel(endpoint) as channel:
        stub = metrics_service_pb2_grpc.MetricsServiceStub(channel)
        for payload in payloads:
            stub.Export(to_grpc_request(payload), timeout=timeout)
