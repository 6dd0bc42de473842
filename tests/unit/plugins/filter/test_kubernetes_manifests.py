"""The Kubernetes objects built by the kubernetes_manifests filter, and its checks of the Prometheus CR."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "collections"))

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.claude_code.observability.plugins.filter import kubernetes_manifests as km  # noqa: E402

CONFIG = {"receivers": {"otlp": {}}, "service": {"pipelines": {}}}
RULES = [{"name": "g", "rules": [{"record": "a:b", "expr": "1"}]}]
DASHBOARDS = {"claude-code-overview.json": '{"title": "x"}\n'}


def build(**opts):
    return km.kubernetes_manifests({"image": "otelcol:1", **opts}, CONFIG, RULES, DASHBOARDS)


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def test_every_object_carries_the_owner_labels_and_namespace():
    objects = build(namespace="obs", name="cc")
    assert objects
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "cc"
        assert labels["app.kubernetes.io/managed-by"] == "claude_code.observability"
        assert obj["metadata"]["namespace"] == "obs"


def test_deployment_resources_probes_and_config_mount():
    deploy = by_kind(build(), "Deployment")[0]
    pod = deploy["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "600Mi"},
    }
    assert container["readinessProbe"]["httpGet"]["port"] == "health"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["config"] == "/etc/otelcol-contrib/config.yaml"
    assert mounts["queue"] == "/var/lib/otelcol/queue"
    # the pod's labels are what the Deployment and the Services select
    selector = deploy["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    for svc in by_kind(build(), "Service"):
        assert svc["spec"]["selector"] == selector


def test_config_map_holds_the_collector_config_and_a_change_rolls_the_pods():
    objects = build()
    cm = [o for o in by_kind(objects, "ConfigMap") if o["metadata"]["name"].endswith("-config")][0]
    assert json.loads(cm["data"]["config.yaml"]) == CONFIG
    other = km.kubernetes_manifests({"image": "otelcol:1"}, dict(CONFIG, extra=1), RULES, DASHBOARDS)

    def digest(objs):
        return by_kind(objs, "Deployment")[0]["spec"]["template"]["metadata"]["annotations"]

    assert digest(objects) != digest(other)
    assert digest(objects) == digest(build())


def test_queue_emptydir_by_default_pvc_when_asked():
    spec = by_kind(build(), "Deployment")[0]["spec"]
    assert [v for v in spec["template"]["spec"]["volumes"] if v["name"] == "queue"][0]["emptyDir"] == {
        "sizeLimit": "1Gi"
    }
    assert not by_kind(build(), "PersistentVolumeClaim")
    objects = build(queue_storage="pvc", queue_size_limit="5Gi", queue_storage_class="local-path")
    pvc = by_kind(objects, "PersistentVolumeClaim")[0]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert pvc["spec"]["storageClassName"] == "local-path"
    spec = by_kind(objects, "Deployment")[0]["spec"]
    assert spec["strategy"] == {"type": "Recreate"}
    with pytest.raises(AnsibleFilterError, match="replicas must be 1"):
        build(queue_storage="pvc", replicas=2)


def test_service_type_address_and_annotations():
    svc = by_kind(
        build(service_annotations={"lbipam.cilium.io/ips": "10.0.0.40"}, service_load_balancer_ip="10.0.0.41"),
        "Service",
    )[0]
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"]["annotations"] == {"lbipam.cilium.io/ips": "10.0.0.40"}
    assert svc["spec"]["loadBalancerIP"] == "10.0.0.41"
    assert [p["port"] for p in svc["spec"]["ports"]] == [4317, 4318]
    with pytest.raises(AnsibleFilterError, match="LoadBalancer"):
        build(service_type="ClusterIP", service_load_balancer_ip="10.0.0.41")


def test_no_servicemonitor_on_claude_code_metrics_only_on_the_telemetry_port():
    objects = build(prometheus_labels={"release": "kps"})
    monitors = by_kind(objects, "ServiceMonitor")
    assert len(monitors) == 1
    sm = monitors[0]
    assert sm["metadata"]["labels"]["release"] == "kps"
    assert [e["port"] for e in sm["spec"]["endpoints"]] == ["telemetry"]
    target = [
        s
        for s in by_kind(objects, "Service")
        if s["metadata"]["labels"].items() >= sm["spec"]["selector"]["matchLabels"].items()
    ]
    assert [s["spec"]["ports"][0]["port"] for s in target] == [8888]
    assert target[0]["spec"]["type"] == "ClusterIP"
    assert not by_kind(build(service_monitor=False), "ServiceMonitor")


def test_prometheus_rule_holds_the_given_groups():
    rule = by_kind(build(prometheus_labels={"release": "kps"}), "PrometheusRule")[0]
    assert rule["spec"]["groups"] == RULES
    assert rule["metadata"]["labels"]["release"] == "kps"
    with pytest.raises(AnsibleFilterError, match="rule groups"):
        km.kubernetes_manifests({"image": "i"}, CONFIG, [], DASHBOARDS)


def test_dashboards_keep_the_exact_text_and_the_sidecar_label():
    cms = [
        o for o in by_kind(build(dashboard_labels={"dash": "yes"}), "ConfigMap") if "dashboard" in o["metadata"]["name"]
    ]
    assert len(cms) == 1
    assert cms[0]["data"] == DASHBOARDS
    assert cms[0]["metadata"]["labels"]["dash"] == "yes"


def test_datasources_use_the_dashboards_uids():
    objects = build(
        grafana_prometheus_url="http://p:9090", grafana_loki_url="http://l:3100", prometheus_datasource_uid="P"
    )
    cm = [o for o in by_kind(objects, "ConfigMap") if o["metadata"]["name"].endswith("-datasources")][0]
    assert cm["metadata"]["labels"]["grafana_datasource"] == "1"
    sources = json.loads(cm["data"]["claude-code-datasources.yaml"])["datasources"]
    assert {(s["uid"], s["url"]) for s in sources} == {("P", "http://p:9090"), ("claude-code-loki", "http://l:3100")}


def test_token_secret_and_tls_mounts():
    objects = build(bearer_token="s3cret", tls_mode="secret", tls_secret_name="my-tls")
    secret = by_kind(objects, "Secret")[0]
    assert secret["stringData"] == {"bearer_token": "s3cret"}
    pod = by_kind(objects, "Deployment")[0]["spec"]["template"]["spec"]
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["tls"]["secret"]["secretName"] == "my-tls"
    assert {i["path"] for i in vols["tls"]["secret"]["items"]} == {"server.crt", "server.key"}
    assert vols["token"]["secret"]["secretName"].endswith("-token")
    assert not by_kind(build(), "Secret")
    with pytest.raises(AnsibleFilterError, match="one line"):
        build(bearer_token="a\nb")
    with pytest.raises(AnsibleFilterError, match="tls_secret_name"):
        build(tls_mode="secret")


def test_cert_manager_certificate():
    objects = build(tls_mode="cert_manager", tls_issuer_name="homelab-ca", service_load_balancer_ip="10.0.0.41")
    cert = by_kind(objects, "Certificate")[0]
    assert cert["apiVersion"] == "cert-manager.io/v1"
    assert cert["spec"]["issuerRef"] == {"name": "homelab-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert cert["spec"]["ipAddresses"] == ["10.0.0.41"]
    assert "claude-code-otel-collector.monitoring.svc" in cert["spec"]["dnsNames"]
    vols = by_kind(objects, "Deployment")[0]["spec"]["template"]["spec"]["volumes"]
    assert [v for v in vols if v["name"] == "tls"][0]["secret"]["secretName"] == cert["spec"]["secretName"]


def test_memory_limiter_must_stay_below_the_limit():
    with pytest.raises(AnsibleFilterError, match="below the container's"):
        build(resources={"limits": {"memory": "512Mi"}}, memory_limiter_mib=512)
    assert build(resources={"limits": {"memory": "0.75Gi"}}, memory_limiter_mib=512)


def test_bad_options_are_refused():
    for opts, match in (
        ({"name": "Bad_Name"}, "DNS label"),
        ({"image": ""}, "image"),
        ({"tls_mode": "maybe"}, "tls_mode"),
        ({"nonsense": 1}, "unknown"),
    ):
        with pytest.raises(AnsibleFilterError, match=match):
            km.kubernetes_manifests({"image": "i", **opts}, CONFIG, RULES, DASHBOARDS)


def test_namespace_only_when_asked():
    assert not by_kind(build(), "Namespace")
    ns = by_kind(build(create_namespace=True, namespace="obs"), "Namespace")[0]
    assert ns["metadata"]["name"] == "obs"


GOOD_PROM = {
    "metadata": {"name": "kps", "namespace": "monitoring"},
    "spec": {
        "enableOTLPReceiver": True,
        "tsdb": {"outOfOrderTimeWindow": "7d"},
        "serviceMonitorSelector": {"matchLabels": {"release": "kps"}},
        "ruleSelector": {"matchLabels": {"release": "kps"}},
    },
}
CHECK = {
    "min_out_of_order_window": "7d",
    "prometheus_labels": {"release": "kps"},
    "service_monitor": True,
    "prometheus_rules": True,
    "namespace": "monitoring",
}


def test_prometheus_cr_that_has_everything():
    assert km.kubernetes_prometheus_problems(GOOD_PROM, CHECK) == []


@pytest.mark.parametrize(
    "change, field, helm",
    [
        ({"enableOTLPReceiver": False}, "spec.enableOTLPReceiver", "prometheus.prometheusSpec.enableOTLPReceiver=true"),
        ({"tsdb": {"outOfOrderTimeWindow": "1h"}}, "spec.tsdb.outOfOrderTimeWindow", "tsdb.outOfOrderTimeWindow=7d"),
        ({"tsdb": {}}, "spec.tsdb.outOfOrderTimeWindow", "tsdb.outOfOrderTimeWindow=7d"),
        ({"ruleSelector": {"matchLabels": {"release": "other"}}}, "spec.ruleSelector", "ruleSelectorNilUsesHelmValues"),
        ({"serviceMonitorSelector": None}, "spec.serviceMonitorSelector", "serviceMonitorSelectorNilUsesHelmValues"),
    ],
)
def test_prometheus_cr_problem_names_the_field_and_helm_value(change, field, helm):
    prom = {"metadata": GOOD_PROM["metadata"], "spec": {**GOOD_PROM["spec"], **change}}
    problems = km.kubernetes_prometheus_problems(prom, CHECK)
    assert len(problems) == 1
    assert field in problems[0] and helm in problems[0]


def test_empty_selector_selects_everything_and_longer_window_is_enough():
    prom = {"metadata": {}, "spec": {**GOOD_PROM["spec"], "ruleSelector": {}, "tsdb": {"outOfOrderTimeWindow": "30d"}}}
    assert km.kubernetes_prometheus_problems(prom, CHECK) == []


def test_durations():
    assert km.duration_seconds("7d") == 7 * 86400
    assert km.duration_seconds("1h30m") == 5400
    assert km.duration_seconds("0s") == 0
    assert km.duration_seconds("soon") is None


def test_service_address_order():
    svc = {
        "metadata": {"annotations": {"lbipam.cilium.io/ips": "10.0.0.40,10.0.0.50"}},
        "spec": {"type": "LoadBalancer", "loadBalancerIP": "10.0.0.41"},
        "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.42"}]}},
    }
    assert km.kubernetes_service_address(svc, "collector.lan") == "collector.lan"
    assert km.kubernetes_service_address(svc) == "10.0.0.42"
    svc["status"] = {}
    assert km.kubernetes_service_address(svc) == "10.0.0.40"
    del svc["metadata"]["annotations"]
    assert km.kubernetes_service_address(svc) == "10.0.0.41"
    del svc["spec"]["loadBalancerIP"]
    assert km.kubernetes_service_address(svc) == ""
    with pytest.raises(AnsibleFilterError, match="kubernetes_collector_address"):
        km.kubernetes_service_address(svc, required=True)
    assert km.kubernetes_service_address({"spec": {"type": "ClusterIP", "clusterIP": "10.96.0.9"}}) == "10.96.0.9"


def test_connection_errors_name_the_fix():
    ok = km.kubernetes_connection_error({"changed": False, "apis": {}})
    assert ok == ""
    missing = km.kubernetes_connection_error(
        {"failed": True, "msg": "Invalid kube-config file. No configuration found."}, "/x"
    )
    assert "kubernetes_kubeconfig" in missing and "/x" in missing
    absent = km.kubernetes_connection_error({"msg": "Could not find or access '/k' on the Ansible Controller."}, "/k")
    assert "set kubernetes_kubeconfig to a readable kubeconfig file" in absent
    refused = km.kubernetes_connection_error(
        {"failed": True, "msg": "Max retries exceeded with url: /version (Connection refused)"}, "/x"
    )
    assert "cannot reach the API server" in refused
    denied = km.kubernetes_connection_error({"failed": True, "msg": "(401) Reason: Unauthorized"}, "/x")
    assert "refused the credentials" in denied


def test_stale_objects():
    desired = build()
    found = [
        {
            "item": {"api_version": "v1", "kind": "ConfigMap"},
            "resources": [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "claude-code-otel-collector-config", "namespace": "m"},
                },
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old-dashboard", "namespace": "m"}},
            ],
        },
        {"item": {"api_version": "v1", "kind": "Secret"}, "skipped": True},
        {
            "item": {"api_version": "v1", "kind": "Secret"},
            "resources": [
                {"metadata": {"name": "cc-tls", "namespace": "m"}},
            ],
        },
    ]
    stale = km.kubernetes_stale(found, desired, keep=[{"kind": "Secret", "name": "cc-tls"}])
    assert stale == [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old-dashboard", "namespace": "m"}}]
    assert len(km.kubernetes_stale(found, [])) == 4 - 1


def test_stale_objects_from_the_lookup_listing():
    # What set_fact with the k8s lookup registers: list items carry neither kind nor apiVersion.
    found = [
        {
            "item": {"api_version": "monitoring.coreos.com/v1", "kind": "ServiceMonitor"},
            "ansible_facts": {"kubernetes__listed": [{"metadata": {"name": "gone", "namespace": "m"}}]},
        },
        {"item": {"api_version": "v1", "kind": "Service"}, "ansible_facts": {"kubernetes__listed": []}},
    ]
    assert km.kubernetes_stale(found, build()) == [
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": "gone", "namespace": "m"},
        }
    ]
