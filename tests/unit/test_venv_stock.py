"""The suite runs the Ansible users run: every file in the test venv's site-packages was put there by
a package pip installed (and matches that package's RECORD), and the user's venv is another one."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Run by the venv's own python: lists site-packages files no installed distribution's RECORD
# names, and RECORD entries whose bytes differ from their recorded hash.
_PROBE = r"""
import base64, hashlib, json, os, sys, sysconfig
from importlib import metadata
site = os.path.realpath(sysconfig.get_paths()["purelib"])
owned, changed = set(), []
for dist in metadata.distributions(path=[site]):
    for f in dist.files or ():
        path = os.path.realpath(os.path.join(site, f))
        owned.add(path)
        if f.hash is None or not os.path.isfile(path):
            continue
        with open(path, "rb") as fh:
            digest = base64.urlsafe_b64encode(hashlib.new(f.hash.mode, fh.read()).digest()).rstrip(b"=").decode()
        if digest != f.hash.value:
            changed.append(str(f))
foreign = []
for top, dirs, files in os.walk(site):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    for name in files:
        path = os.path.realpath(os.path.join(top, name))
        if path not in owned and not name.endswith(".pyc"):
            foreign.append(os.path.relpath(path, site))
print(json.dumps({"site": site, "foreign": sorted(foreign), "changed": sorted(changed)}))
"""


def audit(python: str) -> dict:
    proc = subprocess.run([python, "-I", "-c", _PROBE], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def test_venv() -> dict:
    return audit(sys.executable)


def test_the_test_venv_holds_only_what_pip_installed(test_venv):
    found = test_venv
    assert found["foreign"] == [], "files in %s that no installed package owns" % found["site"]
    assert found["changed"] == [], "installed files that differ from their package's RECORD"


def test_ansible_is_imported_from_the_installed_package_unpatched(test_venv):
    import ansible  # noqa: PLC0415

    site = test_venv["site"]
    assert os.path.realpath(ansible.__file__).startswith(site + os.sep)
    assert not any(name.startswith("cco_") for name in sys.modules)


def test_the_users_venv_is_another_one_and_untouched_when_present():
    make = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(ROOT), "-p", "-n", "venv"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    values = dict(
        line.split(" := ", 1) if " := " in line else line.split(" = ", 1)
        for line in make.splitlines()
        if line.startswith(("VENV ", "TEST_VENV ")) and ("=" in line)
    )
    assert values.get("VENV", "").strip() == ".venv"
    assert values.get("TEST_VENV", "").strip() == ".venv-test"
    assert Path(sys.prefix).resolve() != (ROOT / ".venv").resolve(), "the suite must not run in the user's venv"
    user = ROOT / ".venv" / "bin" / "python"
    if not user.exists():
        pytest.skip("no user venv here (make up makes .venv)")
    found = audit(str(user))
    assert found["foreign"] == [] and found["changed"] == []


def test_the_probe_sees_a_foreign_file_and_a_changed_one(tmp_path):
    """The audit itself can fail: a venv with one file added and one installed file edited."""
    venv = tmp_path / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(audit(str(venv / "bin" / "python"))["site"])
    dist = site / "demo-1.0.dist-info"
    dist.mkdir()
    (site / "demo.py").write_text("x = 1\n")
    digest = base64.urlsafe_b64encode(hashlib.sha256(b"x = 1\n").digest()).rstrip(b"=").decode()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
    (dist / "RECORD").write_text(
        f"demo.py,sha256={digest},6\ndemo-1.0.dist-info/METADATA,,\ndemo-1.0.dist-info/RECORD,,\n"
    )
    assert audit(str(venv / "bin" / "python")) == {"site": str(site.resolve()), "foreign": [], "changed": []}
    (site / "added.pth").write_text("import os\n")
    (site / "demo.py").write_text("x = 2\n")
    found = audit(str(venv / "bin" / "python"))
    assert found["foreign"] == ["added.pth"]
    assert found["changed"] == ["demo.py"]
