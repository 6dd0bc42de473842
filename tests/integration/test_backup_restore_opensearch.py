"""playbooks/backup.yml and restore.yml against a real OpenSearch-flavour stack: events and spans come
back through an OpenSearch snapshot, the metrics with Prometheus' TSDB, into a new project."""

from __future__ import annotations

import json
import shutil
import time

import pytest
from helpers import backup, deploy, load, otlp, playbook, procs

pytestmark = [pytest.mark.testbed, pytest.mark.slow(seconds=185)]


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
        for session in backup.SESSIONS:
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
                (v := procs.prom_scalar(backup.prom_url(old), backup.TOTAL)) is not None
                and abs(v - load_sent.cost - backup.captured_cost()) <= 1e-9
            ),
            timeout=60,
            what="cost in Prometheus",
        )
        backup.settled(lambda: (_os_facts(old), backup.totals(old, None)))
        at = time.time()
        before, os_before = backup.totals(old, at), _os_facts(old)
        assert os_before["events"] == sent and abs(os_before["cost"] - backup.captured_cost()) <= 1e-9
        assert len(before["sessions"]) == load_sent.sessions + 1

        started = time.monotonic()
        playbook.run("playbooks/backup.yml", {**old, "backup_dir": str(backups)})
        figures["backup_s"] = round(time.monotonic() - started, 1)
        archive = backup.archive(backups)
        figures["archive_bytes"] = archive.stat().st_size
        manifest = backup.check_manifest(archive)
        assert set(manifest["opensearch"]["data_streams"]) == {"claude-code", "ss4o_traces-claude_code-default"}
        assert manifest["opensearch"]["documents_before_snapshot"]["claude-code"] == sent
        # The snapshot and its repository are gone from the node again.
        repos = procs.http_json(f"{_os_url(old)}/_snapshot")
        assert repos == {}

        playbook.run("playbooks/teardown.yml", {**old, "teardown_delete_data": True})
        assert backup.project_state(old["stack_project_name"]) == ("", "")

        started = time.monotonic()
        playbook.run("playbooks/restore.yml", {**new, "restore_archive": str(archive)})
        figures["restore_s"] = round(time.monotonic() - started, 1)

        after, os_after = backup.totals(new, at), _os_facts(new)
        backup.assert_same_totals(before, after)
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
