"""The stack's side of the component contract (docs/components.md): catalogs,
what each role is told, and how what the roles publish is checked and merged."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import stack_components as sc  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import stack_placement as sp  # noqa: E402
from ansible_collections.claude_code.observability.plugins.plugin_utils import components  # noqa: E402

pytestmark = pytest.mark.unit

FLAVOURS = yaml.safe_load((ROOT / "roles" / "stack" / "vars" / "main.yml").read_text())["stack__flavours"]
OPTIONS = {
    "project_dir": "/srv/obs",
    "project_name": "obs",
    "bind_address": "127.0.0.1",
    "shared_bind": "10.0.0.5",
    "otlp_bind_address": "0.0.0.0",
    "wait_timeout": 60,
    "project_dirs": {"store": "/srv/store", "ingest": "/srv/ingest"},
}
SPLIT = {
    "store": {"ansible_host": "10.0.0.5", "stack_components": ["prometheus", "opensearch", "loki", "grafana"]},
    "ingest": {"ansible_host": "10.0.0.6", "stack_components": ["otel_collector"]},
}


def catalog(flavour="both", alertmanager=True):
    return sc.stack_catalog(
        FLAVOURS[flavour],
        {"stack_alertmanager": alertmanager, "jaeger_enabled": True, "opensearch_dashboards_enabled": True},
    )


def test_every_flavour_names_only_roles_that_fulfil_the_contract():
    for flavour, names in FLAVOURS.items():
        records = sc.stack_catalog(names)
        assert [r["name"] for r in records] == names, flavour
        for record in records:
            role = ROOT / "roles" / record["role"]
            assert (role / "tasks" / "component.yml").is_file(), record["role"]
            spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
            assert spec["argument_specs"], record["role"]


def test_the_collector_comes_after_every_component_it_sends_to_and_before_the_uis():
    for flavour, names in FLAVOURS.items():
        records = {r["name"]: r for r in sc.stack_catalog(names)}
        collector = names.index("otel_collector")
        for name in names:
            if components.uses(records | {"otel_collector": records["otel_collector"]}, "otel_collector", name):
                assert names.index(name) < collector, (flavour, name)
            if name != "otel_collector" and "otel_collector" in records[name]["needs"]:
                assert names.index(name) > collector, (flavour, name)


def test_an_optional_component_that_is_off_is_left_out_and_its_switch_is_needed():
    assert "alertmanager" not in [r["name"] for r in catalog("grafana", alertmanager=False)]
    assert "alertmanager" in [r["name"] for r in catalog("grafana", alertmanager=True)]
    with pytest.raises(AnsibleFilterError, match="give the value of stack_alertmanager"):
        sc.stack_catalog(["alertmanager"], {})
    with pytest.raises(AnsibleFilterError, match="stack_alertmanager must be true or false"):
        sc.stack_catalog(["alertmanager"], {"stack_alertmanager": "maybe"})
    with pytest.raises(AnsibleFilterError, match="unknown component"):
        sc.stack_catalog(["tempo"])


def _placement(hostvars, here, flavour="both"):
    names = [r["name"] for r in catalog(flavour)]
    return sp.stack_placement(hostvars, list(hostvars), here, names)


def test_a_role_is_told_where_it_runs_and_how_it_reaches_the_others():
    records = catalog()
    ingest = sc.stack_context(_placement(SPLIT, "ingest"), "otel_collector", records, OPTIONS)
    assert ingest["here"] is True and ingest["used_here"] is False
    assert ingest["peers"]["prometheus"] == {
        "url": "http://10.0.0.5:9090",
        "target": "10.0.0.5:9090",
        "host": "store",
        "here": False,
        "external": False,
        "project_dir": "/srv/store",
        "endpoints": {},
        "login": {},
    }
    # Prometheus on store scrapes this collector, so its metrics port goes on the shared address.
    assert ingest["scrape_bind_address"] == "10.0.0.5"
    assert ingest["otlp_bind_address"] == "0.0.0.0"
    store = sc.stack_context(_placement(SPLIT, "store"), "loki", records, OPTIONS)
    assert store["here"] is True and store["bind_address"] == "10.0.0.5"  # the collector on ingest uses it
    grafana = sc.stack_context(_placement(SPLIT, "store"), "grafana", records, OPTIONS)
    assert grafana["bind_address"] == "127.0.0.1"  # nobody else uses Grafana
    assert grafana["peers"]["loki"]["url"] == "http://loki:3100"
    prometheus = sc.stack_context(_placement(SPLIT, "store"), "prometheus", records, OPTIONS)
    assert prometheus["scrape_targets"] == ["10.0.0.6:8888"]
    # ingest does not run OpenSearch, but its collector uses it.
    remote = sc.stack_context(_placement(SPLIT, "ingest"), "opensearch", records, OPTIONS)
    assert remote["here"] is False and remote["used_here"] is True
    # ... and nothing there uses Grafana.
    assert sc.stack_context(_placement(SPLIT, "ingest"), "grafana", records, OPTIONS)["used_here"] is False


def test_a_role_sees_what_the_ones_before_it_published_merged():
    published = {
        "loki": {"otel": {"exporters": {"otlphttp/loki": {"endpoint": "x"}}, "pipelines": {"logs": ["otlphttp/loki"]}}},
        "opensearch": {
            "otel": {
                "exporters": {"opensearch/events": {}, "opensearch/traces": {}},
                "pipelines": {"logs": ["opensearch/events"], "traces": ["opensearch/traces"]},
                "processors": {"logs": {"transform/x": {"a": 1}}},
                "env": {"OPENSEARCH_AUTHORIZATION": "Basic eA=="},
            },
            "endpoints": {"url": "https://opensearch:9200", "user": "admin", "password_file": "/x/pw"},
            "compose": {"services": {"opensearch": {"image": "o"}}},
        },
    }
    context = sc.stack_context(_placement({"a": {}}, "a"), "otel_collector", catalog(), OPTIONS, published)
    assert context["otel"]["logs_exporters"] == ["opensearch/events", "otlphttp/loki"]  # the flavour's order
    assert context["otel"]["traces_exporters"] == ["opensearch/traces"]
    assert list(context["otel"]["logs_processors"]) == ["transform/x"]
    assert context["otel"]["env"] == {"OPENSEARCH_AUTHORIZATION": "Basic eA=="}
    # Of what came before, a peer carries only its endpoints record (a copy).
    assert context["peers"]["opensearch"]["endpoints"] == published["opensearch"]["endpoints"]
    assert context["peers"]["opensearch"]["endpoints"] is not published["opensearch"]["endpoints"]
    assert context["peers"]["loki"]["endpoints"] == {} and context["peers"]["grafana"]["endpoints"] == {}
    assert "published" not in context and "compose" not in context["peers"]["opensearch"]


def test_published_records_merge_into_one_project_endpoints_and_report():
    records = catalog("grafana")
    published = {
        "loki": {
            "compose": {"services": {"loki": {"image": "l"}}, "volumes": {"loki-data": {}}},
            "endpoints": {"url": "http://127.0.0.1:3100"},
            "health": {"url": "http://127.0.0.1:3100/ready"},
            "summary": ["Loki: http://127.0.0.1:3100"],
        },
        "grafana": {"bootstrap": True, "datasources": []},
        "prometheus": {"compose": {"services": {"prometheus": {"image": "p"}}}},
    }
    merged = sc.stack_published(published, records)
    assert [p["role"] for p in merged["compose_parts"]] == ["loki", "prometheus"]
    assert merged["endpoints"] == {"loki": {"url": "http://127.0.0.1:3100"}}
    assert merged["health"] == [
        {
            "name": "loki",
            "title": "Loki",
            "service": "loki",
            "url": "http://127.0.0.1:3100/ready",
            "status": 200,
            "ca_path": "",
        }
    ]
    assert merged["bootstrap"] == ["grafana"]
    assert merged["summary"] == ["Loki: http://127.0.0.1:3100"]


@pytest.mark.parametrize(
    ("published", "message"),
    [
        ({"loki": {"compsoe": {}}}, "loki_component has unknown key.s. compsoe"),
        ({"loki": {"otel": {"exporter": {}}}}, "loki: otel has unknown key.s. exporter"),
        ({"loki": {"otel": {"pipelines": {"metrics": []}}}}, "may name logs and traces, not metrics"),
        ({"loki": {"otel": {"pipelines": {"logs": ["otlphttp/loki"]}}}}, "names otlphttp/loki, which it does not"),
        ({"loki": {"otel": {"processors": {"traces": {}}}}}, "may extend the logs pipeline only"),
        ({"loki": {"health": {"status": 200}}}, "loki: health needs a url"),
        ({"loki": {"bootstrap": "later"}}, "loki: bootstrap must be true or false"),
        ({"loki": {"summary": "Loki"}}, "loki: summary must be a list"),
        (
            {"loki": {"otel": {"exporters": {"x": {}}}}, "prometheus": {"otel": {"exporters": {"x": {}}}}},
            "loki and prometheus both publish the collector exporter x",
        ),
    ],
)
def test_a_bad_record_is_named_with_its_role_and_key(published, message):
    with pytest.raises(AnsibleFilterError, match=message):
        sc.stack_published(published, catalog("grafana"))


def test_where_tells_what_runs_here_and_what_nobody_runs():
    names = [r["name"] for r in catalog("none")]
    only = {"only": {"stack_components": ["otel_collector"]}}
    where = sc.stack_where(sp.stack_placement(only, ["only"], "only", names), catalog("none"))
    assert where["here"] == ["otel_collector"]
    assert where["unplaced"] == ["alertmanager", "prometheus"]
    split = sc.stack_where(_placement(SPLIT, "ingest", "both"), catalog("both", alertmanager=False))
    assert split["serves_others"] is True  # store's Prometheus scrapes the collector here
    # Nobody lists Jaeger or OpenSearch Dashboards: extras that are on by default are then just not there.
    assert split["unplaced"] == []
    alone = sc.stack_where(_placement({"a": {}}, "a"), catalog("both"))
    assert alone["serves_others"] is False and alone["unplaced"] == []


def test_the_report_says_where_each_component_is_or_what_turns_it_on():
    names = [r["name"] for r in catalog("grafana", alertmanager=False)]
    placement = sp.stack_placement(SPLIT, list(SPLIT), "ingest", names)
    published = {"otel_collector": {"summary": ["OTLP HTTP: http://127.0.0.1:4318"]}}
    lines = sc.stack_report(placement, sc.stack_catalog(FLAVOURS["grafana"]), published)
    assert lines == [
        "Loki: on store (http://10.0.0.5:3100)",
        "Alertmanager: off (stack_alertmanager)",
        "Prometheus: on store (http://10.0.0.5:9090)",
        "OTLP HTTP: http://127.0.0.1:4318",
        "Grafana: on store (http://10.0.0.5:3000)",
    ]


def test_a_catalog_with_a_mistake_is_refused_with_its_path(tmp_path):
    role = tmp_path / "tempo" / "meta"
    role.mkdir(parents=True)
    (role / "component.yml").write_text("name: tempo\nservice: tempo\nport: 3200\n")
    with pytest.raises(components.CatalogError, match="tempo/meta/component.yml: port must be"):
        components.load_catalog(str(tmp_path))
    (role / "component.yml").write_text("name: tempo\nservice: tempo\nport: {variable: tempo_port, default: 1}\nx: 1\n")
    with pytest.raises(components.CatalogError, match="unknown key.s. x"):
        components.load_catalog(str(tmp_path))
    twin = tmp_path / "tempo2" / "meta"
    twin.mkdir(parents=True)
    (role / "component.yml").write_text("name: tempo\nservice: tempo\nport: {variable: tempo_port, default: 1}\n")
    (twin / "component.yml").write_text("name: tempo\nservice: t2\nport: {variable: t2_port, default: 2}\n")
    with pytest.raises(components.CatalogError, match="already defined"):
        components.load_catalog(str(tmp_path))


def test_a_peer_that_logs_in_names_its_files_on_its_own_host():
    hostvars = {
        "store": {"ansible_host": "10.0.0.5", "stack_components": ["prometheus"], "prometheus_web_security": True},
        "ingest": {"ansible_host": "10.0.0.6", "stack_components": ["otel_collector"]},
    }
    placement = sp.stack_placement(hostvars, list(hostvars), "ingest", ["prometheus", "otel_collector"])
    options = dict(OPTIONS, project_dirs={"store": "/srv/store/", "ingest": "/srv/ingest"})
    records = sc.stack_catalog(["prometheus", "otel_collector"])
    peer = sc.stack_context(placement, "otel_collector", records, options)["peers"]["prometheus"]
    assert peer["url"] == "https://10.0.0.5:9090" and peer["host"] == "store"
    assert peer["login"] == {
        "user": "claude-code",
        "password_file": "/srv/store/prometheus/secrets/web-password",
        "ca_file": "/srv/store/pki/ca.crt",
    }


def _secured_split():
    hostvars = {
        "store": {
            "ansible_host": "10.0.0.5",
            "stack_components": ["prometheus", "grafana"],
            "prometheus_web_security": True,
        },
        "ingest": {"ansible_host": "10.0.0.6", "stack_components": ["otel_collector", "opensearch"]},
    }
    names = ["prometheus", "opensearch", "otel_collector", "grafana"]
    return hostvars, names, sc.stack_catalog(names)


def test_only_a_component_that_connects_to_a_secured_peer_is_told_its_login():
    hostvars, names, records = _secured_split()
    ingest = sp.stack_placement(hostvars, list(hostvars), "ingest", names)
    assert sc.stack_context(ingest, "otel_collector", records, OPTIONS)["peers"]["prometheus"]["login"]
    # OpenSearch does not connect to Prometheus: nothing of its login.
    assert sc.stack_context(ingest, "opensearch", records, OPTIONS)["peers"]["prometheus"]["login"] == {}


def test_the_login_files_are_read_on_the_peers_host_and_handed_over():
    hostvars, names, records = _secured_split()
    ingest = sp.stack_placement(hostvars, list(hostvars), "ingest", names)
    context = sc.stack_context(ingest, "otel_collector", records, OPTIONS)
    reads = sc.stack_login_files(context)
    assert reads == [
        {
            "peer": "prometheus",
            "key": "password",
            "host": "store",
            "path": "/srv/store/prometheus/secrets/web-password",
        },
        {"peer": "prometheus", "key": "ca_pem", "host": "store", "path": "/srv/store/pki/ca.crt"},
    ]
    results = [
        {"item": reads[0], "content": "czNjcjN0"},  # base64 of s3cr3t
        {"item": reads[1], "content": "LS0tLS1CRUdJTg=="},
    ]
    handed = sc.stack_context_logins(context, results)
    login = handed["peers"]["prometheus"]["login"]
    assert login["password"] == "s3cr3t" and login["ca_pem"] == "-----BEGIN"
    assert login["user"] == "claude-code" and login["password_file"].endswith("web-password")
    # The context it came from is left as it was.
    assert "password" not in context["peers"]["prometheus"]["login"]


def test_a_login_file_not_made_yet_reads_as_empty():
    hostvars, names, records = _secured_split()
    ingest = sp.stack_placement(hostvars, list(hostvars), "ingest", names)
    context = sc.stack_context(ingest, "otel_collector", records, OPTIONS)
    reads = sc.stack_login_files(context)
    handed = sc.stack_context_logins(context, [{"item": reads[0], "failed": True}, {"item": reads[1]}])
    assert handed["peers"]["prometheus"]["login"]["password"] == ""
    assert handed["peers"]["prometheus"]["login"]["ca_pem"] == ""


def test_nothing_is_read_for_a_component_that_runs_elsewhere():
    hostvars, names, records = _secured_split()
    store = sp.stack_placement(hostvars, list(hostvars), "store", names)
    assert sc.stack_login_files(sc.stack_context(store, "otel_collector", records, OPTIONS)) == []
    assert len(sc.stack_login_files(sc.stack_context(store, "grafana", records, OPTIONS))) == 2
    with pytest.raises(AnsibleFilterError, match="not a peer"):
        sc.stack_context_logins(sc.stack_context(store, "grafana", records, OPTIONS), [{"item": {"peer": "tempo"}}])
