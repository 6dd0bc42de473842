"""playbooks/backup.yml and restore.yml against real stacks: data sent with captured Claude Code sessions,
backed up, the stack torn down with its data deleted, restored into a new project and directory; totals,
events, secrets and Alertmanager silences come back identical. Damaged archives and existing stacks are
refused with nothing changed."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from helpers import backup, deploy, load, otlp, playbook, procs

pytestmark = [pytest.mark.testbed, pytest.mark.slow(seconds=350)]

SECRETS = (
    "otel-collector/pki/ca.key",
    "otel-collector/pki/ca.crt",
    "otel-collector/pki/server.key",
    "otel-collector/pki/server.crt",
    "otel-collector/tls/server.crt",
    "otel-collector/tls/server.key",
    "otel-collector/secrets/bearer_token",
)


def _damaged_copies(archive: Path, where: Path) -> dict[str, Path]:
    """A truncated archive, a .tar.gz of something else, and a copy with one secret file changed."""
    where.mkdir()
    truncated = where / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[:4000])
    foreign = where / "foreign.tar.gz"
    with tarfile.open(foreign, "w:gz") as tar:
        data = b"not a backup\n"
        info = tarfile.TarInfo("README")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    tampered = where / "tampered.tar.gz"
    with tarfile.open(archive, "r:gz") as src, tarfile.open(tampered, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None
            if member.name.endswith("secrets/bearer_token"):
                data = b"someone-else"
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    return {"not a readable .tar.gz": truncated, "is not a backup of": foreign, "is damaged": tampered}


def test_metrics_stack_comes_back_from_its_archive(testbed, tmp_path):
    """Metrics-only flavour with Alertmanager, generated TLS and a token: backup, teardown with data
    deleted, restore into a new project in a new directory."""
    backups = tmp_path / "backups"
    old = deploy.stack_vars(
        testbed,
        tmp_path,
        "br",
        {
            "stack_alertmanager": True,
            "alertmanager_port": procs.free_port(),
            "otel_collector_tls_generate": True,
            "otel_collector_bearer_token": backup.TOKEN,
        },
    )
    new = deploy.stack_vars(
        testbed,
        tmp_path,
        "br2",
        {k: old[k] for k in ("stack_alertmanager", "otel_collector_tls_generate", "otel_collector_bearer_token")}
        | {"alertmanager_port": procs.free_port()},
    )
    old_dir, new_dir = Path(old["stack_project_dir"]), Path(new["stack_project_dir"])
    figures = {}
    try:
        playbook.run("site.yml", old)
        # The captured sessions, and generated ones of several users, machines and models.
        generated, sent = load.generate(seed=11, users=3, machines=2, sessions=8, exports=3)
        backup.send_tls(
            old, old_dir / "otel-collector/pki/ca.crt", backup.captured() + [("metrics", p) for p in generated]
        )
        expected = sent.cost + backup.captured_cost()
        procs.wait_for(
            lambda: (
                (v := procs.prom_scalar(backup.prom_url(old), backup.TOTAL)) is not None and abs(v - expected) <= 1e-9
            ),
            timeout=60,
            what=f"cost {expected} in Prometheus",
        )
        backup.settled(lambda: backup.totals(old, None))
        at = time.time()
        before = backup.totals(old, at)
        assert abs(before["total"] - expected) <= 1e-9 and len(before["sessions"]) == sent.sessions + 1
        silence = procs.http_json(
            f"http://127.0.0.1:{old['alertmanager_port']}/api/v2/silences",
            "POST",
            {
                "matchers": [{"name": "alertname", "value": "BackupRestoreTest", "isRegex": False}],
                "startsAt": "2026-01-01T00:00:00Z",
                "endsAt": "2036-01-01T00:00:00Z",
                "createdBy": "test",
                "comment": "kept by the backup",
            },
        )["silenceID"]
        secrets = {rel: backup.sha256(old_dir / rel) for rel in SECRETS}

        # Check mode says what it would do and writes nothing.
        proc, recap = playbook.run("playbooks/backup.yml", {**old, "backup_dir": str(backups)}, "--check")
        assert "Would write" in proc.stdout and recap["localhost"]["changed"] == 0
        assert not backups.exists()

        started = time.monotonic()
        proc, _recap = playbook.run("playbooks/backup.yml", {**old, "backup_dir": str(backups)})
        figures["backup_s"] = round(time.monotonic() - started, 1)
        archive = backup.archive(backups)
        assert archive.name.startswith(f"{old['stack_project_name']}-localhost-")
        assert archive.stat().st_mode & 0o777 == 0o600
        figures["archive_bytes"] = archive.stat().st_size
        manifest = backup.check_manifest(archive)
        assert {s["path"] for s in manifest["secrets"]} == set(SECRETS)
        assert [v["service"] for v in manifest["volumes"]] == ["alertmanager"]
        assert manifest["prometheus"]["version"] == testbed["PROMETHEUS_VERSION"]
        assert manifest["images"]["prometheus"] == testbed["PROMETHEUS_IMAGE"]
        # The snapshot is not left behind in Prometheus' volume.
        snapshots = subprocess.run(
            ["docker", "exec", f"{old['stack_project_name']}-prometheus-1", "ls", "/prometheus/snapshots"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert snapshots == []
        # Alertmanager, stopped for the copy, runs again: so does everything else.
        playbook.run("playbooks/status.yml", old)

        # A running stack is not replaced without restore_force.
        stamps = {rel: (old_dir / rel).stat().st_mtime_ns for rel in SECRETS}
        proc, _recap = playbook.run("playbooks/restore.yml", {**old, "restore_archive": str(archive)}, check=False)
        assert proc.returncode != 0
        assert "already exists" in proc.stdout and "restore_force=true" in proc.stdout
        assert {rel: (old_dir / rel).stat().st_mtime_ns for rel in SECRETS} == stamps
        assert procs.prom_scalar(backup.prom_url(old), backup.TOTAL, at) == pytest.approx(before["total"], abs=1e-12)

        # Damaged or foreign archives are refused before anything changes.
        for words, bad in _damaged_copies(archive, tmp_path / "bad").items():
            proc, _recap = playbook.run("playbooks/restore.yml", {**new, "restore_archive": str(bad)}, check=False)
            assert proc.returncode != 0 and words in proc.stdout and "Nothing was changed" in proc.stdout, bad
            assert not new_dir.exists()
            assert backup.project_state(new["stack_project_name"]) == ("", "")
        proc, _recap = playbook.run(
            "playbooks/restore.yml", {**new, "restore_archive": str(tmp_path / "nowhere.tar.gz")}, check=False
        )
        assert proc.returncode != 0 and "does not exist on localhost" in proc.stdout

        playbook.run("playbooks/teardown.yml", {**old, "teardown_delete_data": True})
        assert backup.project_state(old["stack_project_name"]) == ("", "")

        # No containers or volumes yet, but a secret file that is not the archive's: refused, naming it.
        stray = new_dir / "otel-collector/secrets/bearer_token"
        stray.parent.mkdir(parents=True)
        stray.write_text("someone-else\n")
        proc, _recap = playbook.run("playbooks/restore.yml", {**new, "restore_archive": str(archive)}, check=False)
        assert proc.returncode != 0 and "already exists" in proc.stdout, proc.stdout[-2000:]
        said = json.loads(proc.stdout[proc.stdout.rindex("fatal: [") :].splitlines()[0].split("=> ", 1)[1])["msg"]
        assert f"secret files other than the archive's under {new_dir}: otel-collector/secrets/bearer_token." in said
        assert "container(s)" not in said and "data volumes" not in said, said
        assert stray.read_text() == "someone-else\n" and sorted(p.name for p in new_dir.rglob("*")) == [
            "bearer_token",
            "otel-collector",
            "secrets",
        ]
        shutil.rmtree(new_dir)

        # Check mode of the restore changes nothing either.
        proc, recap = playbook.run("playbooks/restore.yml", {**new, "restore_archive": str(archive)}, "--check")
        assert "Would restore" in proc.stdout and recap["localhost"]["changed"] == 0
        assert not new_dir.exists() and backup.project_state(new["stack_project_name"]) == ("", "")

        started = time.monotonic()
        proc, _recap = playbook.run("playbooks/restore.yml", {**new, "restore_archive": str(archive)})
        figures["restore_s"] = round(time.monotonic() - started, 1)
        assert "Restored " in proc.stdout

        after = backup.totals(new, at)
        backup.assert_same_totals(before, after)
        figures["total_before"], figures["total_after"] = before["total"], after["total"]
        figures["sessions"] = len(after["sessions"])
        assert {rel: backup.sha256(new_dir / rel) for rel in SECRETS} == secrets
        silences = procs.http_json(f"http://127.0.0.1:{new['alertmanager_port']}/api/v2/silences")
        assert [s["comment"] for s in silences if s["id"] == silence] == ["kept by the backup"]
        proc, recap = playbook.run("playbooks/status.yml", new)
        assert recap["localhost"]["failed"] == 0 and "Collector health: ok" in proc.stdout
        # Clients keep their CA and token: the restored collector takes their sends.
        backup.send_tls(new, old_dir / "otel-collector/pki/ca.crt", otlp.session_payloads("tool-session"))

        # A forced restore replaces the restored stack: it holds the archive's data again (without what was
        # sent since). This time the archive comes from the controller, named relative to where
        # ansible-playbook runs.
        upload = tmp_path / "upload"
        started = time.monotonic()
        playbook.run(
            "playbooks/restore.yml",
            {
                **new,
                "restore_archive": os.path.relpath(archive, playbook.ROOT),
                "restore_from_controller": True,
                "backup_dir": str(upload),
                "restore_force": True,
            },
        )
        assert (upload / archive.name).read_bytes() == archive.read_bytes()
        figures["forced_restore_s"] = round(time.monotonic() - started, 1)
        backup.assert_same_totals(before, backup.totals(new, at))
        assert procs.prom_scalar(backup.prom_url(new), backup.TOTAL) == pytest.approx(before["total"], abs=1e-9)

        # Without the admin API the backup stops before writing anything, naming the variable.
        playbook.run("site.yml", {**new, "prometheus_admin_api": False})
        proc, _recap = playbook.run("playbooks/backup.yml", {**new, "backup_dir": str(tmp_path / "none")}, check=False)
        assert proc.returncode != 0 and "prometheus_admin_api: true" in proc.stdout
        assert not (tmp_path / "none").exists()
        print(f"\nbackup/restore figures (metrics-only): {json.dumps(figures)}")
    finally:
        deploy.down(old)
        deploy.down(new)
        shutil.rmtree(backups, ignore_errors=True)
