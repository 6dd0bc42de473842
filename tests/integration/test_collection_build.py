"""The collection as users get it: `ansible-galaxy collection build` of a checkout that a test run
has left caches in, installed into an empty collections path and run from outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from helpers import deploy

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CACHES = (".ansible/collections/junk.txt", ".pytest_cache/v/cache/lastfailed", ".ruff_cache/0.1/x", "__pycache__/x.pyc")
# What users run and read: each of these must be in the tarball.
SHIPPED = (
    "README.md",
    "COPYING",
    "CHANGELOG.rst",
    "changelogs/changelog.yaml",
    "meta/runtime.yml",
    "site.yml",
    "client.yml",
    "k8s.yml",
    "ansible.cfg",
    "requirements.txt",
    "inventories/local/hosts.yml",
    "inventories/example/hosts.yml",
    "playbooks/backup.yml",
    "playbooks/restore.yml",
    "playbooks/report.yml",
    "playbooks/status.yml",
    "playbooks/verify.yml",
    "roles/stack/tasks/main.yml",
    "roles/client/tasks/main.yml",
    "plugins/filter/stack_placement.py",
    "plugins/filter/stack_placement.yml",
    "plugins/modules/project_files.py",
    "plugins/module_utils/files.py",
    "docs/components.md",
)
# Top-level entries of the tarball: anything else is a file nobody decided to ship.
TOP_LEVEL = {
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "COPYING",
    "CHANGELOG.rst",
    "ansible.cfg",
    "requirements.txt",
    "site.yml",
    "client.yml",
    "k8s.yml",
    "changelogs",
    "docs",
    "inventories",
    "meta",
    "playbooks",
    "plugins",
    "roles",
}
# Files and directories that only develop or test the collection.
DEVELOPMENT = (
    "tests",
    "molecule",
    "benchmarks",
    ".ci",
    "Makefile",
    "pyproject.toml",
    "requirements-test.txt",
    ".ansible-lint",
    ".gitignore",
    "docs/testing.md",
    "changelogs/fragments",
    "changelogs/.plugin-cache.yaml",
    "collections",
    ".venv-test",
)

pytestmark = pytest.mark.testbed


def _checkout_with_caches(dest: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        if name.startswith("collections/"):
            continue
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(src.read_bytes())
    for cache in CACHES + tuple(f"plugins/filter/{c}" for c in CACHES if c.startswith("__")):
        (dest / cache).parent.mkdir(parents=True, exist_ok=True)
        (dest / cache).write_text("left by a test run\n")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("build")
    src = tmp / "src"
    _checkout_with_caches(src)
    proc = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", str(src), "--output-path", str(tmp / "dist")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tarball,) = (tmp / "dist").glob("claude_code-observability-*.tar.gz")
    return tmp, tarball


def test_the_built_tarball_leaves_out_caches(built):
    _tmp, tarball = built
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert "roles/stack/tasks/main.yml" in names and "plugins/filter/stack_placement.py" in names
    leaked = [n for n in names if any(part in n.split("/") for part in (".ansible", ".pytest_cache", ".ruff_cache"))]
    assert not leaked, leaked[:10]
    assert not [n for n in names if "__pycache__" in n]
    manifest = json.loads(tarfile.open(tarball).extractfile("MANIFEST.json").read())
    assert "kubernetes.core" in manifest["collection_info"]["dependencies"]


def test_the_built_tarball_holds_what_users_need_and_no_development_file(built):
    tmp, tarball = built
    src = tmp / "src"
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("MANIFEST.json").read())
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert manifest["collection_info"]["version"] == galaxy["version"]
    assert not [f for f in SHIPPED if f not in names], sorted(f for f in SHIPPED if f not in names)
    # Every role and every plugin of the checkout, whole.
    for tree in ("roles", "plugins"):
        files = {str(f.relative_to(src)) for f in (src / tree).rglob("*") if f.is_file()}
        files = {f for f in files if "__pycache__" not in f}
        assert files and not files - names, sorted(files - names)[:10]
    # The development files are in the checkout the tarball was built from, and not in the tarball.
    present = [d for d in DEVELOPMENT if (src / d).exists()]
    assert {"tests", "Makefile", "pyproject.toml", "requirements-test.txt"} <= set(present), present
    leaked = sorted(n for n in names for d in DEVELOPMENT if n == d or n.startswith(d + "/"))
    assert not leaked, leaked[:10]
    unknown = sorted({n.split("/")[0] for n in names} - TOP_LEVEL)
    assert not unknown, f"not in TOP_LEVEL (ship it there, or add it to build_ignore in galaxy.yml): {unknown}"


def _clean_env(collections: Path) -> dict:
    """No ansible.cfg or collections of the checkout: the installed copy and the packages' bundled ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    # The collections bundled with the ansible package are found on sys.path.
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_NOCOLOR="1", PATH=f"{BIN}:{env['PATH']}")
    return env


def test_the_installed_tarball_runs_site_check_outside_the_checkout(built, testbed):
    tmp, tarball = built
    collections = tmp / "collections"
    work = tmp / "elsewhere"
    work.mkdir()
    env = _clean_env(collections)
    proc = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "-p", str(collections), str(tarball)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed = collections / "ansible_collections" / "claude_code" / "observability"
    assert (installed / "site.yml").is_file(), proc.stdout + proc.stderr
    extra = deploy.ansible_vars(deploy.stack_vars(testbed, tmp, "built"))
    (work / "vars.json").write_text(json.dumps(extra))
    proc = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(installed / "inventories" / "local"),
            str(installed / "site.yml"),
            "--check",
            "-e",
            "@vars.json",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "failed=0" in proc.stdout and "changed=" in proc.stdout
    # The roles ran from the installed copy, not from a checkout.
    assert str(ROOT) not in proc.stdout
    assert not Path(extra["stack_project_dir"]).exists()  # --check wrote nothing
