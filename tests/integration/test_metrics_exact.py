"""Totals that survive restarts: the real collector (configured by the role's
filter) pushing to the real Prometheus 3.5 of the test bed, through a
collector restart, a SIGKILL under load, a Prometheus outage, an idle
session, two collectors, and replayed sends. Every total is compared with
what was sent, to 1e-9."""

from __future__ import annotations

import math
import random
import threading
import time
import urllib.error
import uuid

import pytest
from helpers import load, metrics_path, otlp

pytestmark = pytest.mark.testbed

NS = 1_000_000_000


def cost_export(session: str, value: float, t_ns: int, user: str = "u1", model: str = "claude-sonnet-5-1") -> dict:
    base = [load._kv("session.id", session), load._kv("user.id", user), load._kv("model", model)]
    return {
        "resourceMetrics": [
            {
                "resource": {"attributes": [load._kv("service.name", "claude-code"), load._kv("machine.name", "box")]},
                "scopeMetrics": [
                    {
                        "scope": {"name": "com.anthropic.claude_code"},
                        "metrics": [
                            load._sum("claude_code.cost.usage", "USD", [load._point(base, value, t_ns - NS, t_ns)])
                        ],
                    }
                ],
            }
        ]
    }


def session_cost(prom, session: str) -> str:
    return f'sum(sum_over_time(claude_code_cost_usage_USD{{session_id="{session}"}}[1h]))'


@pytest.fixture
def path(testbed, tmp_path):
    prom = metrics_path.Prometheus(testbed, tmp_path / "prom").start()
    collectors = []

    def collector(**options):
        c = metrics_path.Collector(testbed, tmp_path / f"otelcol-{len(collectors)}", prom.otlp, **options).start()
        collectors.append(c)
        return c

    yield prom, collector
    for c in collectors:
        c.kill()
    prom.stop()


def test_collector_restart_between_two_exports_loses_nothing(path):
    # The reproduction: 0.01 USD, collector restart, 0.02 USD more of the same session.
    prom, collector = path
    col = collector()
    session = str(uuid.uuid4())
    now = time.time_ns()
    assert otlp.post(col.http, "metrics", cost_export(session, 0.01, now - 30 * NS)) == 200
    metrics_path.wait_value(prom, session_cost(prom, session), 0.01)
    col.restart()
    assert otlp.post(col.http, "metrics", cost_export(session, 0.02, now - 20 * NS)) == 200
    metrics_path.wait_value(prom, session_cost(prom, session), 0.03)
    # Any window that holds both exports says the same; one that holds only the second says 0.02.
    assert (
        abs(prom.scalar(f'sum(sum_over_time(claude_code_cost_usage_USD{{session_id="{session}"}}[25s]))') - 0.02) < 1e-9
    )


def test_idle_session_longer_than_any_expiry_continues_exactly(path):
    prom, collector = path
    # The only state the collector keeps (for cumulative senders) expires after 1 s here.
    col = collector(cumulative_max_staleness="1s")
    session = str(uuid.uuid4())
    t0 = time.time_ns()
    assert otlp.post(col.http, "metrics", cost_export(session, 0.25, t0 - 10 * NS)) == 200
    metrics_path.wait_value(prom, session_cost(prom, session), 0.25)
    time.sleep(3)
    assert otlp.post(col.http, "metrics", cost_export(session, 0.125, time.time_ns())) == 200
    metrics_path.wait_value(prom, session_cost(prom, session), 0.375)


def test_replayed_and_duplicated_sends_count_once(path):
    """A client that retries, a queue that replays, and two collectors behind one address all
    deliver the same sample: it is stored once."""
    prom, collector = path
    a, b = collector(), collector()
    session = str(uuid.uuid4())
    now = time.time_ns()
    exports = [cost_export(session, 0.001 * (i + 1), now - (40 - i) * NS) for i in range(10)]
    want = math.fsum(0.001 * (i + 1) for i in range(10))
    # Every export to both collectors, the even ones twice more, out of order.
    for payload in exports + exports[::-2]:
        assert otlp.post(a.http, "metrics", payload) == 200
    for payload in exports[::-1] + exports[::2]:
        assert otlp.post(b.http, "metrics", payload) == 200
    metrics_path.wait_value(prom, session_cost(prom, session), want)
    time.sleep(2)  # nothing more arrives later
    assert abs(prom.scalar(session_cost(prom, session)) - want) < 1e-9
    assert prom.scalar(f'count(count_over_time(claude_code_cost_usage_USD{{session_id="{session}"}}[1h]))') == 1
    assert prom.scalar(f'sum(count_over_time(claude_code_cost_usage_USD{{session_id="{session}"}}[1h]))') == 10


