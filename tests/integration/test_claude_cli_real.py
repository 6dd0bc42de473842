"""The real Claude Code CLI (from the npm registry), configured by the client role, talking to a
local stand-in for the Messages API and exporting through the real built OpenTelemetry Collector
into a small OTLP/JSON sink. Proves that what the role writes is what Claude Code obeys."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import client_otlp_sink  # noqa: E402
from client_playbook import run_playbook, temp_users, write_inventory  # noqa: E402
from helpers import procs  # noqa: E402
from helpers.claude_cli import CLI_VERSION  # noqa: E402
from stand_ins import messages_api  # noqa: E402

TOKEN = "obs-ingress-7d1e0c"
MANAGED = Path("/etc/claude-code/managed-settings.json")

COLLECTOR = """
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc_port}
        auth:
          authenticator: bearertokenauth
      http:
        endpoint: 127.0.0.1:{http_port}
        auth:
          authenticator: bearertokenauth
extensions:
  health_check:
    endpoint: 127.0.0.1:{health_port}
  bearertokenauth:
    token: {token}
exporters:
  otlphttp:
    endpoint: {sink}
    encoding: json
    compression: none
    retry_on_failure:
      enabled: false
service:
  extensions: [health_check, bearertokenauth]
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [otlphttp]
    logs:
      receivers: [otlp]
      exporters: [otlphttp]
