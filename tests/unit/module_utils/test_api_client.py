"""The shared HTTP JSON client: retries, what is never retried, error text, secrets."""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT / "tests"))

from ansible_collections.claude_code.observability.plugins.module_utils.api_client import (  # noqa: E402
    ApiClient,
    ApiError,
    redact_url,
    server_error_text,
)
from doubles.opensearch_plugins_double import PluginsDouble  # noqa: E402
from helpers import procs  # noqa: E402

POLICY = {"policy": {"description": "d", "default_state": "a", "states": [{"name": "a", "actions": []}]}}


@pytest.fixture
def double():
    d = PluginsDouble("admin", "pw-123456")
    d.url = d.start()
    yield d
    d.stop()


def client(url, sleeps=None, **kw):
    kw.setdefault("user", "admin")
    kw.setdefault("password", "pw-123456")
    return ApiClient(url, sleep=(sleeps.append if sleeps is not None else lambda s: None), **kw)


def test_retries_503_then_succeeds(double):
    double.fail_next = [503, 503]
    sleeps = []
    c = client(double.url, sleeps, retries=3)
    assert c.get("_plugins/_ism/policies/none", missing_ok=True) is None
    assert len(double.requests) == 3
    assert sleeps == [0.5, 1.0], "exponential backoff between attempts"


def test_gives_up_after_bounded_retries(double):
    double.fail_next = [502, 504, 503, 503]
    sleeps = []
    with pytest.raises(ApiError) as err:
        client(double.url, sleeps, retries=2).get("_plugins/_ism/policies/x")
    assert len(double.requests) == 3 and len(sleeps) == 2
    assert err.value.status == 503
    assert "injected HTTP 503" in err.value.message and "unavailable" in err.value.message


def test_backoff_is_capped(double):
    double.fail_next = [503] * 6
    sleeps = []
    with pytest.raises(ApiError):
        client(double.url, sleeps, retries=5, max_backoff=2.0).get("_plugins/_ism/policies/x")
    assert sleeps == [0.5, 1.0, 2.0, 2.0, 2.0]


def test_never_retries_a_4xx(double):
    double.fail_next = [400, 400]
    sleeps = []
    with pytest.raises(ApiError) as err:
        client(double.url, sleeps, retries=3).put("_plugins/_ism/policies/x", POLICY)
    assert len(double.requests) == 1 and sleeps == []
    assert err.value.status == 400


def test_post_is_not_retried_on_503(double):
    """A POST that reached the server may have been applied: sending it again could duplicate it."""
    double.fail_next = [503]
    with pytest.raises(ApiError):
        client(double.url, retries=3).post("_plugins/_query/_datasources", {"name": "x"})
    assert len(double.requests) == 1


def test_error_names_method_url_status_and_server_reason(double):
    c = client(double.url)
    c.put("_plugins/_ism/policies/p", POLICY)
    with pytest.raises(ApiError) as err:
        c.put("_plugins/_ism/policies/p", POLICY)
    msg = err.value.message
    assert msg.startswith(f"PUT {double.url}/_plugins/_ism/policies/p failed with HTTP 409: ")
    assert "version_conflict_engine_exception" in msg and "document already exists" in msg
    assert err.value.body["status"] == 409


def test_sql_plugin_error_details_are_surfaced(double):
    with pytest.raises(ApiError) as err:
        client(double.url).get("_plugins/_query/_datasources/nope")
    assert err.value.status == 404
    assert "DataSource with name nope doesn't exist." in err.value.message


def test_wrong_credentials_message_and_no_secret(double):
    with pytest.raises(ApiError) as err:
        client(double.url, password="wrong-pw-987").get("_plugins/_ism/policies/x")
    assert err.value.status == 401
    assert "Authentication failed: check the user/password or token options" in err.value.message
    assert "wrong-pw-987" not in err.value.message and "wrong-pw-987" not in repr(err.value.to_result())
    assert len(double.requests) == 1


