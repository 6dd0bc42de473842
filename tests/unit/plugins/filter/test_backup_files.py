"""The secret files of backup.yml and restore.yml (plugins/filter/backup_files.py): found in one find
run, copied in one project_files run, into the archive and back with the recorded mode and owner."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import backup_files as bf  # noqa: E402

pytestmark = pytest.mark.unit

BASE = "/opt/cco"
WANTED = ["grafana/admin_password", "otel-collector/pki/ca.key", "otel-collector/secrets/bearer_token"]


def _found(*rels, checksum=False):
    return [
        {"path": f"{BASE}/{rel}", "mode": "0600", "uid": 0, "gid": 1000 + i}
        | ({"checksum": f"sum{i}"} if checksum else {})
        for i, rel in enumerate(rels)
    ]


def test_only_the_wanted_files_in_the_wanted_order():
    found = _found(
        "otel-collector/secrets/bearer_token",
        ".last-good/otel-collector/pki/ca.key",  # the rollback copy is not a secret in place
        "otel-collector/pki/ca.key",
        "otel-collector/pki/ca.key.bak",
    )
    got = bf.backup_secrets(found, BASE + "/", WANTED)
    assert got == [
        {"path": "otel-collector/pki/ca.key", "file": "files/otel-collector/pki/ca.key", "mode": "0600", "uid": 0,
         "gid": 1002},
        {"path": "otel-collector/secrets/bearer_token", "file": "files/otel-collector/secrets/bearer_token",
         "mode": "0600", "uid": 0, "gid": 1000},
    ]  # fmt: skip


def test_checksums_are_kept_when_find_computed_them():
    got = bf.backup_secrets(_found("grafana/admin_password", checksum=True), BASE, WANTED)
    assert [s["checksum"] for s in got] == ["sum0"]
    assert bf.backup_secrets([], BASE, WANTED) == []


def test_a_backup_copies_into_the_archive_private():
    secrets = bf.backup_secrets(_found("otel-collector/pki/ca.key", "otel-collector/pki/ca.crt"), BASE, WANTED[1:])
    assert bf.backup_copies(secrets, BASE, "/var/backups/.stage") == [
        {"path": "/var/backups/.stage/files/otel-collector/pki", "state": "directory", "mode": "0700"},
        {"path": "/var/backups/.stage/files/otel-collector/pki/ca.key", "src": f"{BASE}/otel-collector/pki/ca.key",
         "mode": "0600", "secret": True},
    ]  # fmt: skip


def test_a_restore_puts_each_file_back_with_its_mode_and_owner():
    manifest = [
        {"path": "grafana/admin_password", "file": "files/grafana/admin_password", "mode": "0640", "uid": 472,
         "gid": 0},
        {"path": "otel-collector/pki/ca.key", "file": "files/otel-collector/pki/ca.key", "mode": "0600", "uid": 0,
         "gid": 0},
        {"path": "otel-collector/pki/ca.crt", "file": "files/otel-collector/pki/ca.crt", "mode": "0644", "uid": 0,
         "gid": 0},
    ]  # fmt: skip
    entries = bf.backup_copies(manifest, "/var/backups/.restore-x", "/srv/new", restore=True)
    assert entries[:2] == [
        {"path": "/srv/new/grafana", "state": "directory", "mode": "0700"},
        {"path": "/srv/new/otel-collector/pki", "state": "directory", "mode": "0700"},
    ]
    assert entries[2] == {
        "path": "/srv/new/grafana/admin_password",
        "src": "/var/backups/.restore-x/files/grafana/admin_password",
        "mode": "0640",
        "owner": "472",
        "group": "0",
        "secret": True,
    }
    assert [e["path"] for e in entries[3:]] == [
        "/srv/new/otel-collector/pki/ca.key",
        "/srv/new/otel-collector/pki/ca.crt",
    ]


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: bf.backup_secrets([], "relative/dir", WANTED), "needs an absolute directory"),
        (lambda: bf.backup_secrets("not a list", BASE, WANTED), "expects the files of ansible.builtin.find"),
        (lambda: bf.backup_secrets([], BASE, "grafana/admin_password"), "expects a list of paths"),
        (lambda: bf.backup_secrets([], BASE, ["../etc/shadow"]), "is not a path inside the project"),
        (lambda: bf.backup_copies([{"path": "x"}], BASE, "/tmp"), "is not a secret of a backup manifest"),
        (
            lambda: bf.backup_copies([{"path": "/etc/shadow", "file": "files/x", "mode": "0600", "uid": 0, "gid": 0}],
                                     "/w", BASE, restore=True),
            "is not a path inside the project",
        ),
        (
            lambda: bf.backup_copies([{"path": "a", "file": "../../etc/cron.d/x", "mode": "0600", "uid": 0, "gid": 0}],
                                     "/w", BASE, restore=True),
            "is not a path inside the project",
        ),
    ],
)  # fmt: skip
def test_bad_input_names_the_problem(call, words):
    with pytest.raises(AnsibleFilterError, match=words):
        call()
