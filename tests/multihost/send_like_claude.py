"""Runs inside a client host: read the telemetry settings the client role wrote
to ~/.claude/settings.json, as Claude Code does at start-up, and export one
session's metrics with them over OTLP/HTTP (JSON)."""

import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


def main(cost, mode="as-configured"):
    settings = json.load(open(os.path.expanduser("~/.claude/settings.json")))
    env = settings["env"]
    if env.get("CLAUDE_CODE_ENABLE_TELEMETRY") != "1":
        sys.exit("telemetry is not enabled in settings.json")
    resource = []
    for pair in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        if pair:
            key, value = pair.split("=", 1)
            resource.append({"key": key, "value": {"stringValue": urllib.parse.unquote(value)}})
    resource.append({"key": "service.name", "value": {"stringValue": "claude-code"}})
    headers = {"Content-Type": "application/json"}
    for pair in env.get("OTEL_EXPORTER_OTLP_HEADERS", "").split(","):
        if pair:
            key, value = pair.split("=", 1)
            headers[key] = value
    now = time.time_ns()
    attrs = [
        {"key": "session.id", "value": {"stringValue": str(uuid.uuid4())}},
        {"key": "user.id", "value": {"stringValue": "multi-host"}},
    ]
    point = {
        "attributes": attrs + [{"key": "model", "value": {"stringValue": "claude-opus-5-5"}}],
        "startTimeUnixNano": str(now - 10**9),
        "timeUnixNano": str(now),
        "asDouble": cost,
    }
    body = {
        "resourceMetrics": [
            {
                "resource": {"attributes": resource},
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "claude_code.cost.usage",
                                "unit": "USD",
                                "sum": {"aggregationTemporality": 1, "isMonotonic": True, "dataPoints": [point]},
                            }
                        ]
                    }
                ],
            }
        ]
    }
    endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/")
    ctx = None
    if endpoint.startswith("https://"):
        ctx = ssl.create_default_context(cafile=env.get("OTEL_EXPORTER_OTLP_CERTIFICATE"))
    # The refusal checks: the same send without the token, or in plain text.
    if mode == "no-token":
        headers.pop("Authorization", None)
    elif mode == "plain-text":
        endpoint = "http://" + endpoint.split("://", 1)[1]
        ctx = None
    req = urllib.request.Request(
        endpoint + "/v1/metrics", data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:
            print(resp.status)
    except urllib.error.HTTPError as exc:
        print(exc.code)
    except (urllib.error.URLError, ConnectionError) as exc:
        print("refused: %s" % exc)


if __name__ == "__main__":
    main(float(sys.argv[1]), *sys.argv[2:])
