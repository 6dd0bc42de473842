"""Start real servers from the test bed on free loopback ports and wait for them."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, never the same one twice in this process: the kernel may give a
    port it just gave again once its socket is closed, and one stack's two services would collide."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def http_json(url: str, method: str = "GET", body=None, timeout: float = 10, headers: dict | None = None, context=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def http_text(url: str, timeout: float = 10) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


def wait_http(url: str, timeout: float = 60, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status < 500:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.25)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise TimeoutError(f"{url} did not answer within {timeout}s ({last}):\n{tail}")


@contextlib.contextmanager
def process(argv: list[str], log: Path, ready_url: str, timeout: float = 60, env: dict | None = None, cwd=None):
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=cwd)
    try:
        wait_http(ready_url, timeout=timeout, proc=proc, log=log)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def login(project_dir, component: str = "prometheus", user: str = "claude-code") -> dict:
    """How a test logs in to a component behind basic auth and TLS (its web_security):
    the password and the CA kept under its host's project dir."""
    project = Path(project_dir)
    password = (project / component / "secrets" / "web-password").read_text()
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {
        "headers": {"Authorization": f"Basic {token}"},
        "context": ssl.create_default_context(cafile=str(project / "pki" / "ca.crt")),
    }


def prom_query(base: str, expr: str, at: float | None = None, auth: dict | None = None) -> list[dict]:
    params = {"query": expr}
    if at is not None:
        params["time"] = str(at)
    res = http_json(f"{base}/api/v1/query?{urllib.parse.urlencode(params)}", **(auth or {}))
    if res.get("status") != "success":
        raise AssertionError(f"query {expr!r} failed: {res}")
    return res["data"]["result"]


def prom_scalar(base: str, expr: str, at: float | None = None, auth: dict | None = None) -> float | None:
    result = prom_query(base, expr, at, auth)
    if not result:
        return None
    assert len(result) == 1, f"{expr} returned {len(result)} series"
    return float(result[0]["value"][1])


def wait_for(fn, timeout: float = 60, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"{what} not met within {timeout}s (last: {last!r})")