class Sender:
    """Concurrent sessions exporting like Claude Code's SDK: each export is retried until the
    collector answers 200, so an export in flight when the collector dies is sent again."""

    def __init__(self, endpoints: list[str], sessions: int, exports: int, seed: int):
        self.rng = random.Random(seed)
        self.endpoints = endpoints
        start = time.time_ns() - (exports + 5) * NS
        self.plan = []
        self.expected = 0.0
        values = []
        for s in range(sessions):
            sid = str(uuid.UUID(int=self.rng.getrandbits(128)))
            for i in range(exports):
                v = round(self.rng.uniform(0.0001, 0.02), 6)
                values.append(v)
                self.plan.append((i, cost_export(sid, v, start + i * NS + s * 1000, user=f"user-{s % 5}")))
        self.expected = math.fsum(values)
        self.plan.sort(key=lambda p: p[0])  # export rounds interleave sessions
        self.retries = 0
        self.errors = []

    def run(self, pace: float = 0.0):
        def worker(items):
            for n, (_i, payload) in enumerate(items):
                endpoint = self.endpoints[n % len(self.endpoints)]
                for _attempt in range(600):
                    try:
                        if otlp.post(endpoint, "metrics", payload, timeout=5) == 200:
                            break
                    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                        self.retries += 1
                        time.sleep(0.2)
                else:
                    self.errors.append("gave up")
                if pace:
                    time.sleep(pace)

        threads = [threading.Thread(target=worker, args=(self.plan[k::4],)) for k in range(4)]
        for t in threads:
            t.start()
        return threads


@pytest.mark.slow(seconds=150)
def test_sigkill_under_load_loses_nothing_and_counts_nothing_twice(path):
    prom, collector = path
    col = collector()
    sender = Sender([col.http], sessions=60, exports=10, seed=7)
    threads = sender.run(pace=0.005)
    time.sleep(1.0)
    col.kill()
    time.sleep(1.0)
    col.start()
    time.sleep(0.5)
    col.kill()
    col.start()
    for t in threads:
        t.join(timeout=300)
    assert not sender.errors
    assert sender.retries > 0, "the kills happened while nothing was being sent"
    metrics_path.wait_value(prom, "sum(sum_over_time(claude_code_cost_usage_USD[1h]))", sender.expected, timeout=90)
    assert prom.scalar("sum(count_over_time(claude_code_cost_usage_USD[1h]))") == 600


@pytest.mark.slow(seconds=150)
def test_prometheus_down_60s_under_load_loses_nothing(path):
    prom, collector = path
    col = collector()
    sender = Sender([col.http], sessions=40, exports=15, seed=9)
    prom.stop()
    threads = sender.run(pace=0.1)
    time.sleep(60)
    # Everything sent meanwhile was accepted by the collector and waits in its queue on disk.
    assert col.queue_size() > 0
    for t in threads:
        t.join(timeout=300)
    assert not sender.errors
    prom.start()
    metrics_path.wait_value(prom, "sum(sum_over_time(claude_code_cost_usage_USD[1h]))", sender.expected, timeout=120)
    assert prom.scalar("sum(count_over_time(claude_code_cost_usage_USD[1h]))") == 600


@pytest.mark.slow(seconds=150)
def test_queue_on_disk_survives_a_kill_while_prometheus_is_down(path):
    prom, collector = path
    col = collector()
    sender = Sender([col.http], sessions=20, exports=5, seed=3)
    prom.stop()
    for t in sender.run():
        t.join(timeout=120)
    assert col.queue_size() > 0
    col.kill()  # what was accepted is on disk, not in the process
    col.start()
    prom.start()
    metrics_path.wait_value(prom, "sum(sum_over_time(claude_code_cost_usage_USD[1h]))", sender.expected, timeout=120)
    assert prom.scalar("sum(count_over_time(claude_code_cost_usage_USD[1h]))") == 100


def test_two_collectors_sharing_clients_and_a_rolling_restart(path):
    prom, collector = path
    a, b = collector(), collector()
    sender = Sender([a.http, b.http], sessions=30, exports=8, seed=5)
    threads = sender.run(pace=0.01)
    time.sleep(0.5)
    a.restart()  # a rolling upgrade: one at a time
    b.restart()
    for t in threads:
        t.join(timeout=300)
    assert not sender.errors
    metrics_path.wait_value(prom, "sum(sum_over_time(claude_code_cost_usage_USD[1h]))", sender.expected, timeout=90)
    by_user = prom.query("sum by (user_id) (sum_over_time(claude_code_cost_usage_USD[1h]))")
    assert len(by_user) == 5


def test_cumulative_sender_is_counted_once_per_increment(path):
    """A client that chose cumulative temporality: its increments become the same samples."""
    prom, collector = path
    col = collector()
    # The client process started after the collector (a new session): its first value counts.
    start = time.time_ns()
    time.sleep(4)
    session = str(uuid.uuid4())
    values = [0.5, 0.75, 1.25]
    for i, v in enumerate(values):
        payload = cost_export(session, v, start + (i + 1) * NS)
        metric = payload["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]
        metric["sum"]["aggregationTemporality"] = 2
        metric["sum"]["dataPoints"][0]["startTimeUnixNano"] = str(start)
        assert otlp.post(col.http, "metrics", payload) == 200
    metrics_path.wait_value(prom, session_cost(prom, session), 1.25)
