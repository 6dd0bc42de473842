"""Claude Code's traces in Jaeger v2, with the REAL Jaeger binary (the test bed's stand-in image, built
from cmd/jaeger of the Go module at the release the role pins) and the REAL collector image.

The jaeger role is rendered through its component contract (tasks/component.yml with a hand-built
`component`); the compose service it publishes and a collector whose traces pipeline ends in the
exporter it publishes make one compose project. The captured Claude Code spans go in over OTLP/HTTP
and are read back through Jaeger's query API, also after a restart and after a config change
recreates the container (badger keeps them in the named volume)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import uuid
from pathlib import Path

import pytest
import yaml
from helpers import otlp, playbook, procs

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.claude_code.observability.plugins.filter.otel_collector_config import (  # noqa: E402
    otel_collector_config,
)

pytestmark = pytest.mark.testbed

SESSIONS = ("tool-session", "error-session")
PLAYBOOK = """\
- name: Render Jaeger as the stack would, and write what it publishes
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Include the component contract of the jaeger role
      ansible.builtin.include_role:
        name: claude_code.observability.jaeger
        tasks_from: component.yml
    - name: Write the record
      ansible.builtin.copy:
        dest: "{{ published_out }}"
        content: "{{ jaeger_component | to_nice_json }}"
        mode: "0644"
