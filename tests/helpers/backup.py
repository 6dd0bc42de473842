"""What the backup and restore tests share: the captured sessions' totals, how to wait until
everything sent is stored, and how to read an archive and a compose project."""

from __future__ import annotations

import hashlib
import json
import math
import ssl
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

from helpers import otlp, procs

TOKEN = "backup-test-token=1"
SESSIONS = ("tool-session", "error-session")
TOTAL = "sum(sum_over_time(claude_code_cost_usage_USD[1h]))"
BY_SESSION = "sum by (session_id) (sum_over_time(claude_code_cost_usage_USD[1h]))"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prom_url(extra: dict) -> str:
    return f"http://127.0.0.1:{extra['prometheus_port']}"


def totals(extra: dict, at: float) -> dict:
    """The total and the total of each session, at one time."""
    prom = prom_url(extra)
    return {
        "total": procs.prom_scalar(prom, TOTAL, at),
        "sessions": {s["metric"]["session_id"]: float(s["value"][1]) for s in procs.prom_query(prom, BY_SESSION, at)},
    }


def settled(read, pause: float = 2, timeout: float = 60):
    """Wait until two reads a pause apart agree (everything sent is stored)."""
    deadline = time.monotonic() + timeout
    last = read()
    while time.monotonic() < deadline:
        time.sleep(pause)
        now = read()
        if now == last:
            return now
        last = now
    raise TimeoutError(f"still changing after {timeout}s: {last!r}")


def assert_same_totals(before: dict, after: dict) -> None:
    assert after["total"] is not None and abs(after["total"] - before["total"]) <= 1e-9, (before, after)
    assert set(after["sessions"]) == set(before["sessions"]), (before, after)
    for session, value in before["sessions"].items():
        assert abs(after["sessions"][session] - value) <= 1e-9, (session, before, after)


def captured() -> list[tuple[str, dict]]:
    return [item for session in SESSIONS for item in otlp.session_payloads(session)]


def captured_cost() -> float:
    """What the captured sessions cost: the sum of their api_request events, as their cost metric counts."""
    return math.fsum(float(e["cost_usd"]) for session in SESSIONS for e in otlp.events(session, "api_request"))


def send_tls(extra: dict, ca: Path, payloads: list[tuple[str, dict]]) -> None:
    """OTLP/HTTP with TLS and the bearer token, as a configured client sends."""
    ctx = ssl.create_default_context(cafile=str(ca))
    base = f"https://127.0.0.1:{extra['otel_collector_otlp_http_port']}"
    for signal, payload in payloads:
        req = urllib.request.Request(
            base + otlp.SIGNAL_PATHS[signal],
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
            method="POST",
        )
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            assert resp.status == 200


def project_state(name: str) -> tuple[str, str]:
    """Containers and compose volumes of a project."""
    containers = subprocess.run(
        ["docker", "compose", "-p", name, "ps", "--all", "--quiet"], capture_output=True, text=True, check=True
    ).stdout.strip()
    volumes = subprocess.run(
        ["docker", "volume", "ls", "--quiet", "--filter", f"label=com.docker.compose.project={name}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return containers, volumes


def archive(backup_dir: Path) -> Path:
    archives = sorted(backup_dir.glob("*.tar.gz"))
    assert len(archives) == 1, archives
    return archives[0]


def check_manifest(archive: Path) -> dict:
    """The manifest names every other file of the archive with its sha256."""
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}
        manifest = json.loads(tar.extractfile(members.pop("manifest.json")).read())
        hashes = {name: hashlib.sha256(tar.extractfile(m).read()).hexdigest() for name, m in members.items()}
    assert manifest["format"] == "claude_code.observability/backup" and manifest["format_version"] == 1
    assert manifest["files"] == hashes
    return manifest
