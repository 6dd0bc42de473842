"""playbooks/backup.yml and restore.yml against real stacks: data sent with captured Claude Code sessions,
backed up, the stack torn down with its data deleted, restored into a new project and directory; totals,
events, secrets and Alertmanager silences come back identical. Damaged archives and existing stacks are
refused with nothing changed."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import ssl
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import deploy, load, otlp, playbook, procs

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

TOKEN = "backup-test-token=1"
SESSIONS = ("tool-session", "error-session")
TOTAL = "sum(sum_over_time(claude_code_cost_usage_USD[1h]))"
BY_SESSION = "sum by (session_id) (sum_over_time(claude_code_cost_usage_USD[1h]))"
SECRETS = (
    "otel-collector/pki/ca.key",
    "otel-collector/pki/ca.crt",
    "otel-collector/pki/server.key",
    "otel-collector/pki/server.crt",
    "otel-collector/tls/server.crt",
    "otel-collector/tls/server.key",
    "otel-collector/secrets/bearer_token",
)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _prom(extra: dict) -> str:
    return f"http://127.0.0.1:{extra['prometheus_port']}"


def _totals(extra: dict, at: float) -> dict:
    """The total and the total of each session, at one time."""
    prom = _prom(extra)
    return {
        "total": procs.prom_scalar(prom, TOTAL, at),
        "sessions": {s["metric"]["session_id"]: float(s["value"][1]) for s in procs.prom_query(prom, BY_SESSION, at)},
    }


def _settled(read, pause: float = 2, timeout: float = 60):
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


def _assert_same_totals(before: dict, after: dict) -> None:
    assert after["total"] is not None and abs(after["total"] - before["total"]) <= 1e-9, (before, after)
    assert set(after["sessions"]) == set(before["sessions"]), (before, after)
    for session, value in before["sessions"].items():
        assert abs(after["sessions"][session] - value) <= 1e-9, (session, before, after)


def _captured() -> list[tuple[str, dict]]:
    return [item for session in SESSIONS for item in otlp.session_payloads(session)]


def _captured_cost() -> float:
    """What the captured sessions cost: the sum of their api_request events, as their cost metric counts."""
    return math.fsum(float(e["cost_usd"]) for session in SESSIONS for e in otlp.events(session, "api_request"))


def _send_tls(extra: dict, ca: Path, payloads: list[tuple[str, dict]]) -> None:
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


def _project_state(name: str) -> tuple[str, str]:
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


def _archive(backup_dir: Path) -> Path:
    archives = sorted(backup_dir.glob("*.tar.gz"))
    assert len(archives) == 1, archives
    return archives[0]


def _check_manifest(archive: Path) -> dict:
    """The manifest names every other file of the archive with its sha256."""
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}
        manifest = json.loads(tar.extractfile(members.pop("manifest.json")).read())
        hashes = {name: hashlib.sha256(tar.extractfile(m).read()).hexdigest() for name, m in members.items()}
    assert manifest["format"] == "claude_code.observability/backup" and manifest["format_version"] == 1
    assert manifest["files"] == hashes
    return manifest


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
            "otel_collector_bearer_token": TOKEN,
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
        _send_tls(old, old_dir / "otel-collector/pki/ca.crt", _captured() + [("metrics", p) for p in generated])
        expected = sent.cost + _captured_cost()
        procs.wait_for(
            lambda: (v := procs.prom_scalar(_prom(old), TOTAL)) is not None and abs(v - expected) <= 1e-9,
            timeout=60,
            what=f"cost {expected} in Prometheus",
        )
        _settled(lambda: _totals(old, None))
        at = time.time()
        before = _totals(old, at)
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
        secrets = {rel: _sha256(old_dir / rel) for rel in SECRETS}

        # Check mode says what it would do and writes nothing.
        proc, recap = playbook.run("playbooks/backup.yml", {**old, "backup_dir": str(backups)}, "--check")
        assert "Would write" in proc.stdout and recap["localhost"]["changed"] == 0
        assert not backups.exists()

        started = time.monotonic()
        proc, _recap = playbook.run("playbooks/backup.yml", {**old, "backup_dir": str(backups)})
        figures["backup_s"] = round(time.monotonic() - started, 1)
        archive = _archive(backups)
        assert archive.name.startswith(f"{old['stack_project_name']}-localhost-")
        assert archive.stat().st_mode & 0o777 == 0o600
        figures["archive_bytes"] = archive.stat().st_size
        manifest = _check_manifest(archive)
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
        assert procs.prom_scalar(_prom(old), TOTAL, at) == pytest.approx(before["total"], abs=1e-12)

        # Damaged or foreign archives are refused before anything changes.
        for words, bad in _damaged_copies(archive, tmp_path / "bad").items():
            proc, _recap = playbook.run("playbooks/restore.yml", {**new, "restore_archive": str(bad)}, check=False)
            assert proc.returncode != 0 and words in proc.stdout and "Nothing was changed" in proc.stdout, bad
            assert not new_dir.exists()
            assert _project_state(new["stack_project_name"]) == ("", "")
        proc, _recap = playbook.run(
            "playbooks/restore.yml", {**new, "restore_archive": str(tmp_path / "nowhere.tar.gz")}, check=False
        )
        assert proc.returncode != 0 and "does not exist on localhost" in proc.stdout

        playbook.run("playbooks/teardown.yml", {**old, "teardown_delete_data": True})
        assert _project_state(old["stack_project_name"]) == ("", "")

        # Check mode of the restore changes nothing either.
        proc, recap = playbook.run("playbooks/restore.yml", {**new, "restore_archive": str(archive)}, "--check")
        assert "Would restore" in proc.stdout and recap["localhost"]["changed"] == 0
        assert not new_dir.exists() and _project_state(new["stack_project_name"]) == ("", "")

        started = time.monotonic()
        proc, _recap = playbook.run("playbooks/restore.yml", {**new, "restore_archive": str(archive)})
        figures["restore_s"] = round(time.monotonic() - started, 1)
        assert "Restored " in proc.stdout

        after = _totals(new, at)
        _assert_same_totals(before, after)
        figures["total_before"], figures["total_after"] = before["total"], after["total"]
        figures["sessions"] = len(after["sessions"])
        assert {rel: _sha256(new_dir / rel) for rel in SECRETS} == secrets
        silences = procs.http_json(f"http://127.0.0.1:{new['alertmanager_port']}/api/v2/silences")
        assert [s["comment"] for s in silences if s["id"] == silence] == ["kept by the backup"]
        proc, recap = playbook.run("playbooks/status.yml", new)
        assert recap["localhost"]["failed"] == 0 and "Collector health: ok" in proc.stdout
        # Clients keep their CA and token: the restored collector takes their sends.
        _send_tls(new, old_dir / "otel-collector/pki/ca.crt", otlp.session_payloads("tool-session"))

        # The restored stack is not replaced by a second restore, unless forced: then it holds the archive's
        # data again (without what was sent since). This time the archive comes from the controller, named
        # relative to where ansible-playbook runs.
        proc, _recap = playbook.run("playbooks/restore.yml", {**new, "restore_archive": str(archive)}, check=False)
        assert proc.returncode != 0 and "already exists" in proc.stdout
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
        _assert_same_totals(before, _totals(new, at))
        assert procs.prom_scalar(_prom(new), TOTAL) == pytest.approx(before["total"], abs=1e-9)

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


def _os_url(extra: dict) -> str:
    return f"http://127.0.0.1:{extra['opensearch_port']}"


def _os_facts(extra: dict) -> dict:
    """Events and spans in OpenSearch, and the cost of the api_request events."""
    base = _os_url(extra)
    cost = procs.http_json(
        f"{base}/claude-code/_search?size=0",
        "POST",
        {
            "query": {"term": {"attributes.event_name": "api_request"}},
            "aggs": {"cost": {"sum": {"field": "attributes.cost_usd"}}},
        },
    )["aggregations"]["cost"]["value"]
    return {
        "events": procs.http_json(f"{base}/claude-code/_count")["count"],
        "spans": procs.http_json(f"{base}/ss4o_traces-claude_code-default/_count")["count"],
        "cost": cost,
    }


def test_opensearch_stack_comes_back_from_its_archive(testbed, tmp_path):
    """OpenSearch flavour: the events and spans come back through a snapshot, the metrics with the TSDB."""
    backups = tmp_path / "backups"
    overrides = {"stack_flavour": "opensearch", "opensearch_heap_size": "512m"}
    old = deploy.stack_vars(testbed, tmp_path, "bros", {**overrides, "opensearch_port": procs.free_port()})
    new = deploy.stack_vars(testbed, tmp_path, "bros2", {**overrides, "opensearch_port": procs.free_port()})
    figures = {}
    try:
        playbook.run("site.yml", old)
        http = f"http://127.0.0.1:{old['otel_collector_otlp_http_port']}"
        sent = 0
        for session in SESSIONS:
            for signal, payload in otlp.session_payloads(session):
                assert otlp.post(http, signal, payload) == 200
                sent += len(list(otlp.log_records(payload))) if signal == "logs" else 0
        procs.wait_for(
            lambda: procs.http_json(f"{_os_url(old)}/claude-code/_count")["count"] >= sent,
            timeout=60,
            what=f"{sent} events in OpenSearch",
        )
        procs.wait_for(
            lambda: procs.http_json(f"{_os_url(old)}/ss4o_traces-claude_code-default/_count")["count"],
            timeout=60,
            what="spans in OpenSearch",
        )
        generated, load_sent = load.generate(seed=13, users=2, machines=2, sessions=6, exports=2)
        load.send_grpc(f"127.0.0.1:{old['otel_collector_otlp_grpc_port']}", generated)
        procs.wait_for(
            lambda: (
                (v := procs.prom_scalar(_prom(old), TOTAL)) is not None
                and abs(v - load_sent.cost - _captured_cost()) <= 1e-9
            ),
            timeout=60,
            what="cost in Prometheus",
        )
        _settled(lambda: (_os_facts(old), _totals(old, None)))
        at = time.time()
        before, os_before = _totals(old, at), _os_facts(old)
        assert os_before["events"] == sent and abs(os_before["cost"] - _captured_cost()) <= 1e-9
        assert len(before["sessions"]) == load_sent.sessions + 1

        started = time.monotonic()
        playbook.run("playbooks/backup.yml", {**old, "backup_dir": str(backups)})
        figures["backup_s"] = round(time.monotonic() - started, 1)
        archive = _archive(backups)
        figures["archive_bytes"] = archive.stat().st_size
        manifest = _check_manifest(archive)
        assert set(manifest["opensearch"]["data_streams"]) == {"claude-code", "ss4o_traces-claude_code-default"}
        assert manifest["opensearch"]["documents_before_snapshot"]["claude-code"] == sent
        # The snapshot and its repository are gone from the node again.
        repos = procs.http_json(f"{_os_url(old)}/_snapshot")
        assert repos == {}

        playbook.run("playbooks/teardown.yml", {**old, "teardown_delete_data": True})
        assert _project_state(old["stack_project_name"]) == ("", "")

        started = time.monotonic()
        playbook.run("playbooks/restore.yml", {**new, "restore_archive": str(archive)})
        figures["restore_s"] = round(time.monotonic() - started, 1)

        after, os_after = _totals(new, at), _os_facts(new)
        _assert_same_totals(before, after)
        assert os_after["events"] == os_before["events"] and os_after["spans"] == os_before["spans"]
        assert abs(os_after["cost"] - os_before["cost"]) <= 1e-9
        figures.update(
            total_before=before["total"],
            total_after=after["total"],
            events=os_after["events"],
            spans=os_after["spans"],
            event_cost_before=os_before["cost"],
            event_cost_after=os_after["cost"],
        )
        proc, recap = playbook.run("playbooks/status.yml", new)
        assert recap["localhost"]["failed"] == 0 and "last Claude Code data in OpenSearch: none yet" not in proc.stdout
        # New events land in the restored data stream.
        for signal, payload in otlp.session_payloads("tool-session"):
            assert otlp.post(f"http://127.0.0.1:{new['otel_collector_otlp_http_port']}", signal, payload) == 200
        procs.wait_for(
            lambda: procs.http_json(f"{_os_url(new)}/claude-code/_count")["count"] > os_after["events"],
            timeout=60,
            what="new events after the restore",
        )
        print(f"\nbackup/restore figures (opensearch): {json.dumps(figures)}")
    finally:
        deploy.down(old)
        deploy.down(new)
        shutil.rmtree(backups, ignore_errors=True)
