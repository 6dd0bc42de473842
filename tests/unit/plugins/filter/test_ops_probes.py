"""What status.yml and verify.yml ask each component: the probes the roles record."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import ops_probes as op  # noqa: E402
from ansible_collections.claude_code.observability.plugins.plugin_utils import probes  # noqa: E402

pytestmark = pytest.mark.unit

PROMETHEUS = {
    "title": "Prometheus",
    "url": "http://127.0.0.1:9090/",
    "last": {"path": "/api/v1/query?query=max", "pick": "data.result.0.value.1", "unit": "s"},
    "find": {
        "path": "/api/v1/query?query=sum%28x%7Bsession_id%3D%22__session__%22%7D%29",
        "count": "data.result",
        "value": "data.result.0.value.1",
    },
}
OPENSEARCH = {
    "title": "OpenSearch",
    "url": "https://127.0.0.1:9200",
    "user": "admin",
    "password_file": "/srv/opensearch/admin-password",
    "last": {
        "path": "/claude-code/_search",
        "body": {"size": 1},
        "pick": "hits.hits.0._source.@timestamp",
        "unit": "iso",
    },
    "find": {
        "path": "/claude-code/_search",
        "body": {"query": {"match_phrase": {"attributes.session_id": "__session__"}}},
        "count": "hits.total.value",
        "value": "hits.hits.0._source.attributes.cost_usd",
        "status": [200, 404],
    },
}
LOKI_ANSWER = {
    "data": {
        "result": [
            {"stream": {"a": "1"}, "values": [["1764680000000000000", "x"]]},
            {"stream": {"a": "2"}, "values": [["1764680001000000000", "y"], ["1764680002000000000", "z"]]},
        ]
    }
}


def test_a_dotted_path_picks_indexes_keys_and_flattens():
    assert probes.probe_pick({"data": {"result": [{"value": [1, "0.5"]}]}}, "data.result.0.value.1") == "0.5"
    assert probes.probe_pick(LOKI_ANSWER, "data.result[].values[]") == [
        ["1764680000000000000", "x"],
        ["1764680001000000000", "y"],
        ["1764680002000000000", "z"],
    ]
    assert probes.probe_pick({"hits": {"hits": []}}, "hits.hits.0._source") is None
    assert probes.probe_pick({"a": {"@timestamp": "t"}}, "a.@timestamp") == "t"
    assert probes.probe_pick({"data": {"result": []}}, "data.result[].values[]") == []


def test_a_request_carries_the_session_and_trace_ids_and_the_expected_answers():
    request = op.probe_request(OPENSEARCH, "find", "verify-a-1")
    assert request == {
        "url": "https://127.0.0.1:9200/claude-code/_search",
        "method": "POST",
        "body": {"query": {"match_phrase": {"attributes.session_id": "verify-a-1"}}},
        "status": [200, 404],
    }
    prom = op.probe_request(PROMETHEUS, "find", "verify-a-1")
    assert prom["method"] == "GET" and prom["body"] is None
    assert prom["url"] == "http://127.0.0.1:9090/api/v1/query?query=sum%28x%7Bsession_id%3D%22verify-a-1%22%7D%29"
    traced = op.probe_request({"url": "http://j", "find": {"path": "/api/traces/__trace__"}}, "find", "s", "ab12")
    assert traced["url"] == "http://j/api/traces/ab12"


@pytest.mark.parametrize(
    ("probe", "kind", "message"),
    [
        ({"title": "X"}, "last", "needs the url"),
        (PROMETHEUS, "health", "the probe of Prometheus has no health request"),
        (PROMETHEUS, "lastt", "kind must be one of last, find, health"),
    ],
)
def test_a_probe_without_the_request_asked_for_is_named(probe, kind, message):
    with pytest.raises(AnsibleFilterError, match=message):
        op.probe_request(probe, kind)


def test_the_newest_data_point_reads_in_every_unit():
    prom = {"data": {"result": [{"value": [1, "1764680000.123"]}]}}
    assert probes.probe_last(prom, PROMETHEUS) == "2025-12-02 12:53:20 UTC"
    loki = {"title": "Loki", "last": {"pick": "data.result.0.values.0.0", "unit": "ns"}}
    assert probes.probe_last(LOKI_ANSWER, loki) == "2025-12-02 12:53:20 UTC"
    opensearch = {"hits": {"hits": [{"_source": {"@timestamp": "2026-12-02T10:00:00.000Z"}}]}}
    assert probes.probe_last(opensearch, OPENSEARCH) == "2026-12-02T10:00:00.000Z"
    assert probes.probe_last({"data": {"result": []}}, PROMETHEUS) == ""
    with pytest.raises(AnsibleFilterError, match="is not a time in s"):
        probes.probe_last({"data": {"result": [{"value": [1, "soon"]}]}}, PROMETHEUS)


def test_verify_finds_exactly_one_match_with_the_cost_sent():
    answer = {"data": {"result": [{"value": [1, "0.0123"]}]}}
    assert op.probe_found(answer, PROMETHEUS, 0.0123) is True
    assert op.probe_found(answer, PROMETHEUS, 0.0124) is False
    assert op.probe_found({"data": {"result": []}}, PROMETHEUS, 0.0123) is False
    two = {"data": {"result": [{"value": [1, "0.0123"]}, {"value": [1, "0.0123"]}]}}
    assert op.probe_found(two, PROMETHEUS, 0.0123) is False
    hits = {"hits": {"total": {"value": 1}, "hits": [{"_source": {"attributes": {"cost_usd": 0.0123}}}]}}
    assert op.probe_found(hits, OPENSEARCH, 0.0123) is True
    assert op.probe_found({"hits": {"total": {"value": 2}, "hits": []}}, OPENSEARCH, 0.0123) is False
    loki = {"find": {"count": "data.result[].values[]"}}
    assert op.probe_found(LOKI_ANSWER, loki) is False  # three events
    one = {"data": {"result": [{"values": [["1", "x"]]}]}}
    assert op.probe_found(one, loki, 0.0123) is True  # no value to compare: the one event is enough


def _result(name, probe, kind, status, **extra):
    return dict({"item": {"key": name, "value": probe}, "status": status}, **extra)


def test_status_lines_and_what_is_down():
    collector = {"title": "Collector", "url": "http://127.0.0.1:13133", "health": {"path": ""}}
    health = [_result("otel_collector", collector, "health", 200)]
    last = [
        _result("prometheus", PROMETHEUS, "last", 200, json={"data": {"result": []}}),
        _result("opensearch", OPENSEARCH, "last", 404, json={}),
    ]
    assert op.probe_health_line(health[0]) == "Collector health: ok"
    assert op.probe_last_line(last[0]) == "last Claude Code data in Prometheus: none yet"
    assert op.probe_last_line(last[1]).startswith("OpenSearch: NOT answering")
    assert op.probe_down(health, last) == ["OpenSearch"]  # 404 is not in its last request's [200]
    refused = _result("otel_collector", collector, "health", -1, msg="Connection refused")
    assert op.probe_health_line(refused) == "Collector health: NOT answering (Connection refused)"
    assert op.probe_down([refused], []) == ["Collector"]


def test_logins_come_from_the_password_files_and_backends_from_the_first_host_that_has_them():
    content = base64.b64encode(b"s3cr3t\n").decode()
    results = [
        {"item": {"key": "opensearch", "value": {"host": "store", "probe": OPENSEARCH}}, "content": content},
        {"item": {"key": "loki", "value": {}}, "skipped": True},
    ]
    token = base64.b64encode(b"admin:s3cr3t").decode()
    assert op.probe_logins(results) == {"opensearch": {"Authorization": "Basic " + token}}
    here = {"host": "ingest", "endpoints": {"probes": {"loki": {"title": "Loki", "url": "u", "find": {"path": "/"}}}}}
    remote = op.probe_host_endpoints(
        {"item": "store", "content": base64.b64encode(json.dumps({"probes": {"opensearch": OPENSEARCH}}).encode())}
    )
    other = {"host": "ui", "endpoints": {"probes": {"loki": {"title": "Loki", "url": "v", "find": {"path": "/"}}}}}
    collector = {"host": "x", "endpoints": {"probes": {"otel_collector": {"title": "C", "url": "c", "health": {}}}}}
    backends = op.probe_backends([here, remote, other, collector])
    assert backends == {
        "loki": {"host": "ingest", "probe": here["endpoints"]["probes"]["loki"]},
        "opensearch": {"host": "store", "probe": OPENSEARCH},
    }
    line = op.probe_where({"key": "opensearch", "value": backends["opensearch"]}, "verify-1")
    assert line == "OpenSearch (on store): https://127.0.0.1:9200/claude-code/_search"
    graph = dict(PROMETHEUS, look="/graph?g0.expr=x%7Bs%3D%22__session__%22%7D")
    line = op.probe_where({"key": "prometheus", "value": {"host": "h", "probe": graph}}, "verify-1")
    assert line == "Prometheus (on h): http://127.0.0.1:9090/graph?g0.expr=x%7Bs%3D%22verify-1%22%7D"
