"""OTLP ingress with TLS and a bearer token: configured clients get through,
unauthenticated and plain-text sends are refused."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.error
import urllib.request
import uuid

import grpc
import pytest
from helpers import deploy, load, otlp, playbook
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc

TOKEN = "s3cret-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def secure_stack(testbed, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "server.crt", tmp / "server.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=otlp.test",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    extra = deploy.stack_vars(
        testbed,
        tmp,
        "tls",
        {
            "otel_collector_bearer_token": TOKEN,
            "otel_collector_tls_cert_file": str(cert),
            "otel_collector_tls_key_file": str(key),
        },
    )
    proc, _recap = playbook.run("site.yml", extra)
    assert TOKEN not in proc.stdout  # the token never shows in the play output
    extra["_ca"] = str(cert)
    yield extra
    deploy.down(extra)


def _post(url, headers, ctx=None):
    payload = otlp.session_payloads("tool-session")[-1][1]
    req = urllib.request.Request(
        url, data=json.dumps(payload).encode(), method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_http_needs_tls_and_the_token(secure_stack):
    ctx = ssl.create_default_context(cafile=secure_stack["_ca"])
    port = secure_stack["otel_collector_otlp_http_port"]
    url = f"https://127.0.0.1:{port}/v1/metrics"
    assert _post(url, {"Authorization": f"Bearer {TOKEN}"}, ctx) == 200
    assert _post(url, {}, ctx) == 401
    assert _post(url, {"Authorization": "Bearer wrong"}, ctx) == 401
    plain = f"http://127.0.0.1:{port}/v1/metrics"
    try:
        status = _post(plain, {"Authorization": f"Bearer {TOKEN}"})
    except (urllib.error.URLError, ConnectionError) as exc:
        status = exc
    assert status != 200, "a plain-text send was accepted"


def test_grpc_needs_tls_and_the_token(secure_stack):
    target = f"127.0.0.1:{secure_stack['otel_collector_otlp_grpc_port']}"
    payload = load.to_grpc_request(otlp.session_payloads("tool-session")[-1][1])
    creds = grpc.ssl_channel_credentials(root_certificates=open(secure_stack["_ca"], "rb").read())
    with grpc.secure_channel(target, creds) as channel:
        stub = metrics_service_pb2_grpc.MetricsServiceStub(channel)
        stub.Export(payload, metadata=[("authorization", f"Bearer {TOKEN}")], timeout=10)
        with pytest.raises(grpc.RpcError) as denied:
            stub.Export(payload, timeout=10)
        assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with grpc.insecure_channel(target) as channel:
        stub = metrics_service_pb2_grpc.MetricsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as plain:
            stub.Export(payload, metadata=[("authorization", f"Bearer {TOKEN}")], timeout=10)
        assert plain.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL)


def test_second_run_changes_nothing(secure_stack):
    _proc, recap = playbook.run("site.yml", {k: v for k, v in secure_stack.items() if not k.startswith("_")})
    assert recap["localhost"]["changed"] == 0
