"""Run the collection's server stack on this machine's Docker with the test
bed's stand-in images, on free ports, and remove it afterwards."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

from helpers import procs

# JVM options of the test bed's OpenSearch nodes (opensearch_java_opts).
JAVA_OPTS = "-XX:TieredStopAtLevel=1"


def stack_vars(testbed: dict, parent: Path, prefix: str, overrides: dict | None = None) -> dict:
    """Extra vars for site.yml: a unique project under parent, metrics only
    (Loki and Grafana have no image here), free loopback ports, 1 s scrapes."""
    name = f"cco-{prefix}-{uuid.uuid4().hex[:6]}"
    extra = {
        "stack_project_name": name,
        "stack_project_dir": str(Path(parent) / name),
        "stack_pull": "never",
        "stack_flavour": "none",
        "otel_collector_image": testbed["OTELCOL_IMAGE"],
        "prometheus_image": testbed["PROMETHEUS_IMAGE"],
        "alertmanager_image": testbed["ALERTMANAGER_IMAGE"],
        "jaeger_image": testbed["JAEGER_IMAGE"],
        "opensearch_image": testbed["OPENSEARCH_IMAGE"],
        "otel_collector_otlp_grpc_port": procs.free_port(),
        "otel_collector_otlp_http_port": procs.free_port(),
        "otel_collector_health_port": procs.free_port(),
        "prometheus_port": procs.free_port(),
        "jaeger_port": procs.free_port(),
        # No OpenSearch Dashboards image can be had here (its tests use a double).
        "opensearch_dashboards_enabled": False,
        # A third less CPU to start a node; the tests never need C2's peak speed.
        "opensearch_java_opts": JAVA_OPTS,
        "prometheus_scrape_interval": "1s",
        "prometheus_evaluation_interval": "1s",
    }
    extra.update(overrides or {})
    return extra


def down(extra: dict) -> None:
    """Remove the project's containers and volumes, the collector queue volume included."""
    name = extra["stack_project_name"]
    subprocess.run(["docker", "compose", "-p", name, "down", "-v"], capture_output=True, check=False)
    subprocess.run(["docker", "volume", "rm", "-f", f"{name}-otelcol-queue"], capture_output=True, check=False)


def ansible_vars(extra: dict) -> dict:
    """extra without the keys tests keep for themselves (leading underscore)."""
    return {k: v for k, v in extra.items() if not k.startswith("_")}
