"""Every boolean, integer and list option of the roles that read their options typed (ROLES, read from
their argument specs, so a new option is walked too) renders the same whether its value comes from
the command line as text (-e name=false, -e name=0, -e name=4318) or typed from a vars file: the
client's managed settings file, the collector's config.yaml, Prometheus' config and rule files,
alertmanager.yml, Jaeger's config.yaml, loki.yaml, Grafana's provisioning, each byte for byte, and
what each role decided. A list given as a bare string is refused naming the option, unless its spec
takes one string as a one-item list. Two playbook runs, one host per option value, nothing run in
Docker."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.claude_code.observability.plugins.plugin_utils.role_options import (  # noqa: E402
    ONE_ITEM,
    load_options,
)
from client_playbook import run_playbook  # noqa: E402

pytestmark = pytest.mark.slow(seconds=60)  # the conftest starts the longest first

PLAYBOOK = "tests/integration/playbooks/typed_options_render.yml"
# What the client hosts share: only the managed settings, under the run's own directory, and
# nothing that waits on a network unless the option walked asks for it.
CLIENT_BASE = {
    "client_targets": ["managed_settings"],
    "client_managed_settings_path": "{{ out }}/{{ inventory_hostname }}/managed-settings.json",
    "client_otlp_ca_cert_path": "{{ out }}/{{ inventory_hostname }}/ca.pem",
    "client_check_reachability": False,
    "client_reachability_timeout": 1,
}
# What the Prometheus hosts share: their files under the run's own directory, and an image no host
# has, so that promtool's check (run from that image) is skipped and nothing needs Docker.
PROMETHEUS_BASE = {
    "prometheus_project_dir": "{{ out }}/{{ inventory_hostname }}",
    "prometheus_image": "claude-code-walk.invalid/prometheus:none",
}
ALERTMANAGER_BASE = {
    "alertmanager_project_dir": "{{ out }}/{{ inventory_hostname }}",
    "alertmanager_image": "claude-code-walk.invalid/alertmanager:none",
}
JAEGER_BASE = {"jaeger_project_dir": "{{ out }}/{{ inventory_hostname }}"}
LOKI_BASE = {"loki_project_dir": "{{ out }}/{{ inventory_hostname }}"}
GRAFANA_BASE = {"grafana_project_dir": "{{ out }}/{{ inventory_hostname }}"}
WEB_SECURITY_BASE = {
    "web_security_name": "walk",
    "web_security_dir": "{{ out }}/{{ inventory_hostname }}/walk",
    "web_security_project_dir": "{{ out }}/{{ inventory_hostname }}",
    "web_security_container_dir": "/etc/walk",
}
# The roles walked, each with its group in the inventory and what its hosts share.
ROLES = {
    "client": ("client_variants", CLIENT_BASE),
    "otel_collector": ("collector_variants", {}),
    "prometheus": ("prometheus_variants", PROMETHEUS_BASE),
    "alertmanager": ("alertmanager_variants", ALERTMANAGER_BASE),
    "jaeger": ("jaeger_variants", JAEGER_BASE),
    "loki": ("loki_variants", LOKI_BASE),
    "web_security": ("web_security_variants", WEB_SECURITY_BASE),
    "grafana": ("grafana_variants", GRAFANA_BASE),
}
# What an option needs beside it to show in what is rendered.
NEEDS = {
    "alertmanager_smtp_require_tls": {
        "alertmanager_email_to": "team@example.org",
        "alertmanager_email_from": "alerts@example.org",
        "alertmanager_smtp_smarthost": "smtp.example.org:587",
    },
}
FALSE_SPELLINGS = ("false", "0", "no", "off", "False")
# A list item each strict list can hold, with what it needs beside it.
LIST_ITEMS = {
    "client_targets": ("managed_settings", {}),
    "client_users": ("root", {}),
    "otel_collector_extra_hosts": ("host.docker.internal:host-gateway", {}),
    "otel_collector_tls_sans": ("DNS:collector.example.org", {}),
    "otel_collector_logs_exporters": (
        "otlphttp/events",
        {"otel_collector_exporters": {"otlphttp/events": {"endpoint": "http://events:4318"}}},
    ),
    "otel_collector_traces_exporters": (
        "otlp/spans",
        {"otel_collector_exporters": {"otlp/spans": {"endpoint": "spans:4317"}}},
    ),
    "prometheus_web_tls_sans": ("DNS:prometheus.example.org", {}),
    "prometheus_collector_telemetry_targets": ("collector.example.org:8888", {}),
    "alertmanager_webhook_urls": ("http://hooks.example.org/alerts", {}),
    "alertmanager_web_tls_sans": ("DNS:alertmanager.example.org", {}),
    "loki_otlp_index_labels": ("service.name", {}),
    "web_security_sans": ("DNS:walk.example.org", {}),
    # A list of dicts: the command line's bare string, and the typed list's item.
    "grafana_extra_datasources": (
        "walk-datasource",
        {},
        {"name": "Walk", "uid": "walk", "type": "prometheus", "url": "http://walk.example.org:9090"},
    ),
}


def _variants():
    """(host, role, option, text as the command line gives it, the typed value, extra host vars)."""
    out = []
    for role in ROLES:
        for name, spec in load_options(role).items():
            kind, default = spec.get("type"), spec.get("default")
            if kind == "bool":
                # A false value given as text is true to a template: that is what a role reading the
                # variable as given gets wrong. Each option gets one, the spellings taking turns.
                spelling = FALSE_SPELLINGS[len(out) % len(FALSE_SPELLINGS)]
                values = [(spelling, False)]
            elif kind == "int":
                number = default + 1 if default else 4318
                values = [(str(number), number)]
            elif kind == "list":
                assert name in LIST_ITEMS, f"{name}: add a list item it can hold to LIST_ITEMS"
                item = LIST_ITEMS[name][0]
                values = [(item, [LIST_ITEMS[name][2] if len(LIST_ITEMS[name]) > 2 else item])]
            else:
                continue
            extra = {**LIST_ITEMS.get(name, (None, {}))[1], **NEEDS.get(name, {})}
            for index, (text, typed) in enumerate(values):
                out.append((f"{name}.{index}", role, name, text, typed, extra))
    return out


VARIANTS = _variants()


def _inventory(path: Path, server_dir: Path) -> Path:
    groups = {group: {"hosts": {}, "vars": base} for group, base in ROLES.values()}
    for host, role, name, _text, _typed, extra in VARIANTS:
        groups[ROLES[role][0]]["hosts"][host] = {name: "{{ walk_%s }}" % host.replace(".", "_"), **extra}
    path.write_text(
        json.dumps(
            {
                "all": {
                    "children": {
                        "observability_servers": {"hosts": {"obs1": {"ansible_host": "127.0.0.1"}}},
                        **groups,
                    },
                    "vars": {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": sys.executable,
                        "stack_project_dir": str(server_dir),
                    },
                }
            }
        )
    )
    return path


def _outputs(run, out: Path) -> dict:
    """Per host: what its debug task printed, and every file it wrote."""
    got = {}
    for play in run.data.get("plays", []):
        for task in play.get("tasks", []):
            for host, result in task.get("hosts", {}).items():
                if task["task"]["name"].startswith("What it"):
                    got.setdefault(host, {})["decided"] = json.loads(result["msg"])
                elif result.get("failed") and not result.get("ignore_errors"):
                    got.setdefault(host, {})["failed"] = result.get("msg", "")
    for host, outputs in got.items():
        folder = out / host
        files = sorted(folder.rglob("*")) if folder.exists() else []
        # The module's record next to the settings file names the directories it made: the run's own.
        outputs["files"] = {
            str(p.relative_to(folder)): p.read_bytes().replace(b"/%s/" % out.name.encode(), b"/<run>/")
            for p in files
            if p.is_file()
        }
    return got


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("typed-options")
    server = tmp / "server"
    (server / "otel-collector" / "pki").mkdir(parents=True)
    (server / "otel-collector" / "pki" / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n")
    inventory = _inventory(tmp / "hosts.json", server)
    runs, seconds = {}, {}
    for form in ("cli", "typed"):
        out = tmp / form
        out.mkdir()
        started = time.monotonic()
        if form == "cli":  # each value as text, exactly as -e name=value gives it
            args = [
                a for _h, _r, _n, text, _t, _e in VARIANTS for a in ("-e", "walk_%s=%s" % (_h.replace(".", "_"), text))
            ]
            run = run_playbook(inventory, {"out": str(out)}, *args, playbook=PLAYBOOK, timeout=600)
        else:
            typed = {"walk_%s" % h.replace(".", "_"): value for h, _r, _n, _x, value, _e in VARIANTS}
            run = run_playbook(inventory, {"out": str(out), **typed}, playbook=PLAYBOOK, timeout=600)
        seconds[form] = time.monotonic() - started
        runs[form] = (run, _outputs(run, out))
    print("typed options render: %s" % ", ".join("%s %.1fs" % item for item in seconds.items()))
    return runs


def test_every_bool_int_and_list_option_is_walked():
    walked = {(variant[1], variant[2]) for variant in VARIANTS}
    for role in ROLES:
        for name, spec in load_options(role).items():
            if spec.get("type") in ("bool", "int", "list"):
                assert (role, name) in walked
    assert len(walked) >= 35


@pytest.mark.parametrize(("host", "role", "name", "text", "typed", "extra"), VARIANTS, ids=[v[0] for v in VARIANTS])
def test_the_command_line_and_the_typed_value_render_the_same(renders, host, role, name, text, typed, extra):
    (_cli_run, cli), (typed_run, typ) = renders["cli"], renders["typed"]
    assert typed_run.rc == 0 and "failed" not in typ.get(host, {}), typed_run.explain()
    spec = load_options(role)[name]
    if spec["type"] == "list" and ONE_ITEM not in " ".join(spec.get("description") or []):
        # A bare string is refused before anything is rendered, naming the option and the fix.
        if spec.get("elements") == "dict":  # Ansible's own check of the spec refuses it first, naming it
            assert f"option '{name}'" in cli[host]["failed"], cli[host]
        else:
            assert cli[host]["failed"].count(f"{name} must be a list; got the string {text!r}.") == 1, cli[host]
        assert cli[host]["files"] == {}
        return
    assert "failed" not in cli[host], cli[host]["failed"]
    assert cli[host]["files"] == typ[host]["files"]
    # What each role decided; paths under the run's own directory differ by that directory only.
    decided = json.dumps(cli[host]["decided"], sort_keys=True).replace("/cli/", "/<run>/")
    assert decided == json.dumps(typ[host]["decided"], sort_keys=True).replace("/typed/", "/<run>/")
    assert cli[host]["decided"]["opts"][name] == typed


def test_false_on_the_command_line_is_false_in_what_is_written(renders):
    _run, cli = renders["cli"]
    env = json.loads(cli["client_log_user_prompts.0"]["files"]["managed-settings.json"])["env"]
    assert env["OTEL_LOG_USER_PROMPTS"] == "0"
    env = json.loads(cli["client_telemetry_enabled.0"]["files"]["managed-settings.json"])["env"]
    assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "0"
    env = json.loads(cli["client_include_session_id.0"]["files"]["managed-settings.json"])["env"]
    assert env["OTEL_METRICS_INCLUDE_SESSION_ID"] == "false"
    config = yaml.safe_load(cli["otel_collector_store_prompts.0"]["decided"]["config"])
    redacted = [a for a in config["processors"]["attributes/privacy"]["actions"] if a.get("value") == "<REDACTED>"]
    assert len(redacted) == 7
    command = cli["prometheus_admin_api.0"]["decided"]["compose"]["services"]["prometheus"]["command"]
    assert "--web.enable-admin-api" not in command and "--storage.tsdb.path=/prometheus" in command
    config = yaml.safe_load(cli["prometheus_web_security.0"]["files"]["prometheus/prometheus.yml"])
    assert "scheme" not in config["scrape_configs"][1]
    config = yaml.safe_load(cli["alertmanager_smtp_require_tls.0"]["files"]["alertmanager/alertmanager.yml"])
    assert config["global"]["smtp_require_tls"] is False
    assert "healthcheck" not in cli["jaeger_healthcheck.0"]["decided"]["compose"]["services"]["jaeger"]
    config = yaml.safe_load(cli["loki_ingestion_rate_mb.0"]["files"]["loki/loki.yaml"])
    assert config["limits_config"]["ingestion_rate_mb"] == 9
    assert "provisioning/alerting/claude.yml" not in cli["grafana_alerting.0"]["files"]
    env = cli["grafana_anonymous_access.0"]["decided"]["compose"]["services"]["grafana"]["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