"""


@pytest.fixture
def stack(otelcol, tmp_path):
    """Messages API stand-in + OTLP/JSON sink + the real collector (gRPC and HTTP, bearer token)."""
    ports = {k: procs.free_port() for k in ("grpc_port", "http_port", "health_port")}
    with client_otlp_sink.serve() as sink, messages_api.serve() as api:
        config = COLLECTOR.format(token=TOKEN, sink=sink.url, **ports)
        with otelcol(config, ports["health_port"]):
            yield {"sink": sink, "api": api, "tmp": tmp_path, **ports}


def run_claude(exe: Path, user, api_url: str, prompt: str, *args: str) -> dict:
    env = [
        f"HOME={user.pw_dir}",
        f"USER={user.pw_name}",
        "PATH=/usr/local/bin:/usr/bin:/bin",
        f"ANTHROPIC_BASE_URL={api_url}",
        "ANTHROPIC_API_KEY=sk-ant-test-dummy",
        "DISABLE_AUTOUPDATER=1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
    ]
    proc = subprocess.run(
        [
            "runuser",
            "-u",
            user.pw_name,
            "--",
            "env",
            "-i",
            *env,
            str(exe),
            "-p",
            prompt,
            "--output-format",
            "json",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=user.pw_dir,
        check=False,
    )
    assert proc.returncode == 0, f"claude failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout)


def role_vars(user, stack, **extra) -> dict:
    return {
        "client_users": [user.pw_name],
        "client_otlp_host": "127.0.0.1",
        "client_otlp_headers": {"Authorization": f"Bearer {TOKEN}"},
        "client_resource_attributes": {"machine.name": "laptop-07"},
        "client_resource_attributes_extra": {"team": "platform eng, core"},
        "client_metric_export_interval": 1000,
        "client_logs_export_interval": 500,
        "client_unreachable_action": "fail",
        **extra,
    }


def assert_telemetry(sink, prompt_marker: str) -> None:
    sink.wait(
        lambda s: (
            {"claude_code.session.count", "claude_code.cost.usage", "claude_code.token.usage"} <= s.metric_names()
            and {"user_prompt", "api_request"} <= s.event_names()
        ),
        timeout=45,
        what="Claude Code metrics and events",
    )
    for signal in ("metrics", "logs"):
        for resource in sink.resources(signal):
            attrs = client_otlp_sink.attributes(resource["resource"]["attributes"])
            assert attrs["service.name"] == "claude-code" and attrs["service.version"] == CLI_VERSION
            # Set by the role, percent-encoded in the settings file, decoded by Claude Code.
            assert attrs["machine.name"] == "laptop-07", attrs
            assert attrs["team"] == "platform eng, core", attrs
    prompts = [
        client_otlp_sink.attributes(rec["attributes"])
        for r in sink.resources("logs")
        for sl in r["scopeLogs"]
        for rec in sl["logRecords"]
        if client_otlp_sink.attributes(rec["attributes"]).get("event.name") == "user_prompt"
    ]
    # Prompt logging is off unless asked for: the text must not leave the machine.
    assert prompts and all(p["prompt"] == "<REDACTED>" for p in prompts), prompts
    assert all(prompt_marker not in json.dumps(r) for r in sink.resources("logs"))


def test_user_settings_drive_the_real_cli(claude_bin, stack):
    sink, api = stack["sink"], stack["api"]
    inventory = write_inventory(stack["tmp"] / "hosts.json")
    with temp_users(1) as (user,):
        variables = role_vars(user, stack, client_otlp_protocol="http/protobuf", client_otlp_port=stack["http_port"])
        res = run_playbook(inventory, variables)
        assert res.rc == 0, res.explain()
        settings = Path(user.pw_dir) / ".claude" / "settings.json"
        assert settings.stat().st_uid == user.pw_uid

        out = run_claude(claude_bin, user, api.url, "secret-prompt-4711 say hi")
        assert out["result"] == messages_api.REPLY and out["is_error"] is False, out
        assert any(r["path"] == "/v1/messages" for r in api.requests)
        assert_telemetry(sink, "secret-prompt-4711")

        # Taken back out: the same CLI run sends nothing any more.
        res = run_playbook(inventory, {**variables, "client_state": "absent"})
        assert res.rc == 0, res.explain()
        assert not settings.exists()
        before = (len(sink.payloads["metrics"]), len(sink.payloads["logs"]))
        run_claude(claude_bin, user, api.url, "say hi again")
        procs.wait_for(lambda: len(api.requests) >= 2, timeout=10, what="second API request")
        time.sleep(3)
        assert (len(sink.payloads["metrics"]), len(sink.payloads["logs"])) == before


def test_managed_settings_drive_the_real_cli(claude_bin, stack):
    """Organisation-managed settings at the real path Claude Code reads (it has no override), over gRPC."""
    if MANAGED.exists() or MANAGED.parent.exists():
        pytest.fail(
            f"{MANAGED.parent} exists on this machine; this test writes the real managed settings and "
            "will not touch an administrator's file: run it on a machine without one"
        )
    sink, api = stack["sink"], stack["api"]
    inventory = write_inventory(stack["tmp"] / "hosts.json")
    try:
        with temp_users(1) as (user,):
            variables = role_vars(
                user,
                stack,
                client_targets=["managed_settings"],
                client_otlp_protocol="grpc",
                client_otlp_port=stack["grpc_port"],
            )
            res = run_playbook(inventory, variables)
            assert res.rc == 0, res.explain()
            assert MANAGED.stat().st_mode & 0o777 == 0o644
            assert not (Path(user.pw_dir) / ".claude" / "settings.json").exists()
            out = run_claude(claude_bin, user, api.url, "secret-prompt-0815 say hi")
            assert out["result"] == messages_api.REPLY, out
            assert_telemetry(sink, "secret-prompt-0815")

            res = run_playbook(inventory, {**variables, "client_state": "absent"})
            assert res.rc == 0, res.explain()
            assert not MANAGED.parent.exists()
    finally:
        if MANAGED.exists():
            MANAGED.unlink()
        if MANAGED.parent.exists() and not any(MANAGED.parent.iterdir()):
            MANAGED.parent.rmdir()


def test_cost_of_a_real_session_survives_a_collector_restart(claude_bin, testbed, tmp_path):
    """The real CLI, configured by the client role, sends through the real collector (the role's
    config) to the real Prometheus. The collector restarts between two of the session's exports
    (after the first process of the session, before it is resumed): Prometheus' total for the
    session equals what the CLI itself reports it spent, to 1e-9."""
    from helpers import metrics_path  # noqa: PLC0415

    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    prom = metrics_path.Prometheus(testbed, tmp_path / "prom").start()
    col = metrics_path.Collector(testbed, tmp_path / "otelcol", prom.otlp, bearer_token_file=str(token_file)).start()
    inventory = write_inventory(tmp_path / "hosts.json")
    try:
        with messages_api.serve() as api, temp_users(1) as (user,):
            variables = role_vars(
                user,
                {},
                client_otlp_protocol="http/protobuf",
                client_otlp_port=col.ports["http"],
                client_resource_attributes={"machine.name": "restart-box"},
            )
            res = run_playbook(inventory, variables)
            assert res.rc == 0, res.explain()
            expr = 'sum(sum_over_time(claude_code_cost_usage_USD{machine_name="restart-box"}[1h]))'
            first = run_claude(claude_bin, user, api.url, "say hi", "--session-id", SESSION)
            metrics_path.wait_value(prom, expr, float(first["total_cost_usd"]), timeout=60)
            col.restart()
            second = run_claude(claude_bin, user, api.url, "say hi again", "--resume", SESSION)
            # The resumed process reports the whole session's spend, its first process included.
            spent = float(second["total_cost_usd"])
            assert second["session_id"] == first["session_id"] == SESSION
            assert spent > float(first["total_cost_usd"]), (first, second)
            metrics_path.wait_value(prom, expr, spent, timeout=60)
            sessions = prom.query(
                'sum by (session_id) (sum_over_time(claude_code_cost_usage_USD{machine_name="restart-box"}[1h]))'
            )
            assert [s["metric"]["session_id"] for s in sessions] == [SESSION]
    finally:
        col.kill()
        prom.stop()


SESSION = "5f0c3a52-9d1e-4a57-8c1b-2b7d6e4f9a10"