def test_bearer_token_and_extra_headers():
    seen = {}

    class Capture(PluginsDouble):
        def handle(self, method, target, raw, headers):
            seen.update(headers.items())
            return 200, {"ok": True}, {}

    d = Capture()
    url = d.start()
    try:
        assert client(url, user=None, password=None, token="tok-abc", headers={"X-Scope": "1"}).get("x") == {"ok": True}
    finally:
        d.stop()
    assert seen["Authorization"] == "Bearer tok-abc" and seen["X-Scope"] == "1"


def test_connection_refused_is_retried_then_reported_without_traceback():
    port = procs.free_port()
    sleeps = []
    c = client(f"http://admin:pw-123456@127.0.0.1:{port}", sleeps, retries=2)
    with pytest.raises(ApiError) as err:
        c.get("_cluster/health")
    assert len(sleeps) == 2
    msg = err.value.message
    assert f"GET http://127.0.0.1:{port}/_cluster/health failed: cannot reach the server" in msg
    assert "Connection refused" in msg and "check the url option" in msg
    assert "pw-123456" not in msg and err.value.status is None


def test_post_is_retried_when_the_connection_was_refused():
    port = procs.free_port()
    sleeps = []
    with pytest.raises(ApiError):
        client(f"http://127.0.0.1:{port}", sleeps, retries=2).post("x", {"a": 1})
    assert len(sleeps) == 2, "nothing reached the server, so repeating a POST is safe"


def test_timeout_is_reported():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        port = listener.getsockname()[1]
        with pytest.raises(ApiError) as err:
            client(f"http://127.0.0.1:{port}", timeout=0.3, retries=1).get("slow")
        assert "timed out" in err.value.message and "timeout option" in err.value.message
        assert len(accepted) == 2, "a GET that timed out is retried once (retries=1)"
    finally:
        stop.set()
        t.join()
        for conn in accepted:
            conn.close()
        listener.close()


def test_secrets_from_server_text_are_masked():
    c = ApiClient("http://127.0.0.1:9", password="p4ss-word", secrets=["prom-secret"])
    assert c.redact("bad value p4ss-word and prom-secret") == "bad value ******** and ********"


def test_redact_url_and_query_building():
    assert redact_url("https://u:p@example.com:9200/x?y=1") == "https://example.com:9200/x?y=1"
    assert redact_url("http://example.com/x") == "http://example.com/x"
    c = ApiClient("http://h:1/prefix/")
    assert c.url_for("/a/b", {"if_seq_no": 3, "if_primary_term": 1, "skip": None}) == (
        "http://h:1/prefix/a/b?if_primary_term=1&if_seq_no=3"
    )


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (
            {"error": {"type": "mapper_parsing_exception", "reason": "No handler for type [x]"}, "status": 400},
            "mapper_parsing_exception: No handler for type [x]",
        ),
        (
            {
                "error": {
                    "type": "illegal_argument_exception",
                    "reason": "template invalid",
                    "caused_by": {"type": "a", "reason": "inner", "caused_by": {"type": "b", "reason": "root"}},
                }
            },
            "illegal_argument_exception: template invalid; caused by a: inner; caused by b: root",
        ),
        (
            {"error": {"type": "X", "reason": "Invalid Query", "details": "Missing [uri] fields"}, "status": 400},
            "X: Invalid Query; Missing [uri] fields",
        ),
        ({"message": "Dashboard not found"}, "Dashboard not found"),
        ({"error": "Not Found", "message": "Saved object [a] not found"}, "Not Found: Saved object [a] not found"),
        ("Unauthorized", "Unauthorized"),
        (None, ""),
    ],
)
def test_server_error_text(body, text):
    assert server_error_text(body) == text


def test_non_json_success_body_is_returned_as_text():
    class Text(PluginsDouble):
        def handle(self, method, target, raw, headers):
            return 200, b"plain words", {}

    d = Text()
    url = d.start()
    try:
        assert client(url).get("x") == "plain words"
    finally:
        d.stop()


def test_credentials_in_the_url_are_used_and_hidden(double):
    host = double.url.split("//", 1)[1]
    c = ApiClient(f"http://admin:pw-123456@{host}", sleep=lambda s: None)
    assert c.base_url == double.url
    assert c.get("_plugins/_ism/policies/none", missing_ok=True) is None
    assert "pw-123456" not in c.url_for("x")
