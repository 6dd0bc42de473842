"""What backup.yml and restore.yml take of each component (plugins/filter/backup_files.py and
plugins/plugin_utils/backup.py): the plan read from the catalog's `backup` keys, the volumes picked
from docker inspect, and the secret files, found in one find run, copied in one project_files run,
into the archive and back with the recorded mode and owner."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import backup_files as bf  # noqa: E402
from ansible_collections.claude_code.observability.plugins.plugin_utils import backup, components  # noqa: E402

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


# What backup.yml named itself before the components said it: the secret files, and the services
# whose volumes were copied (every service of the host but these).
SECRET_FILES = [
    "grafana/admin_password",
    "opensearch/admin-password",
    "otel-collector/pki/ca.key",
    "otel-collector/pki/ca.crt",
    "otel-collector/pki/server.key",
    "otel-collector/pki/server.crt",
    "otel-collector/tls/server.crt",
    "otel-collector/tls/server.key",
    "otel-collector/secrets/bearer_token",
]
NOT_VOLUMES = ["otel-collector", "prometheus", "opensearch"]


@pytest.mark.parametrize(
    "services",
    [
        ["alertmanager", "otel-collector", "prometheus"],
        ["otel-collector", "prometheus"],
        ["alertmanager", "grafana", "jaeger", "loki", "otel-collector", "prometheus"],
        ["alertmanager", "opensearch", "otel-collector", "prometheus"],
        ["alertmanager", "grafana", "jaeger", "loki", "opensearch", "otel-collector", "prometheus"],
        ["grafana", "loki"],
    ],
)
def test_the_catalog_keeps_what_backup_yml_kept(services):
    plan = bf.backup_plan(services)
    assert plan["files"] == SECRET_FILES
    assert [v["service"] for v in plan["volumes"]] == [s for s in services if s not in NOT_VOLUMES]
    assert ("prometheus" in plan["snapshots"]) == ("prometheus" in services)
    assert ("opensearch" in plan["snapshots"]) == ("opensearch" in services)
    if "prometheus" in services:
        assert plan["snapshots"]["prometheus"] == {
            "name": "prometheus",
            "title": "Prometheus",
            "service": "prometheus",
            "path": "/prometheus",
        }
    if "opensearch" in services:
        assert plan["snapshots"]["opensearch"] == {"name": "opensearch", "title": "OpenSearch", "service": "opensearch"}


def test_each_component_names_its_own_volumes():
    plan = bf.backup_plan(["alertmanager", "grafana", "jaeger", "loki", "otel-collector"])
    assert plan["volumes"] == [
        {"service": "alertmanager", "volumes": ["alertmanager-data"]},
        {"service": "grafana", "volumes": ["grafana-data"]},
        {"service": "jaeger", "volumes": ["jaeger-data"]},
        {"service": "loki", "volumes": ["loki-data"]},
    ]
    assert plan["services"] == ["alertmanager", "grafana", "jaeger", "loki"]


def test_opensearch_dashboards_is_neither_stopped_nor_copied():
    # Its saved objects are OpenSearch indices: OpenSearch's snapshot holds them.
    plan = bf.backup_plan(["opensearch", "opensearch-dashboards", "otel-collector", "prometheus"])
    assert plan["volumes"] == []
    assert plan["services"] == ["prometheus", "opensearch"]


def test_an_archive_names_the_services_that_take_its_data_back():
    manifest = {
        "services": ["alertmanager", "otel-collector", "prometheus"],
        "prometheus": {"file": "prometheus/tsdb.tar"},
        "opensearch": None,
        "volumes": [{"service": "alertmanager", "volume": "alertmanager-data"}],
    }
    plan = bf.backup_plan(manifest["services"], manifest)
    assert list(plan["snapshots"]) == ["prometheus"]
    assert plan["services"] == ["prometheus", "alertmanager"]
    # A snapshot is taken back by the component of its type, wherever the backup ran.
    both = dict(manifest, services=["otel-collector"], opensearch={"file": "opensearch/repository.tar"}, volumes=[])
    assert bf.backup_plan(both["services"], both)["services"] == ["prometheus", "opensearch"]


def _role(tmp_path, role, text):
    meta = tmp_path / role / "meta"
    meta.mkdir(parents=True)
    (meta / "component.yml").write_text(text)


def test_a_new_component_is_backed_up_by_its_catalog_alone(tmp_path):
    _role(tmp_path, "tempo", "name: tempo\nservice: tempo\nport: {variable: tempo_port, default: 3200}\n"
          "backup: {volumes: [tempo-data, tempo-wal], files: [tempo/secret]}\n")  # fmt: skip
    _role(tmp_path, "ui", "name: ui\nservice: ui\nport: {variable: ui_port, default: 80}\nbackup: false\n")
    catalog = components.load_catalog(str(tmp_path))
    plan = backup.plan(catalog, ["tempo", "ui"])
    assert plan == {
        "files": ["tempo/secret"],
        "volumes": [{"service": "tempo", "volumes": ["tempo-data", "tempo-wal"]}],
        "snapshots": {},
        "services": ["tempo"],
    }
    with pytest.raises(backup.BackupError, match="holds a prometheus snapshot, but no component"):
        backup.plan(catalog, ["tempo"], {"prometheus": {"file": "prometheus/tsdb.tar"}})


def test_two_components_cannot_take_the_same_snapshot(tmp_path):
    for name in ("a", "b"):
        _role(tmp_path, name, f"name: {name}\nservice: {name}\nport: {{variable: {name}_port, default: 1}}\n"
              "backup: {snapshot: {type: opensearch}}\n")  # fmt: skip
    with pytest.raises(backup.BackupError, match="a and b both take a opensearch snapshot"):
        backup.plan(components.load_catalog(str(tmp_path)), ["a"])


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("true", "backup must be false or"),
        ("{volume: [x]}", "unknown backup key.s. volume"),
        ("{volumes: x-data}", "backup.volumes must be a list of names"),
        ("{files: [/etc/shadow]}", "is not a path inside the project directory"),
        ("{files: [../x]}", "is not a path inside the project directory"),
        ("{snapshot: {type: tempo}}", "type one of opensearch, prometheus"),
        ("{snapshot: prometheus}", "type one of opensearch, prometheus"),
        ("{snapshot: {type: prometheus}}", "a prometheus snapshot needs path"),
    ],
)
def test_a_backup_key_with_a_mistake_is_refused_with_its_path(tmp_path, value, words):
    _role(
        tmp_path, "tempo", f"name: tempo\nservice: tempo\nport: {{variable: tempo_port, default: 1}}\nbackup: {value}\n"
    )
    with pytest.raises(components.CatalogError, match="tempo/meta/component.yml: .*" + words):
        components.load_catalog(str(tmp_path))


def _container(service, *mounts):
    return {"Config": {"Labels": {"com.docker.compose.service": service}}, "Mounts": list(mounts)}


def test_only_the_volumes_a_component_names_are_copied():
    inspected = [
        _container(
            "grafana",
            {"Type": "bind", "Source": "/opt/cco/grafana/provisioning", "Destination": "/etc/grafana/provisioning"},
            {"Type": "volume", "Name": "cco_grafana-data", "Destination": "/var/lib/grafana"},
        ),
        # Memory storage: only the image's anonymous volume, which holds nothing to keep.
        _container("jaeger", {"Type": "volume", "Name": "4f0c" * 16, "Destination": "/tmp"}),
        _container("loki", {"Type": "volume", "Name": "cco_loki-data", "Destination": "/loki"}),
    ]
    wanted = bf.backup_plan(["grafana", "jaeger", "loki"])["volumes"]
    assert bf.backup_volumes(inspected, wanted, "cco") == [
        {"service": "grafana", "volume": "grafana-data", "path": "/var/lib/grafana",
         "file": "volumes/grafana/grafana-data.tar"},
        {"service": "loki", "volume": "loki-data", "path": "/loki", "file": "volumes/loki/loki-data.tar"},
    ]  # fmt: skip
    with pytest.raises(AnsibleFilterError, match="not a container"):
        bf.backup_volumes(["x"], wanted, "cco")
    with pytest.raises(AnsibleFilterError, match="expects the manifest"):
        bf.backup_plan([], "manifest.json")


def test_the_volumes_a_component_names_are_its_compose_volumes():
    # A volume renamed in the role and not in its catalog would silently drop out of every backup.
    for record in components.load_catalog().values():
        role = ROOT / "roles" / record["role"]
        text = "".join(p.read_text() for p in sorted(role.glob("tasks/*.yml")) + sorted(role.glob("vars/*.yml")))
        for volume in (record.get("backup") or {}).get("volumes", []):
            assert f"{volume}:" in text or f"'{volume}'" in text, (record["role"], volume)
