"""The metrics path before and after, measured in one run on the test bed's real collector and
Prometheus 3.5 (host processes):

- before: the collector turns deltas into cumulative counters (deltatocumulative) and Prometheus
  scrapes its prometheus exporter every 15 s (the design up to this release);
- after: the collector pushes each delta as one sample to Prometheus' OTLP receiver through a
  persisted queue (roles/otel_collector, plugins/filter/otel_collector_config.py).

Prints, for each: series per session and samples stored for a typical one-hour session,
collector and Prometheus RSS with 100 and 1,000 concurrent sessions, and the time from an export
to a total that includes it (p50/p95).

    tests/testbed/testbed.sh up && .venv-test/bin/python benchmarks/metrics_path.py [--probes 12]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "collections"))

from helpers import load, metrics_path, otlp, procs  # noqa: E402

NS = 1_000_000_000
SCRAPE = 15  # s, the shipped scrape interval of the earlier design
EXPIRATION_H = 2  # h, its otel_collector_series_expiration default
EXPORT_INTERVAL = 60  # s, client_metric_export_interval default
SESSION_H = 1


def testbed() -> dict:
    cache = os.environ.get("CLAUDE_OBS_CACHE") or os.path.expanduser("~/.cache/claude-code-observability")
    env = {}
    for line in (Path(cache) / "testbed.env").read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            env[k] = v
    return env


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def typical_export(session: str, user: str, i: int, t_ns: int) -> dict:
    """One export of an interactive session: cost, four token kinds, two active-time kinds, and the
    session count on the first export (what Claude Code sends in a minute of use)."""
    base = [load._kv("session.id", session), load._kv("user.id", user), load._kv("terminal.type", "bench")]
    model = [*base, load._kv("model", "claude-sonnet-5-1")]
    metrics = [
        load._sum("claude_code.cost.usage", "USD", [load._point(model, 0.0123, t_ns - NS, t_ns)]),
        load._sum(
            "claude_code.token.usage",
            "tokens",
            [load._point([*model, load._kv("type", k)], 100, t_ns - NS, t_ns) for k in load.KINDS],
        ),
        load._sum(
            "claude_code.active_time.total",
            "s",
            [load._point([*base, load._kv("type", k)], 1.5, t_ns - NS, t_ns) for k in ("cli", "user")],
        ),
    ]
    if i == 0:
        metrics.append(load._sum("claude_code.session.count", "", [load._point(base, 1, t_ns - NS, t_ns)]))
    resource = [load._kv("service.name", "claude-code"), load._kv("machine.name", "bench"), load._kv("project", "b")]
    return {
        "resourceMetrics": [
            {"resource": {"attributes": resource}, "scopeMetrics": [{"scope": {"name": "cc"}, "metrics": metrics}]}
        ]
    }


BEFORE_COLLECTOR = {
    "receivers": {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:{http}"}}}},
    "processors": {
        "memory_limiter": {"check_interval": "1s", "limit_mib": 409, "spike_limit_mib": 102},
        "transform/type_to_kind": {
            "error_mode": "ignore",
            "metric_statements": [
                {
                    "context": "datapoint",
                    "statements": [
                        'set(attributes["kind"], attributes["type"]) where attributes["type"] != nil',
                        'delete_key(attributes, "type")',
                    ],
                }
            ],
        },
        "deltatocumulative": {"max_stale": f"{EXPIRATION_H}h"},
        "batch": {"timeout": "1s", "send_batch_size": 1024},
    },
    "exporters": {
        "prometheus": {
            "endpoint": "127.0.0.1:{exporter}",
            "metric_expiration": f"{EXPIRATION_H}h",
            "resource_to_telemetry_conversion": {"enabled": True},
        }
    },
    "extensions": {"health_check": {"endpoint": "127.0.0.1:{health}"}},
    "service": {
        "extensions": ["health_check"],
        "telemetry": {"metrics": {"level": "none"}},
        "pipelines": {
            "metrics": {
                "receivers": ["otlp"],
                "processors": ["memory_limiter", "transform/type_to_kind", "deltatocumulative", "batch"],
                "exporters": ["prometheus"],
            }
        },
    },
}


class Before:
    name = "before (deltatocumulative, scraped every 15 s)"

    def __init__(self, tb, work: Path):
        self.work = work
        self.ports = {k: procs.free_port() for k in ("http", "exporter", "health", "prom")}
        cfg = json.loads(json.dumps(BEFORE_COLLECTOR).replace("{http}", str(self.ports["http"])))
        cfg = json.loads(
            json.dumps(cfg)
            .replace("{exporter}", str(self.ports["exporter"]))
            .replace("{health}", str(self.ports["health"]))
        )
        (work / "otelcol.yaml").write_text(yaml.safe_dump(cfg))
        (work / "prom.yml").write_text(
            f"global: {{scrape_interval: {SCRAPE}s}}\nscrape_configs:\n  - job_name: claude-code\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{self.ports['exporter']}']}}]\n"
        )
        self.col = subprocess.Popen(
            [tb["OTELCOL_BIN"], "--config", str(work / "otelcol.yaml")],
            stdout=open(work / "otelcol.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        procs.wait_http(f"http://127.0.0.1:{self.ports['health']}/")
        self.prom = subprocess.Popen(
            [
                tb["PROMETHEUS_BIN"],
                f"--config.file={work / 'prom.yml'}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.ports['prom']}",
            ],
            stdout=open(work / "prom.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{self.ports['prom']}"
        procs.wait_http(self.base + "/-/ready")
        self.http = f"http://127.0.0.1:{self.ports['http']}"
        self.cost_total = "sum(claude_code_cost_usage_USD_total{{session_id='{s}'}})"
        self.series_of = "count({{session_id='{s}'}})"

    def pids(self):
        return self.col.pid, self.prom.pid

    def stop(self):
        for p in (self.col, self.prom):
            p.terminate()
            p.wait()


class After:
    name = "after (one sample per delta, pushed to the OTLP receiver)"

    def __init__(self, tb, work: Path):
        self.p = metrics_path.Prometheus(tb, work / "prom").start()
        self.c = metrics_path.Collector(tb, work / "otelcol", self.p.otlp).start()
        self.base = self.p.base
        self.http = self.c.http
        self.cost_total = "sum(sum_over_time(claude_code_cost_usage_USD{{session_id='{s}'}}[1h]))"
        self.series_of = "count(count_over_time({{session_id='{s}'}}[1h]))"

    def pids(self):
        return self.c.proc.pid, self.p.proc.pid

    def stop(self):
        self.c.kill()
        self.p.stop()


def series_per_session(path) -> int:
    session = str(uuid.uuid4())
    now = time.time_ns()
    for i in range(3):
        otlp.post(path.http, "metrics", typical_export(session, "u", i, now - (10 - i) * NS))
    expr = path.series_of.format(s=session)
    return int(procs.wait_for(lambda: procs.prom_scalar(path.base, expr), timeout=60, what=expr))


def load_sessions(path, sessions: int, exports: int = 3):
    now = time.time_ns()
    payloads = [
        typical_export(f"load-{sessions}-{s}", f"user-{s % 20}", i, now - (exports - i) * NS - s * 1000)
        for s in range(sessions)
        for i in range(exports)
    ]

    def send(part):
        for p in part:
            otlp.post(path.http, "metrics", p)

    threads = [threading.Thread(target=send, args=(payloads[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(SCRAPE + 2)  # the earlier design only stores at the next scrape
    col, prom = path.pids()
    return rss_mib(col), rss_mib(prom)


def latency(path, probes: int) -> list[float]:
    out = []
    for _probe in range(probes):
        session = str(uuid.uuid4())
        t0 = time.monotonic()
        otlp.post(path.http, "metrics", typical_export(session, "lat", 0, time.time_ns()))
        expr = path.cost_total.format(s=session)
        procs.wait_for(lambda expr=expr: procs.prom_scalar(path.base, expr), timeout=60, interval=0.05, what=expr)
        out.append(time.monotonic() - t0)
    return out


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probes", type=int, default=12)
    args = parser.parse_args()
    tb = testbed()
    rows = {}
    for kind in (Before, After):
        with tempfile.TemporaryDirectory() as tmp:
            path = kind(tb, Path(tmp))
            try:
                series = series_per_session(path)
                exports = SESSION_H * 3600 // EXPORT_INTERVAL
                if kind is Before:
                    # Every series is scraped while the session lasts and until it expires.
                    samples = series * (SESSION_H + EXPIRATION_H) * 3600 // SCRAPE
                else:
                    # One sample per series per export; the session count only once.
                    samples = (series - 1) * exports + 1
                rss100 = load_sessions(path, 100)
                rss1000 = load_sessions(path, 1000)
                lat = latency(path, args.probes)
                rows[kind.name] = {
                    "series per session": series,
                    f"samples stored, {SESSION_H} h session exporting every {EXPORT_INTERVAL} s": samples,
                    "collector RSS, 100 sessions (MiB)": round(rss100[0], 1),
                    "Prometheus RSS, 100 sessions (MiB)": round(rss100[1], 1),
                    "collector RSS, +1,000 sessions (MiB)": round(rss1000[0], 1),
                    "Prometheus RSS, +1,000 sessions (MiB)": round(rss1000[1], 1),
                    "emit to queryable p50 (s)": round(statistics.median(lat), 2),
                    "emit to queryable p95 (s)": round(pct(lat, 95), 2),
                }
            finally:
                path.stop()
    names = list(rows)
    width = max(len(k) for k in rows[names[0]])
    print(f"{'':{width}}  " + "  |  ".join(names))
    for key in rows[names[0]]:
        before, after = rows[names[0]][key], rows[names[1]][key]
        ratio = f"  (after/before {after / before:.2f})" if before else ""
        print(f"{key:{width}}  {before!s:>12}  |  {after!s:>12}{ratio}")


if __name__ == "__main__":
    main()
