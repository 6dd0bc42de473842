"""The loki and grafana roles, run with ansible-playbook into a temporary project directory.

Managed mode is checked on the files it renders (Grafana itself cannot be obtained here);
existing mode runs against the CONTRACT DOUBLE of Grafana's HTTP API
(tests/doubles/grafana_double.py), never a real Grafana.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
import yaml
from doubles.grafana_double import GrafanaDouble
from helpers import playbook

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "roles" / "grafana" / "files" / "dashboards"
PLAYBOOKS = "tests/integration/playbooks"
HOST = "localhost"


def _facts(path: Path) -> dict:
    return json.loads(path.read_text())


def _dashboard_uids() -> set[str]:
    """Every datasource uid any shipped dashboard refers to (panels, targets, variables)."""
    found = set()

    def walk(node):
        if isinstance(node, dict):
            ds = node.get("datasource")
            if isinstance(ds, dict) and "uid" in ds:
                found.add(ds["uid"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in DASHBOARDS.glob("*.json"):
        walk(json.loads(path.read_text()))
    return found


def test_loki_role_renders_config_and_compose(tmp_path):
    project, facts_out = tmp_path / "project", tmp_path / "facts.json"
    extra = {"project_dir": str(project), "facts_out": str(facts_out), "loki_retention_period": "336h"}
    _proc, recap = playbook.run(f"{PLAYBOOKS}/loki_render.yml", extra)
    assert recap[HOST]["changed"] > 0
    config = yaml.safe_load((project / "loki" / "loki.yaml").read_text())
    (schema,) = config["schema_config"]["configs"]
    assert (schema["store"], schema["schema"], schema["object_store"]) == ("tsdb", "v13", "filesystem")
    limits = config["limits_config"]
    assert limits["allow_structured_metadata"] is True
    assert limits["retention_period"] == "336h"
    assert limits["otlp_config"]["resource_attributes"]["attributes_config"] == [
        {"action": "index_label", "attributes": ["machine.name"]}
    ]
    compactor = config["compactor"]
    assert compactor["retention_enabled"] is True and compactor["delete_request_store"] == "filesystem"
    assert config["common"]["storage"]["filesystem"]["chunks_directory"].startswith("/loki/")

    facts = _facts(facts_out)
    service = facts["loki_compose"]["services"]["loki"]
    assert service["ports"] == ["127.0.0.1:3100:3100"]
    assert "loki-data:/loki" in service["volumes"] and "loki-data" in facts["loki_compose"]["volumes"]
    assert re.fullmatch(r"grafana/loki:3\.\d+\.\d+", service["image"])
    assert facts["loki_url"] == "http://127.0.0.1:3100"
    assert facts["loki_otel_exporter"] == {
        "name": "otlphttp/loki",
        "config": {"endpoint": "http://loki:3100/otlp", "timeout": "10s"},
    }
    first_hash = service["labels"]["io.claude-obs.config-hash"]

    _proc, recap = playbook.run(f"{PLAYBOOKS}/loki_render.yml", extra)
    assert recap[HOST]["changed"] == 0
    assert _facts(facts_out)["loki_compose"]["services"]["loki"]["labels"]["io.claude-obs.config-hash"] == first_hash

    # Another retention is another config, so compose recreates the container.
    _proc, recap = playbook.run(f"{PLAYBOOKS}/loki_render.yml", {**extra, "loki_retention_period": "168h"})
    assert recap[HOST]["changed"] == 1
    assert _facts(facts_out)["loki_compose"]["services"]["loki"]["labels"]["io.claude-obs.config-hash"] != first_hash


def test_grafana_managed_renders_provisioning_and_keeps_the_password(tmp_path):
    project, facts_out = tmp_path / "project", tmp_path / "facts.json"
    extra = {"project_dir": str(project), "facts_out": str(facts_out)}
    # --check on a host never deployed: reports what it would do, writes nothing.
    _proc, recap = playbook.run(f"{PLAYBOOKS}/grafana_managed.yml", extra, "--check")
    assert recap[HOST]["changed"] > 0 and not project.exists()

    proc, recap = playbook.run(f"{PLAYBOOKS}/grafana_managed.yml", extra, "-v")
    assert recap[HOST]["changed"] > 0
    base = project / "grafana"

    secret = base / "admin_password"
    password = secret.read_text()
    assert re.fullmatch(r"[A-Za-z0-9]{32}", password)
    st = secret.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 472
    assert password not in proc.stdout + proc.stderr

    datasources = yaml.safe_load((base / "provisioning" / "datasources" / "claude.yml").read_text())
    by_uid = {d["uid"]: d for d in datasources["datasources"]}
    assert set(by_uid) == {"claude-code-prometheus", "claude-code-loki"}
    assert by_uid["claude-code-prometheus"]["url"] == "http://prometheus:9090"
    assert by_uid["claude-code-loki"]["url"] == "http://loki:3100"
    assert _dashboard_uids() <= set(by_uid), "a dashboard refers to a data source that is not provisioned"

    providers = yaml.safe_load((base / "provisioning" / "dashboards" / "claude.yml").read_text())["providers"]
    assert providers[0]["options"]["path"] == "/var/lib/claude-code-dashboards"
    shipped = sorted(p.name for p in DASHBOARDS.glob("*.json"))
    assert sorted(p.name for p in (base / "dashboards").glob("*.json")) == shipped
    for name in shipped:
        assert json.loads((base / "dashboards" / name).read_text())["uid"]

    alerting = yaml.safe_load((base / "provisioning" / "alerting" / "claude.yml").read_text())
    (group,) = alerting["groups"]
    assert group["folder"] == "Claude Code" and group["interval"] == "1m"
    thresholds = {r["uid"]: r["data"][2]["model"]["conditions"][0]["evaluator"]["params"][0] for r in group["rules"]}
    assert thresholds == {"claude-code-daily-spend-user": 25.0, "claude-code-daily-spend-total": 100.0}
    for rule in group["rules"]:
        assert rule["data"][0]["datasourceUid"] == "claude-code-prometheus"
        assert rule["condition"] == "C" and rule["noDataState"] == "OK"

    facts = _facts(facts_out)
    service = facts["grafana_compose"]["services"]["grafana"]
    env = service["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"
    assert password not in json.dumps(facts)
    assert service["ports"] == ["127.0.0.1:3000:3000"]
    assert service["user"] == "472"
    assert facts["grafana_url"] == "http://127.0.0.1:3000"
    assert facts["grafana_admin_password_file"] == str(secret)
    first_hash = service["labels"]["io.claude-obs.config-hash"]

    # Second run: nothing changes, the password least of all.
    _proc, recap = playbook.run(f"{PLAYBOOKS}/grafana_managed.yml", extra)
    assert recap[HOST]["changed"] == 0
    assert secret.read_text() == password
    assert _facts(facts_out)["grafana_compose"]["services"]["grafana"]["labels"]["io.claude-obs.config-hash"] == (
        first_hash
    )

    # Options: Tempo, anonymous viewers, no Loki, no alerting; a loosened password file is tightened again.
    secret.chmod(0o644)
    changed = {
        **extra,
        "grafana_tempo_url": "http://tempo:3200",
        "grafana_anonymous_access": True,
        "grafana_loki": False,
        "grafana_alerting": False,
        "grafana_bind_address": "0.0.0.0",
    }
    _proc, recap = playbook.run(f"{PLAYBOOKS}/grafana_managed.yml", changed)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and secret.read_text() == password
    datasources = yaml.safe_load((base / "provisioning" / "datasources" / "claude.yml").read_text())
    assert {d["uid"]: d["url"] for d in datasources["datasources"]} == {
        "claude-code-prometheus": "http://prometheus:9090",
        "claude-code-tempo": "http://tempo:3200",
    }
    assert not (base / "provisioning" / "alerting" / "claude.yml").exists()
    assert [p.name for p in (base / "dashboards").glob("*.json")] == ["claude-code-overview.json"]
    facts = _facts(facts_out)
    service = facts["grafana_compose"]["services"]["grafana"]
    assert service["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert service["ports"] == ["0.0.0.0:3000:3000"]
    assert facts["grafana_url"] == "http://127.0.0.1:3000"
    assert service["labels"]["io.claude-obs.config-hash"] != first_hash


@pytest.fixture
def grafana_double():
    double = GrafanaDouble("admin", "Gr4fana-admin-pw", tokens={"glsa_double_token_0123456789": "Admin"})
    double.url = double.start()
    yield double
    double.stop()


def test_grafana_existing_provisions_the_double_idempotently(grafana_double):
    extra = {"grafana_url": grafana_double.url, "grafana_api_token": "glsa_double_token_0123456789"}
    proc, recap = playbook.run(f"{PLAYBOOKS}/grafana_existing.yml", extra)
    assert recap[HOST]["changed"] == 5, proc.stdout[-3000:]
    assert "glsa_double_token_0123456789" not in proc.stdout + proc.stderr

    assert set(grafana_double.folders) == {"claude-code"}
    shipped = {json.loads(p.read_text())["uid"]: json.loads(p.read_text()) for p in DASHBOARDS.glob("*.json")}
    for uid, dashboard in shipped.items():
        stored = grafana_double.dashboards[uid]
        assert stored["folderUid"] == "claude-code"
        assert {k: v for k, v in stored["dashboard"].items() if k not in ("id", "version")} == {
            k: v for k, v in dashboard.items() if k not in ("id", "version")
        }
    uids = {grafana_double.raw_datasource(u)["uid"] for u in ("claude-code-prometheus", "claude-code-loki")}
    assert _dashboard_uids() <= uids
    group = grafana_double.rule_groups[("claude-code", "claude-code-spend")]
    assert group["interval"] == 60
    assert [r["uid"] for r in group["rules"]] == ["claude-code-daily-spend-user", "claude-code-daily-spend-total"]
    assert all("provenance" not in r for r in group["rules"])  # still editable in Grafana's UI

    grafana_double.reset_counts()
    _proc, recap = playbook.run(f"{PLAYBOOKS}/grafana_existing.yml", extra)
    assert recap[HOST]["changed"] == 0
    assert grafana_double.writes() == []


def test_grafana_existing_refuses_missing_credentials():
    proc, recap = playbook.run(f"{PLAYBOOKS}/grafana_existing.yml", {"grafana_url": "http://127.0.0.1:9"}, check=False)
    assert proc.returncode != 0 and recap[HOST]["failed"] == 1
    assert "grafana_api_token" in proc.stdout
