"""The real Claude Code CLI of the pinned version, from the npm registry (cached)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CLI_VERSION = "2.1.330"  # the version the fixtures under shared/fixtures were captured with


def _cache() -> Path:
    base = os.environ.get("CLAUDE_OBS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "claude-code-observability"
    )
    return Path(base) / f"claude-cli-{CLI_VERSION}"


def _install(cache: Path, native: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed to install the Claude Code CLI from the npm registry (apt-get install npm)")
    proc = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache), f"@anthropic-ai/claude-code@{CLI_VERSION}"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0 or not native.exists():
        pytest.fail(f"npm install of @anthropic-ai/claude-code@{CLI_VERSION} failed:\n{proc.stdout}\n{proc.stderr}")


@pytest.fixture(scope="session")
def claude_bin():
    """The native claude binary of the pinned version, installed from the npm registry once and
    cached; linked into a directory every local user may enter."""
    cache = _cache()
    native = cache / "node_modules" / "@anthropic-ai" / "claude-code-linux-x64" / "claude"
    cache.mkdir(parents=True, exist_ok=True)
    # Parallel test workers share the cache: one installs, the others wait for it.
    with open(cache.parent / f"{cache.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not native.exists():
            _install(cache, native)
    version = subprocess.run([str(native), "--version"], capture_output=True, text=True, timeout=60, check=False).stdout
    assert version.startswith(CLI_VERSION), version
    shared = Path(tempfile.mkdtemp(prefix="claude-obs-cli-"))
    os.chmod(shared, 0o755)
    exe = shared / "claude"
    try:
        os.link(native, exe)
    except OSError:
        shutil.copy2(native, exe)
    os.chmod(exe, 0o755)
    yield exe
    shutil.rmtree(shared, ignore_errors=True)