"""


def _compose(project: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", "compose", "-p", project, *args], capture_output=True, text=True, check=False)
    if check:
        assert proc.returncode == 0, f"docker compose {' '.join(args)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _render(tmp: Path, extra: dict) -> dict:
    book = tmp / "jaeger_component.yml"
    book.write_text(PLAYBOOK)
    out = tmp / "published.json"
    playbook.run(str(book), {**extra, "published_out": str(out)})
    return json.loads(out.read_text())


def _container_id(project: str, service: str) -> str:
    return _compose(project, "ps", "-q", service).stdout.strip()


def _sent_traces() -> dict:
    """trace id -> {session, span ids} of every captured span, and the payloads (moved to now)."""
    traces, payloads = {}, []
    for session in SESSIONS:
        for signal, payload in otlp.session_payloads(session):
            if signal != "traces":
                continue
            payloads.append(payload)
            for rs in payload["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    for span in ss["spans"]:
                        attrs = otlp.attrs(span["attributes"])
                        entry = traces.setdefault(span["traceId"], {"session": attrs["session.id"], "spans": set()})
                        entry["spans"].add(span["spanId"])
    return {"traces": traces, "payloads": payloads}


@pytest.fixture(scope="module")
def jaeger(testbed, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jaeger")
    name = f"cco-jaeger-{uuid.uuid4().hex[:6]}"
    project_dir = tmp / name
    port, otlp_http = procs.free_port(), procs.free_port()
    extra = {
        "component": {
            "name": "jaeger",
            "here": True,
            "external": False,
            "used_here": True,
            "project_dir": str(project_dir),
            "project_name": name,
            "bind_address": "127.0.0.1",
            "otlp_bind_address": "127.0.0.1",
            "peers": {
                "jaeger": {
                    "url": "http://jaeger:16686",
                    "target": "jaeger:16686",
                    "host": "localhost",
                    "here": True,
                    "external": False,
                }
            },
            "published": {},
            "scrape_targets": [],
            "wait_timeout": 120,
        },
        "jaeger_image": testbed["JAEGER_IMAGE"],
        "jaeger_port": port,
        # The captured sessions are Claude Code's own, not verify.yml's.
        "jaeger_probe_service": "claude-code",
    }
    published = _render(tmp, extra)
    otel = published["otel"]
    collector = otel_collector_config(
        {
            # No metrics are sent here; the pipeline needs an endpoint all the same.
            "metrics_endpoint": "http://127.0.0.1:9/api/v1/otlp/v1/metrics",
            "queue_directory": "",
            "spanmetrics": False,
            "exporters": otel["exporters"],
            "traces_exporters": otel["pipelines"]["traces"],
        }
    )
    (project_dir / "otelcol.yaml").write_text(yaml.safe_dump(collector, sort_keys=False))
    compose = {
        "name": name,
        "services": {
            **published["compose"]["services"],
            "otel-collector": {
                "image": testbed["OTELCOL_IMAGE"],
                "command": ["--config", "/etc/otelcol-contrib/config.yaml"],
                "volumes": ["./otelcol.yaml:/etc/otelcol-contrib/config.yaml:ro"],
                "ports": [f"127.0.0.1:{otlp_http}:4318"],
                "depends_on": {"jaeger": {"condition": "service_healthy"}},
            },
        },
        "volumes": published["compose"]["volumes"],
    }
    (project_dir / "compose.yaml").write_text(yaml.safe_dump(compose, sort_keys=False))
    try:
        _compose(name, "--project-directory", str(project_dir), "up", "-d", "--wait", "--wait-timeout", "120")
        yield {
            "name": name,
            "dir": project_dir,
            "tmp": tmp,
            "extra": extra,
            "published": published,
            "api": f"http://127.0.0.1:{port}",
            "otlp_http": f"http://127.0.0.1:{otlp_http}",
            "sent": _sent_traces(),
        }
    finally:
        _compose(name, "--project-directory", str(project_dir), "down", "-v", check=False)


def _wait_for_every_trace(jaeger, what: str):
    api, traces = jaeger["api"], jaeger["sent"]["traces"]

    def complete():
        found = {}
        for trace_id, sent in traces.items():
            try:
                answer = procs.http_json(f"{api}/api/traces/{trace_id}")
            except OSError:  # 404 until the trace is stored, refused while Jaeger starts
                return None
            (trace,) = answer["data"]
            if {s["spanID"] for s in trace["spans"]} != sent["spans"]:
                return None
            found[trace_id] = trace
        return found

    return procs.wait_for(complete, timeout=90, interval=1, what=what)


@pytest.fixture(scope="module")
def stored(jaeger):
    """Send the captured spans through the collector; every trace is then in Jaeger whole."""
    for payload in jaeger["sent"]["payloads"]:
        assert otlp.post(jaeger["otlp_http"], "traces", payload) == 200
    return _wait_for_every_trace(jaeger, "every captured trace in Jaeger")


def test_the_role_publishes_the_contracts_record(jaeger):
    published = jaeger["published"]
    assert set(published) == {"compose", "otel", "datasources", "endpoints", "health", "summary", "probe"}
    assert published["otel"] == {
        "exporters": {"otlp/jaeger": {"endpoint": "jaeger:4317", "tls": {"insecure": True}, "timeout": "10s"}},
        "pipelines": {"traces": ["otlp/jaeger"]},
    }
    service = published["compose"]["services"]["jaeger"]
    # On loopback nobody else sends here: only the query port is published.
    assert service["ports"] == [f"127.0.0.1:{jaeger['api'].rsplit(':', 1)[1]}:16686"]
    assert published["endpoints"] == {"url": jaeger["api"]}
    assert published["summary"] == [f"Jaeger: {jaeger['api']} (traces of Claude Code sessions)"]
    (source,) = published["datasources"]
    assert source["uid"] == "claude-code-jaeger" and source["url"] == "http://jaeger:16686"
    assert source["jsonData"]["tracesToLogsV2"]["datasourceUid"] == "claude-code-loki"
    config = yaml.safe_load((jaeger["dir"] / "jaeger" / "config.yaml").read_text())
    assert "badger" in config["extensions"]["jaeger_storage"]["backends"]["claude_code"]


def test_compose_reports_jaeger_healthy_and_the_health_url_answers(jaeger):
    state = json.loads(_compose(jaeger["name"], "ps", "--format", "json", "jaeger").stdout.splitlines()[0])
    assert state["Health"] == "healthy"
    health = jaeger["published"]["health"]
    assert procs.http_json(health["url"])["data"] is not None


def test_jaeger_answers_every_captured_trace_by_its_id(jaeger, stored):
    sent = jaeger["sent"]["traces"]
    assert len(sent) == len(SESSIONS)
    for trace_id, trace in stored.items():
        assert len(trace["spans"]) == len(sent[trace_id]["spans"])
        processes = {p["serviceName"] for p in trace["processes"].values()}
        assert processes == {"claude-code"}
        for span in trace["spans"]:
            tags = {t["key"]: t["value"] for t in span["tags"]}
            assert tags["session.id"] == sent[trace_id]["session"]


def test_jaeger_lists_the_service_and_its_traces(jaeger, stored):
    api = jaeger["api"]
    assert procs.http_json(f"{api}/api/services")["data"] == ["claude-code"]
    found = procs.http_json(f"{api}/api/traces?service=claude-code&limit=50")["data"]
    assert {t["traceID"]: len(t["spans"]) for t in found} == {
        trace_id: len(sent["spans"]) for trace_id, sent in jaeger["sent"]["traces"].items()
    }
    operations = {o["name"] for o in procs.http_json(f"{api}/api/operations?service=claude-code")["data"]}
    assert {"claude_code.interaction", "claude_code.llm_request", "claude_code.tool"} <= operations


def test_the_probe_finds_one_sessions_trace(jaeger, stored):
    find = jaeger["published"]["probe"]["find"]
    for trace_id, sent in jaeger["sent"]["traces"].items():
        assert find["signal"] == "traces"
        path = find["path"].replace("__session__", urllib.parse.quote(sent["session"]))
        answer = procs.http_json(jaeger["published"]["probe"]["url"] + path, method=find["method"])
        assert len(answer[find["count"]]) == 1
        assert answer["data"][0]["traceID"] == trace_id


def test_grafana_reaches_jaeger_at_the_datasource_url_inside_the_project(jaeger, stored):
    """Another container of the project (the collector's image has wget) asks the data source's URL."""
    url = jaeger["published"]["datasources"][0]["url"] + "/api/services"
    out = _compose(jaeger["name"], "exec", "-T", "otel-collector", "wget", "-q", "-O", "-", url).stdout
    assert json.loads(out)["data"] == ["claude-code"]


def test_traces_survive_a_restart_and_a_recreate_by_a_changed_config(jaeger, stored):
    name, project_dir = jaeger["name"], str(jaeger["dir"])
    before = _container_id(name, "jaeger")
    _compose(name, "restart", "jaeger")
    _compose(name, "--project-directory", project_dir, "up", "-d", "--wait", "--wait-timeout", "120")
    after_restart = _wait_for_every_trace(jaeger, "every trace after a restart")
    assert {k: len(v["spans"]) for k, v in after_restart.items()} == {k: len(v["spans"]) for k, v in stored.items()}

    # A changed retention changes the config-hash label: compose recreates only Jaeger.
    changed = _render(jaeger["tmp"], {**jaeger["extra"], "jaeger_retention": "720h"})
    service = changed["compose"]["services"]["jaeger"]
    old = jaeger["published"]["compose"]["services"]["jaeger"]
    assert service["labels"] != old["labels"]
    compose_file = jaeger["dir"] / "compose.yaml"
    compose = yaml.safe_load(compose_file.read_text())
    compose["services"]["jaeger"] = service
    compose_file.write_text(yaml.safe_dump(compose, sort_keys=False))
    collector = _container_id(name, "otel-collector")
    _compose(name, "--project-directory", project_dir, "up", "-d", "--wait", "--wait-timeout", "120")
    assert _container_id(name, "jaeger") != before
    assert _container_id(name, "otel-collector") == collector
    config = yaml.safe_load((jaeger["dir"] / "jaeger" / "config.yaml").read_text())
    assert config["extensions"]["jaeger_storage"]["backends"]["claude_code"]["badger"]["ttl"]["spans"] == "720h"
    after_recreate = _wait_for_every_trace(jaeger, "every trace after the container was recreated")
    assert set(after_recreate) == set(stored)
