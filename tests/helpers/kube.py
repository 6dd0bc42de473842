"""A small client of the test bed's real kube-apiserver (tests/testbed/kube.sh), for reading back what
the kubernetes role applied. Token and CA come from the kubeconfig kube.sh writes."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import yaml

# kind -> (API path prefix, plural): every kind the kubernetes role may make, and what tests create.
KINDS = {
    "Namespace": ("/api/v1", "namespaces"),
    "ConfigMap": ("/api/v1", "configmaps"),
    "Secret": ("/api/v1", "secrets"),
    "Service": ("/api/v1", "services"),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims"),
    "Deployment": ("/apis/apps/v1", "deployments"),
    "ServiceMonitor": ("/apis/monitoring.coreos.com/v1", "servicemonitors"),
    "PrometheusRule": ("/apis/monitoring.coreos.com/v1", "prometheusrules"),
    "Prometheus": ("/apis/monitoring.coreos.com/v1", "prometheuses"),
}
NAMESPACED = [k for k in KINDS if k != "Namespace"]


class Kube:
    def __init__(self, kubeconfig: str):
        self.kubeconfig = kubeconfig
        cfg = yaml.safe_load(Path(kubeconfig).read_text())
        cluster = cfg["clusters"][0]["cluster"]
        self.server = cluster["server"]
        self.token = cfg["users"][0]["user"]["token"]
        self.ctx = ssl.create_default_context(cafile=cluster["certificate-authority"])

    def request(self, method: str, path: str, body=None, content_type: str = "application/json"):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.server + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": content_type},
        )
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            if err.code == 404 and method == "GET":
                return None
            raise AssertionError(f"{method} {path}: HTTP {err.code}: {err.read().decode()[:2000]}") from err

    def path(self, kind: str, namespace: str | None = None, name: str | None = None) -> str:
        prefix, plural = KINDS[kind]
        out = prefix + (f"/namespaces/{namespace}" if namespace and kind != "Namespace" else "") + f"/{plural}"
        return out + (f"/{name}" if name else "")

    def get(self, kind: str, name: str, namespace: str | None = None):
        return self.request("GET", self.path(kind, namespace, name))

    def list(self, kind: str, namespace: str, selector: str = "") -> list[dict]:
        query = f"?labelSelector={urllib.request.quote(selector)}" if selector else ""
        found = self.request("GET", self.path(kind, namespace) + query)
        return [] if found is None else found["items"]  # None: the kind is not served (its CRD is missing)

    def everything(self, namespace: str, deleting: bool = False) -> list[tuple[str, str]]:
        """(kind, name) of every object of the kinds above in a namespace; with deleting=False, without the
        objects whose deletion the API server accepted but a controller that does not run here would finish
        (a PersistentVolumeClaim keeps its kubernetes.io/pvc-protection finalizer until kube-controller-manager
        removes it)."""
        return sorted(
            (kind, o["metadata"]["name"])
            for kind in NAMESPACED
            for o in self.list(kind, namespace)
            if deleting or not o["metadata"].get("deletionTimestamp")
        )

    def create(self, obj: dict):
        ns = obj["metadata"].get("namespace")
        return self.request("POST", self.path(obj["kind"], ns), obj)

    def namespace(self, prefix: str = "cco") -> str:
        """A new, empty namespace (no controller runs here to delete it later: names are unique)."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        return name

    def set_load_balancer_status(self, namespace: str, name: str, ip: str):
        """What a load balancer controller (Cilium, MetalLB) does once it gives the Service an address."""
        return self.request(
            "PATCH",
            self.path("Service", namespace, name) + "/status",
            {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}},
            content_type="application/merge-patch+json",
        )


def prometheus_cr(namespace: str, name: str = "kps", *, otlp: bool = True, window: str | None = "7d") -> dict:
    """A Prometheus CR as kube-prometheus-stack renders it (selectors on the release label)."""
    spec = {
        "serviceMonitorSelector": {"matchLabels": {"release": "kube-prometheus-stack"}},
        "ruleSelector": {"matchLabels": {"release": "kube-prometheus-stack"}},
    }
    if otlp:
        spec["enableOTLPReceiver"] = True
    if window:
        spec["tsdb"] = {"outOfOrderTimeWindow": window}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
