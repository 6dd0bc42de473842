"""Shared fixtures: the real test bed (see tests/testbed/testbed.sh)."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import procs  # noqa: E402

# Fixtures shared by several test files.
pytest_plugins = ["helpers.claude_cli"]


def _env_file() -> Path:
    cache = os.environ.get("CLAUDE_OBS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "claude-code-observability"
    )
    return Path(cache) / "testbed.env"


@pytest.fixture(scope="session")
def testbed() -> dict:
    """Paths and image names of the real components. Fails (never skips) when absent."""
    path = _env_file()
    if not path.exists():
        pytest.fail(f"test bed not set up ({path} missing): run tests/testbed/testbed.sh up (make test does)")
    env = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value
    return env


@pytest.fixture
def otelcol(testbed, tmp_path):
    """Start the built collector with a given config; yields a starter function."""

    def start(config: str, health_port: int):
        cfg = tmp_path / "otelcol.yaml"
        cfg.write_text(config)
        return procs.process(
            [testbed["OTELCOL_BIN"], "--config", str(cfg)],
            tmp_path / "otelcol.log",
            f"http://127.0.0.1:{health_port}/",
        )

    return start


@pytest.fixture
def prometheus(testbed, tmp_path):
    """Start the real Prometheus with a given config; yields a starter function."""

    def start(config: str, port: int, extra: list[str] | None = None):
        cfg = tmp_path / "prometheus.yml"
        cfg.write_text(config)
        data = tmp_path / "prom-data"
        data.mkdir(exist_ok=True)
        return procs.process(
            [
                testbed["PROMETHEUS_BIN"],
                f"--config.file={cfg}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
                *(extra or []),
            ],
            tmp_path / "prometheus.log",
            f"http://127.0.0.1:{port}/-/ready",
        )

    return start


@pytest.fixture(scope="session")
def opensearch(testbed):
    """A real single-node OpenSearch (host process, as an unprivileged user). Yields its base URL."""
    # Not under pytest's tmp dir: that is private to root, and OpenSearch must not run as root.
    base = Path(tempfile.mkdtemp(prefix="claude-obs-opensearch-"))
    conf = base / "config"
    shutil.copytree(Path(testbed["OPENSEARCH_HOME"]) / "config", conf)
    for sub in ("data", "logs"):
        (base / sub).mkdir()
    # jvm.options writes gc logs and heap dumps relative to the (read-only) home.
    jvm = conf / "jvm.options"
    jvm.write_text(jvm.read_text().replace("file=logs/", f"file={base}/logs/").replace("=data", f"={base}/data"))
    user = testbed["OPENSEARCH_USER"]
    subprocess.run(["chown", "-R", user, str(base)], check=True)
    os.chmod(base, 0o755)
    port = procs.free_port()
    argv = [
        "runuser",
        "-u",
        user,
        "--",
        "env",
        f"OPENSEARCH_JAVA_HOME={testbed['OPENSEARCH_JAVA_HOME']}",
        f"OPENSEARCH_PATH_CONF={conf}",
        "OPENSEARCH_JAVA_OPTS=-Xms512m -Xmx512m -XX:TieredStopAtLevel=1",
        str(Path(testbed["OPENSEARCH_HOME"]) / "bin" / "opensearch"),
        "-Ediscovery.type=single-node",
        f"-Ehttp.port={port}",
        "-Ehttp.host=127.0.0.1",
        f"-Etransport.port={procs.free_port()}",
        f"-Epath.data={base / 'data'}",
        f"-Epath.logs={base / 'logs'}",
    ]
    url = f"http://127.0.0.1:{port}"
    with procs.process(
        argv, base / "stdout.log", url + "/_cluster/health?wait_for_status=yellow&timeout=1s", timeout=180, cwd=base
    ):
        yield url
    shutil.rmtree(base, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """Tiers by what a test needs: `unit` (Python only, tests/unit), `testbed` (the real
    components: every test that uses the test bed fixture or lives under tests/integration)."""
    unit = ROOT / "tests" / "unit"
    for item in items:
        path = Path(str(item.fspath)).resolve()
        if unit in path.parents:
            item.add_marker(pytest.mark.unit)
        elif "testbed" in getattr(item, "fixturenames", ()) or (ROOT / "tests" / "integration") in path.parents:
            item.add_marker(pytest.mark.testbed)
    # Files that take minutes (marked slow) go first, the longest first: a long file
    # handed out last would keep one worker busy alone at the end. (--no-loadscope-reorder
    # in addopts keeps this order: xdist would hand out the files with the most tests
    # first.) The sort is stable, so each file's tests stay together and in their order.
    items.sort(key=_slow_first)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """With CCO_TEST_LOG set, append one line per test (its fixtures' setup and teardown included):
    wall seconds, CPU seconds of the worker and of the processes it waited for, and the test."""
    log = os.environ.get("CCO_TEST_LOG")
    if not log:
        yield
        return
    started, cpu = _clock()
    yield
    ended, cpu_after = _clock()
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"{ended - started:.1f}\t{cpu_after[0] - cpu[0]:.1f}\t{cpu_after[1] - cpu[1]:.1f}\t{item.nodeid}\n")


def _clock():
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return time.monotonic(), (own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime)


def _slow_first(item):
    """Sort key: slow files by their mark's seconds (about what the file takes), longest first."""
    mark = item.get_closest_marker("slow")
    return -int(mark.kwargs.get("seconds", 60)) if mark else 0
