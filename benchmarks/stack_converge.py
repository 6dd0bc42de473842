"""Figures for the server stack: converge time (fresh and repeated), check-mode
time, memory (RSS) of each container idle and after a burst of Claude Code
metrics, and how fast the collector takes that burst.

Runs site.yml against this machine's Docker with the test bed's stand-in
images (tests/testbed/testbed.sh up first). Prints a table; writes nothing
outside a temporary directory and removes what it started.

    .venv-test/bin/python benchmarks/stack_converge.py [--sessions 500]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import load, otlp, playbook, procs  # noqa: E402


def testbed_env() -> dict:
    cache = os.environ.get("CLAUDE_OBS_CACHE") or os.path.expanduser("~/.cache/claude-code-observability")
    env = {}
    for line in Path(cache, "testbed.env").read_text().splitlines():
        key, _sep, value = line.partition("=")
        env[key] = value
    return env


def rss(project: str) -> dict:
    out = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {
        line.split()[0].removeprefix(project + "-").removesuffix("-1"): line.split()[1]
        for line in out.splitlines()
        if line.startswith(project + "-")
    }


def timed(fn):
    t0 = time.monotonic()
    result = fn()
    return time.monotonic() - t0, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=500, help="sessions in the metric burst")
    args = parser.parse_args()
    tb = testbed_env()
    name = f"cco-bench-{uuid.uuid4().hex[:6]}"
    tmp = Path(tempfile.mkdtemp(prefix="cco-bench-"))
    extra = {
        "stack_project_name": name,
        "stack_flavour": "none",  # metrics only: Loki and Grafana have no image here
        "stack_project_dir": str(tmp / name),
        "stack_pull": "never",
        "otel_collector_image": tb["OTELCOL_IMAGE"],
        "prometheus_image": tb["PROMETHEUS_IMAGE"],
        "otel_collector_otlp_grpc_port": procs.free_port(),
        "otel_collector_otlp_http_port": procs.free_port(),
        "otel_collector_health_port": procs.free_port(),
        "prometheus_port": procs.free_port(),
    }
    rows = []
    try:
        t, _result = timed(lambda: playbook.run("site.yml", extra))
        rows.append(("converge, fresh project (images present)", f"{t:.1f} s"))
        t, (_proc, recap) = timed(lambda: playbook.run("site.yml", extra))
        rows.append(("converge, second run", f"{t:.1f} s (changed={recap['localhost']['changed']})"))
        t, _result = timed(lambda: playbook.run("site.yml", extra, "--check"))
        rows.append(("--check on the converged host", f"{t:.1f} s"))
        time.sleep(5)
        for svc, mem in rss(name).items():
            rows.append((f"memory idle: {svc}", mem))
        payloads, totals = load.generate(seed=1, users=20, machines=10, sessions=args.sessions, exports=3)
        points = sum(
            len(m["sum"]["dataPoints"]) for p in payloads for m in p["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
        )
        http = f"http://127.0.0.1:{extra['otel_collector_otlp_http_port']}"
        t, _result = timed(lambda: [otlp.post(http, "metrics", p) for p in payloads])
        rows.append(
            (f"burst: {len(payloads)} OTLP/HTTP requests, {points} points", f"{t:.1f} s ({points / t:.0f} points/s)")
        )
        prom = f"http://127.0.0.1:{extra['prometheus_port']}"
        total = "sum(sum_over_time(claude_code_cost_usage_USD[1h]))"
        t, _result = timed(
            lambda: procs.wait_for(
                lambda: abs((procs.prom_scalar(prom, total) or 0) - totals.cost) < 1e-6,
                timeout=300,
                what="burst visible in Prometheus",
            )
        )
        rows.append(("burst fully queryable in Prometheus after", f"{t:.1f} s"))
        for svc, mem in rss(name).items():
            rows.append((f"memory after burst: {svc}", mem))
    finally:
        subprocess.run(["docker", "compose", "-p", name, "down", "-v"], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", "-f", f"{name}-otelcol-queue"], capture_output=True, check=False)
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
