"""The real metrics path on host processes: the test bed's Prometheus (OTLP
receiver on, out-of-order window, the prometheus role's rules) and one or more
real collectors configured by the otel_collector_config filter, each of which
can be restarted, killed or paused while Prometheus can be stopped and started
on the same port and data directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from helpers import procs

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.claude_code.observability.plugins.filter.otel_collector_config import (  # noqa: E402
    otel_collector_config,
)

PROMETHEUS_CONFIG = """
global:
  scrape_interval: 1s
  evaluation_interval: {evaluation_interval}
storage:
  tsdb:
    out_of_order_time_window: {ooo}
rule_files: {rules}
"""


class Prometheus:
    """The real Prometheus with its OTLP receiver; stop() and start() keep its port and data."""

    def __init__(self, testbed: dict, workdir: Path, rules: list[str] | None = None, ooo: str = "7d", evaluation="1s"):
        self.bin = testbed["PROMETHEUS_BIN"]
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = procs.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.otlp = f"{self.base}/api/v1/otlp/v1/metrics"
        (self.dir / "prometheus.yml").write_text(
            PROMETHEUS_CONFIG.format(ooo=ooo, rules=[str(r) for r in rules or []], evaluation_interval=evaluation)
        )
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        log = self.dir / f"prometheus-{self.starts}.log"
        argv = [
            self.bin,
            f"--config.file={self.dir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-otlp-receiver",
            "--web.enable-lifecycle",
            "--web.enable-admin-api",
        ]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        procs.wait_http(f"{self.base}/-/ready", timeout=60, proc=self.proc, log=log)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        return procs.prom_query(self.base, expr, at)

    def scalar(self, expr: str, at: float | None = None) -> float | None:
        return procs.prom_scalar(self.base, expr, at)

    def log_text(self) -> str:
        return "".join(p.read_text() for p in sorted(self.dir.glob("prometheus-*.log")))


class Collector:
    """A real collector configured by the otel_collector_config filter, pushing to `prometheus`."""

    def __init__(self, testbed: dict, workdir: Path, metrics_endpoint: str, **options):
        self.bin = testbed["OTELCOL_BIN"]
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ports = {k: procs.free_port() for k in ("grpc", "http", "health", "telemetry")}
        cfg = otel_collector_config(
            {
                "metrics_endpoint": metrics_endpoint,
                "queue_directory": str(self.dir / "queue"),
                "grpc_port": self.ports["grpc"],
                "http_port": self.ports["http"],
                "health_port": self.ports["health"],
                "telemetry_port": self.ports["telemetry"],
                **options,
            }
        )
        # Loopback only on the host.
        for proto in ("grpc", "http"):
            cfg["receivers"]["otlp"]["protocols"][proto]["endpoint"] = f"127.0.0.1:{self.ports[proto]}"
        cfg["extensions"]["health_check"]["endpoint"] = f"127.0.0.1:{self.ports['health']}"
        cfg["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]["host"] = "127.0.0.1"
        self.config = cfg
        (self.dir / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        self.http = f"http://127.0.0.1:{self.ports['http']}"
        self.grpc = f"127.0.0.1:{self.ports['grpc']}"
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        log = self.dir / f"otelcol-{self.starts}.log"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [self.bin, "--config", str(self.dir / "config.yaml")], stdout=out, stderr=subprocess.STDOUT
            )
        procs.wait_http(f"http://127.0.0.1:{self.ports['health']}/", timeout=60, proc=self.proc, log=log)
        return self

    def stop(self):
        """A clean stop (SIGTERM), as docker stop and compose recreate do."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None

    def kill(self):
        """SIGKILL: no shutdown, no flush."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def telemetry(self) -> str:
        return procs.http_text(f"http://127.0.0.1:{self.ports['telemetry']}/metrics")

    def queue_size(self) -> float:
        """Requests waiting in the metrics exporter's queue."""
        total = 0.0
        for line in self.telemetry().splitlines():
            if line.startswith("otelcol_exporter_queue_size") and 'exporter="otlphttp/prometheus"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    def log_text(self) -> str:
        return "".join(p.read_text() for p in sorted(self.dir.glob("otelcol-*.log")))


def wait_value(prom: Prometheus, expr: str, want: float, timeout: float = 60, tol: float = 1e-9) -> float:
    """Wait until an instant query's single value equals `want` within `tol`; fail with the last answer."""
    last = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = prom.scalar(expr)
        if last is not None and abs(last - want) <= tol:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{expr} = {last}, expected {want} (within {tol})")
