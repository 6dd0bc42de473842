"""The kubernetes role against a real kube-apiserver (with etcd and the prometheus-operator CRDs) from the
test bed. No kubelet, scheduler or controller manager runs there: these tests prove what the API server
validates and stores, and what the real collector and promtool make of it; no pod ever runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import kube as kubehelp  # noqa: E402
from helpers import playbook, procs  # noqa: E402

pytestmark = [pytest.mark.testbed, pytest.mark.slow(seconds=180)]

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "roles" / "grafana" / "files" / "dashboards"
NAME = "claude-code-otel-collector"
OWNER = f"app.kubernetes.io/instance={NAME},app.kubernetes.io/managed-by=claude_code.observability"
TOKEN = "tok-k8s-6d1f0c9e"


KUBE_SH = ROOT / "tests" / "testbed" / "kube.sh"


@pytest.fixture(scope="module", autouse=True)
def api_servers(testbed):
    """etcd and both API servers run for this file only: started here unless they already run, and
    stopped at its end if this started them."""
    for key in ("KUBE_KUBECONFIG", "KUBE_BARE_KUBECONFIG"):
        if key not in testbed:
            pytest.fail(f"{key} missing from the test bed env: run tests/testbed/testbed.sh up")
    started = subprocess.run([KUBE_SH, "running"], check=False).returncode != 0
    if started:
        up = subprocess.run([KUBE_SH, "up"], capture_output=True, text=True, check=False)
        assert up.returncode == 0, f"tests/testbed/kube.sh up failed:\n{up.stderr[-3000:]}"
    yield
    if started:
        subprocess.run([KUBE_SH, "down"], check=True)


@pytest.fixture(scope="module")
def kube(testbed):
    return kubehelp.Kube(testbed["KUBE_KUBECONFIG"])


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    path = tmp_path_factory.mktemp("k8s-inventory") / "hosts.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "children": {"kubernetes_controller": {"hosts": {"localhost": {}}}},
                    "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                }
            }
        )
    )
    return path


@pytest.fixture
def cluster(kube):
    """A fresh namespace with a Prometheus CR as kube-prometheus-stack makes it."""
    ns = kube.namespace()
    kube.create(kubehelp.prometheus_cr(ns))
    return ns


def role_vars(kube, ns, **extra):
    return {
        "kubernetes_kubeconfig": kube.kubeconfig,
        "kubernetes_namespace": ns,
        "kubernetes_prometheus_namespace": ns,
        "kubernetes_prometheus_name": "kps",
        "kubernetes_service_annotations": {"lbipam.cilium.io/ips": "192.0.2.40"},
        "kubernetes_bearer_token": TOKEN,
        **extra,
    }


def k8s(inventory, variables, *args, check=True):
    return playbook.run("k8s.yml", variables, "-i", str(inventory), *args, check=check)


# One namespace, applied once, for the tests that read what was stored; the ones
# that change it (a diff, objects no longer asked for) come last, in file order.
SHARED = {
    "kubernetes_tls_mode": "secret",
    "kubernetes_tls_secret_name": "my-tls",
    "prometheus_alert_daily_cost_per_user_usd": 7,
    "kubernetes_dashboard_labels": {"grafana_dashboard": "1", "team": "x"},
}


@pytest.fixture(scope="module")
def applied(kube, inventory):
    ns = kube.namespace()
    kube.create(kubehelp.prometheus_cr(ns))
    proc, recap = k8s(inventory, role_vars(kube, ns, **SHARED))
    return {"ns": ns, "proc": proc, "recap": recap}


def test_apply_is_stored_by_the_api_server_and_a_second_run_changes_nothing_no_pod_runs(kube, applied, inventory):
    cluster, proc, recap = applied["ns"], applied["proc"], applied["recap"]
    assert recap["localhost"]["changed"] > 0
    assert TOKEN not in proc.stdout
    stored = kube.everything(cluster)
    for kind, name in [
        ("ConfigMap", f"{NAME}-config"),
        ("Deployment", NAME),
        ("Service", NAME),
        ("Service", f"{NAME}-telemetry"),
        ("Secret", f"{NAME}-token"),
        ("ServiceMonitor", NAME),
        ("PrometheusRule", NAME),
        ("ConfigMap", f"{NAME}-dashboard-claude-code-overview"),
        ("ConfigMap", f"{NAME}-dashboard-claude-code-events"),
        ("ConfigMap", f"{NAME}-dashboard-claude-code-audit"),
        ("ConfigMap", f"{NAME}-datasources"),
    ]:
        assert (kind, name) in stored, stored

    deploy = kube.get("Deployment", NAME, cluster)
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "600Mi"},
    }
    assert deploy.get("status", {}).get("readyReplicas") is None  # nothing runs pods here
    svc = kube.get("Service", NAME, cluster)
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"]["annotations"]["lbipam.cilium.io/ips"] == "192.0.2.40"
    assert {p["port"] for p in svc["spec"]["ports"]} == {4317, 4318}
    secret = kube.get("Secret", f"{NAME}-token", cluster)
    assert secret["data"]["bearer_token"]  # stored as data by the API server
    sm = kube.get("ServiceMonitor", NAME, cluster)
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert [e["port"] for e in sm["spec"]["endpoints"]] == ["telemetry"]  # the collector's own metrics only
    managers = {m["manager"] for m in deploy["metadata"]["managedFields"]}
    assert managers == {"claude-code-observability"}
    assert any(m["operation"] == "Apply" for m in deploy["metadata"]["managedFields"])  # server-side apply

    _proc, again = k8s(inventory, role_vars(kube, cluster, **SHARED))
    assert again["localhost"]["changed"] == 0, again


def test_stored_collector_config_passes_the_real_collector_validate(kube, applied, testbed, tmp_path):
    cluster = applied["ns"]
    text = kube.get("ConfigMap", f"{NAME}-config", cluster)["data"]["config.yaml"]
    config = yaml.safe_load(text)
    # what the metrics design asks: one push to the cluster Prometheus' OTLP receiver, events to Loki's OTLP
    exporters = config["exporters"]
    assert exporters["otlphttp/prometheus"]["metrics_endpoint"] == (
        "http://kube-prometheus-stack-prometheus.monitoring.svc:9090/api/v1/otlp/v1/metrics"
    )
    assert exporters["otlphttp/loki"]["endpoint"] == "http://loki.monitoring.svc.cluster.local:3100/otlp"
    assert "prometheus" not in exporters
    # the paths the config reads are the ones the Deployment mounts
    pod = kube.get("Deployment", NAME, cluster)["spec"]["template"]["spec"]
    mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert config["extensions"]["file_storage/queue"]["directory"] in mounts
    grpc = config["receivers"]["otlp"]["protocols"]["grpc"]
    assert Path(grpc["tls"]["cert_file"]).parent.as_posix() in mounts
    assert Path(config["extensions"]["bearertokenauth"]["filename"]).parent.as_posix() in mounts
    path = tmp_path / "config.yaml"
    path.write_text(text)
    out = subprocess.run(
        [testbed["OTELCOL_BIN"], "validate", f"--config={path}"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_stored_prometheus_rule_passes_the_real_promtool(kube, applied, testbed, tmp_path):
    cluster = applied["ns"]
    rule = kube.get("PrometheusRule", NAME, cluster)
    groups = rule["spec"]["groups"]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": groups}))
    out = subprocess.run(
        [testbed["PROMTOOL_BIN"], "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    exprs = [r.get("expr") for g in groups for r in g["rules"]]
    assert "user_id:claude_code_cost_usd:window24h > 7" in exprs  # the prometheus role's variables apply
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_dashboard_config_maps_hold_the_compose_files_json(kube, applied):
    cluster = applied["ns"]
    files = sorted(DASHBOARDS.glob("*.json"))
    assert files
    stored = kube.list("ConfigMap", cluster, "grafana_dashboard=1,team=x")
    assert len(stored) == len(files)
    for f in files:
        cm = kube.get("ConfigMap", f"{NAME}-dashboard-{f.stem}", cluster)
        assert cm["data"] == {f.name: f.read_text()}
        assert json.loads(cm["data"][f.name]) == json.loads(f.read_text())


def test_diff_shows_the_change_of_one_variable(kube, applied, inventory):
    cluster = applied["ns"]
    proc, recap = k8s(inventory, role_vars(kube, cluster, **SHARED, kubernetes_scrape_interval="45s"), "--diff")
    assert recap["localhost"]["changed"] == 1, proc.stdout[-4000:]
    minus = [line for line in proc.stdout.splitlines() if line.startswith("-") and "15s" in line]
    plus = [line for line in proc.stdout.splitlines() if line.startswith("+") and "45s" in line]
    assert minus and plus, proc.stdout[-4000:]
    assert TOKEN not in proc.stdout
    sm = kube.get("ServiceMonitor", NAME, cluster)
    assert sm["spec"]["endpoints"][0]["interval"] == "45s"


def test_objects_no_longer_asked_for_are_deleted(kube, applied, inventory):
    cluster = applied["ns"]
    assert kube.get("Secret", f"{NAME}-token", cluster)
    k8s(inventory, role_vars(kube, cluster, **SHARED, kubernetes_bearer_token="", kubernetes_loki=False))
    assert kube.get("Secret", f"{NAME}-token", cluster) is None
    assert kube.get("ConfigMap", f"{NAME}-dashboard-claude-code-events", cluster) is None
    assert kube.get("ConfigMap", f"{NAME}-dashboard-claude-code-audit", cluster) is None
    assert kube.get("ConfigMap", f"{NAME}-dashboard-claude-code-overview", cluster)


def test_check_on_a_fresh_namespace_creates_nothing(kube, cluster, inventory):
    before = kube.everything(cluster)
    proc, recap = k8s(inventory, role_vars(kube, cluster), "--check")
    assert recap["localhost"]["failed"] == 0
    assert recap["localhost"]["changed"] > 0, proc.stdout[-3000:]
    assert before == [("Prometheus", "kps")]
    assert kube.everything(cluster) == before


def test_absent_removes_exactly_what_it_made(kube, cluster, inventory):
    theirs = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "someone-elses", "namespace": cluster}}
    kube.create(theirs)
    before = kube.everything(cluster)
    k8s(inventory, role_vars(kube, cluster, kubernetes_queue_storage="pvc"))
    assert kube.list("PersistentVolumeClaim", cluster, OWNER)
    assert len(kube.everything(cluster)) > len(before)
    _proc, recap = k8s(inventory, role_vars(kube, cluster, kubernetes_state="absent"))
    assert recap["localhost"]["changed"] > 0
    assert kube.everything(cluster) == before
    # Only the claim is still there, marked deleted: its pvc-protection finalizer is kube-controller-manager's
    # to remove, and none runs in the test bed.
    left = set(kube.everything(cluster, deleting=True)) - set(before)
    assert left == {("PersistentVolumeClaim", f"{NAME}-queue")}
    claim = kube.get("PersistentVolumeClaim", f"{NAME}-queue", cluster)
    assert claim["metadata"]["deletionTimestamp"] and claim["metadata"]["finalizers"] == [
        "kubernetes.io/pvc-protection"
    ]
    _proc, again = k8s(inventory, role_vars(kube, cluster, kubernetes_state="absent"))
    assert again["localhost"]["changed"] == 0


def test_wrong_kubeconfig_is_named(kube, cluster, inventory, tmp_path):
    missing = tmp_path / "nope" / "kubeconfig"
    proc, _recap = k8s(inventory, role_vars(kube, cluster, kubernetes_kubeconfig=str(missing)), check=False)
    assert proc.returncode != 0
    assert "set kubernetes_kubeconfig to a readable kubeconfig file" in proc.stdout
    assert str(missing) in proc.stdout


def test_unreachable_api_server_is_named(kube, cluster, inventory, tmp_path):
    cfg = yaml.safe_load(Path(kube.kubeconfig).read_text())
    cfg["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{procs.free_port()}"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    proc, _recap = k8s(inventory, role_vars(kube, cluster, kubernetes_kubeconfig=str(path)), check=False)
    assert proc.returncode != 0
    assert "cannot reach the API server" in proc.stdout


def test_missing_crd_is_named(testbed, inventory):
    bare = kubehelp.Kube(testbed["KUBE_BARE_KUBECONFIG"])  # an API server without the prometheus-operator CRDs
    ns = bare.namespace()
    variables = role_vars(bare, ns)
    proc, _recap = k8s(inventory, variables, check=False)
    assert proc.returncode != 0
    assert "does not serve ServiceMonitor" in proc.stdout
    assert "install the prometheus-operator CRDs" in proc.stdout
    assert bare.everything(ns) == []
    # without what needs them, the same cluster takes the rest
    proc, _recap = k8s(
        inventory,
        {
            **variables,
            "kubernetes_service_monitor": False,
            "kubernetes_prometheus_rules": False,
            "kubernetes_prometheus_check": "skip",
        },
    )
    assert ("Deployment", NAME) in bare.everything(ns)


def test_cert_manager_certificate_without_its_crd_is_named(kube, cluster, inventory):
    # No cert-manager CRD exists in the test bed: the Certificate itself is checked by the unit tests only.
    variables = role_vars(kube, cluster, kubernetes_tls_mode="cert_manager", kubernetes_tls_issuer_name="homelab-ca")
    proc, _recap = k8s(inventory, variables, check=False)
    assert proc.returncode != 0
    assert "does not serve Certificate" in proc.stdout and "install cert-manager" in proc.stdout


# The warn run applies every object (a minute on two cores): once is enough, as both
# fields go through the same check.
@pytest.mark.parametrize(
    "cr, field, warn",
    [
        ({"otlp": False}, "spec.enableOTLPReceiver", True),
        ({"window": None}, "spec.tsdb.outOfOrderTimeWindow", False),
    ],
)
def test_prometheus_cr_without_what_the_metrics_need_is_named(kube, inventory, cr, field, warn):
    ns = kube.namespace()
    kube.create(kubehelp.prometheus_cr(ns, **cr))
    proc, _recap = k8s(inventory, role_vars(kube, ns), check=False)
    assert proc.returncode != 0
    assert field in proc.stdout and "prometheus.prometheusSpec." in proc.stdout
    assert kube.everything(ns) == [("Prometheus", "kps")]
    if not warn:
        return
    proc, recap = k8s(inventory, role_vars(kube, ns, kubernetes_prometheus_check="warn"))
    assert "WARNING" in proc.stdout and field in proc.stdout
    assert ("Deployment", NAME) in kube.everything(ns)


def test_client_role_writes_the_service_address_into_a_clients_settings(kube, cluster, tmp_path):
    from client_playbook import temp_users  # noqa: PLC0415

    inv_dir = tmp_path / "inventory"
    (inv_dir / "group_vars").mkdir(parents=True)
    # the example inventory's group_vars, as a user copies them; only the hosts differ
    for f in (ROOT / "inventories" / "kubernetes-example" / "group_vars").glob("*.yml"):
        (inv_dir / "group_vars" / f.name).write_text(f.read_text())
    (inv_dir / "hosts.yml").write_text(
        yaml.safe_dump(
            {
                "all": {
                    "children": {
                        "kubernetes_controller": {"hosts": {"localhost": {}}},
                        "claude_clients": {"hosts": {"laptop-k8s": {}}},
                    },
                    "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                }
            }
        )
    )
    variables = role_vars(kube, cluster)
    k8s(inv_dir / "hosts.yml", variables)
    # what Cilium's LB IPAM (or MetalLB) does: the Service gets its address in its status
    kube.set_load_balancer_status(cluster, NAME, "192.0.2.77")
    with temp_users(1) as (user,):
        proc, _recap = playbook.run(
            "client.yml",
            {**variables, "client_users": [user.pw_name], "client_reachability_timeout": 1},
            "-i",
            str(inv_dir / "hosts.yml"),
        )
        settings = json.loads((Path(user.pw_dir) / ".claude" / "settings.json").read_text())
    env = settings["env"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://192.0.2.77:4318"
    assert env["OTEL_EXPORTER_OTLP_HEADERS"] == f"Authorization=Bearer {TOKEN}"
    assert "laptop-k8s" in env["OTEL_RESOURCE_ATTRIBUTES"]
