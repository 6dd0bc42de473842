# -*- coding: utf-8 -*-

# Copyright: claude_code.observability maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Kubernetes objects of the collector, its rules and its dashboards, built as data.

The kubernetes role hands in its options and the content the other roles build
(the collector config of the otel_collector role, the rule groups of the
prometheus role, the dashboards of the grafana role) and applies what this
returns with kubernetes.core.k8s. docs/kubernetes.md describes the objects.

Filters:
  kubernetes_manifests(options, collector_config, rule_groups, dashboards) -> [object, ...]
  kubernetes_prometheus_problems(prometheus_cr, options) -> [text, ...]
  kubernetes_service_address(service, given='', required=False) -> address laptops send to ('' when unknown)
  kubernetes_connection_error(k8s_result, kubeconfig, context) -> message naming the fix ('' on success)
  kubernetes_stale(k8s_info_results, desired, keep) -> objects with the role's labels no longer desired
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six import string_types
from ansible_collections.claude_code.observability.plugins.plugin_utils.components import plain

MANAGED_BY = "claude_code.observability"
PART_OF = "claude-code-observability"

# Paths inside the collector container; the otel_collector role's config
# refers to the TLS files and the token file by these paths.
CONFIG_DIR = "/etc/otelcol-contrib"
TLS_DIR = CONFIG_DIR + "/tls"
SECRETS_DIR = CONFIG_DIR + "/secrets"
QUEUE_DIR = "/var/lib/otelcol/queue"
COLLECTOR_UID = 10001

DEFAULTS = {
    "name": "claude-code-otel-collector",
    "namespace": "monitoring",
    "create_namespace": False,
    "labels": {},
    "image": "",
    "image_pull_policy": "IfNotPresent",
    "replicas": 1,
    "resources": {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "600Mi"},
    },
    "memory_limiter_mib": 512,
    "node_selector": {},
    "tolerations": [],
    "service_type": "LoadBalancer",
    "service_annotations": {},
    "service_load_balancer_ip": "",
    "service_external_traffic_policy": "",
    "otlp_grpc_port": 4317,
    "otlp_http_port": 4318,
    "health_port": 13133,
    "telemetry_port": 8888,
    "service_monitor": True,
    "scrape_interval": "15s",
    "prometheus_labels": {},
    "prometheus_rules": True,
    "dashboards": True,
    "dashboard_labels": {"grafana_dashboard": "1"},
    "dashboard_annotations": {},
    "datasources": True,
    "datasource_labels": {"grafana_datasource": "1"},
    "grafana_prometheus_url": "",
    "grafana_loki_url": "",
    "prometheus_datasource_uid": "claude-code-prometheus",
    "loki_datasource_uid": "claude-code-loki",
    "bearer_token": "",
    "tls_mode": "none",
    "tls_secret_name": "",
    "tls_issuer_name": "",
    "tls_issuer_kind": "ClusterIssuer",
    "tls_dns_names": [],
    "tls_ip_addresses": [],
    "queue_storage": "emptyDir",
    "queue_size_limit": "1Gi",
    "queue_storage_class": "",
}

TLS_MODES = ("none", "secret", "cert_manager")
QUEUE_STORAGES = ("emptyDir", "pvc")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
# Annotations through which load balancer implementations take a fixed address.
ADDRESS_ANNOTATIONS = ("lbipam.cilium.io/ips", "metallb.universe.tf/loadBalancerIPs", "metallb.io/loadBalancerIPs")
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
QUANTITY = re.compile(r"^([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|T|m)?$")
UNITS = {
    None: 1,
    "m": 0.001,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}
DURATION = re.compile(
    r"^(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?$"
)
DURATION_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)


def _fail(msg):
    raise AnsibleFilterError("kubernetes_manifests: " + msg)


def _options(spec):
    if not isinstance(spec, dict):
        _fail("expects a dict of options, got %s" % type(spec).__name__)
    unknown = sorted(set(spec) - set(DEFAULTS))
    if unknown:
        _fail("unknown option(s) %s" % ", ".join(unknown))
    opts = copy.deepcopy(DEFAULTS)
    opts.update(copy.deepcopy(spec))
    if not DNS1123.match(opts["name"]) or len(opts["name"]) > 40:
        _fail(
            "kubernetes_name %r must be a DNS label (lower case, digits, '-') of at most 40 characters" % opts["name"]
        )
    if not DNS1123.match(opts["namespace"]):
        _fail("kubernetes_namespace %r is not a valid namespace name" % opts["namespace"])
    if not opts["image"]:
        _fail("the collector image is empty; set kubernetes_collector_image")
    for key, choices in (("tls_mode", TLS_MODES), ("queue_storage", QUEUE_STORAGES), ("service_type", SERVICE_TYPES)):
        if opts[key] not in choices:
            _fail("kubernetes_%s must be one of %s, got %r" % (key, ", ".join(choices), opts[key]))
    if opts["tls_mode"] == "secret" and not opts["tls_secret_name"]:
        _fail(
            "kubernetes_tls_mode=secret needs kubernetes_tls_secret_name (a kubernetes.io/tls Secret in the namespace)"
        )
    if opts["tls_mode"] == "cert_manager" and not opts["tls_issuer_name"]:
        _fail(
            "kubernetes_tls_mode=cert_manager needs kubernetes_tls_issuer_name (a cert-manager Issuer or ClusterIssuer)"
        )
    if opts["tls_mode"] == "cert_manager" and opts["tls_issuer_kind"] not in ("Issuer", "ClusterIssuer"):
        _fail("kubernetes_tls_issuer_kind must be Issuer or ClusterIssuer")
    token = opts["bearer_token"]
    if not isinstance(token, string_types) or "\n" in token or "\r" in token:
        _fail("kubernetes_bearer_token must be one line of text (it is sent in an HTTP header)")
    limit = (opts["resources"].get("limits") or {}).get("memory")
    if limit is not None:
        limit_mib = quantity_bytes(limit) / 1024**2
        if int(opts["memory_limiter_mib"]) >= limit_mib:
            _fail(
                "the memory limiter (kubernetes_memory_limiter_mib=%s) must stay below the container's "
                "memory limit (%s); "
                "raise kubernetes_resources.limits.memory or lower the limiter" % (opts["memory_limiter_mib"], limit)
            )
    if opts["service_type"] != "LoadBalancer" and (
        opts["service_load_balancer_ip"] or opts["service_external_traffic_policy"]
    ):
        _fail(
            "kubernetes_service_load_balancer_ip and _external_traffic_policy need kubernetes_service_type=LoadBalancer"
        )
    return opts


def quantity_bytes(value):
    """A Kubernetes quantity (600Mi, 1Gi, 500M, 0.5Gi) as a number of bytes (or cores, for cpu)."""
    match = QUANTITY.match(str(value).strip())
    if not match:
        _fail("%r is not a Kubernetes quantity (e.g. 600Mi)" % (value,))
    return float(match.group(1)) * UNITS[match.group(2)]


def duration_seconds(value):
    """A Prometheus duration (7d, 1h30m, 0s) as seconds; None when it is not one."""
    text = str(value or "").strip()
    match = DURATION.match(text)
    if not text or not match:
        return None
    parts = match.groups()
    return sum(int(parts[i]) * DURATION_SECONDS[i] for i in range(len(parts)) if parts[i])


def _labels(opts, component):
    labels = {
        "app.kubernetes.io/name": "claude-code-otel-collector",
        "app.kubernetes.io/instance": opts["name"],
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    labels.update(opts["labels"])
    return labels


def _selector(opts):
    return {"app.kubernetes.io/instance": opts["name"], "app.kubernetes.io/component": "collector"}


def _meta(opts, name, component, labels=None, annotations=None):
    meta = {"name": name, "namespace": opts["namespace"], "labels": _labels(opts, component)}
    meta["labels"].update(labels or {})
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def _yaml_text(data):
    # JSON is YAML: a stable text (sorted keys) the collector reads as its config.
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _tls_secret(opts):
    if opts["tls_mode"] == "none":
        return ""
    return opts["tls_secret_name"] or opts["name"] + "-tls"


def _pod(opts, config_text):
    volumes = [{"name": "config", "configMap": {"name": opts["name"] + "-config"}}]
    mounts = [{"name": "config", "mountPath": CONFIG_DIR + "/config.yaml", "subPath": "config.yaml", "readOnly": True}]
    if opts["queue_storage"] == "pvc":
        volumes.append({"name": "queue", "persistentVolumeClaim": {"claimName": opts["name"] + "-queue"}})
    else:
        volumes.append({"name": "queue", "emptyDir": {"sizeLimit": opts["queue_size_limit"]}})
    mounts.append({"name": "queue", "mountPath": QUEUE_DIR})
    secret = _tls_secret(opts)
    if secret:
        volumes.append(
            {
                "name": "tls",
                "secret": {
                    "secretName": secret,
                    "items": [{"key": "tls.crt", "path": "server.crt"}, {"key": "tls.key", "path": "server.key"}],
                },
            }
        )
        mounts.append({"name": "tls", "mountPath": TLS_DIR, "readOnly": True})
    if opts["bearer_token"]:
        volumes.append({"name": "token", "secret": {"secretName": opts["name"] + "-token"}})
        mounts.append({"name": "token", "mountPath": SECRETS_DIR, "readOnly": True})
    probe = {"httpGet": {"path": "/", "port": "health"}, "periodSeconds": 10}
    container = {
        "name": "otel-collector",
        "image": opts["image"],
        "imagePullPolicy": opts["image_pull_policy"],
        "args": ["--config=%s/config.yaml" % CONFIG_DIR],
        "ports": [
            {"name": "otlp-grpc", "containerPort": 4317, "protocol": "TCP"},
            {"name": "otlp-http", "containerPort": 4318, "protocol": "TCP"},
            {"name": "health", "containerPort": int(opts["health_port"]), "protocol": "TCP"},
            {"name": "telemetry", "containerPort": int(opts["telemetry_port"]), "protocol": "TCP"},
        ],
        "readinessProbe": dict(probe, initialDelaySeconds=5),
        "livenessProbe": dict(probe, initialDelaySeconds=15, failureThreshold=6),
        "resources": copy.deepcopy(opts["resources"]),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }
    spec = {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": COLLECTOR_UID,
            "runAsGroup": COLLECTOR_UID,
            "fsGroup": COLLECTOR_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }
    if opts["node_selector"]:
        spec["nodeSelector"] = dict(opts["node_selector"])
    if opts["tolerations"]:
        spec["tolerations"] = copy.deepcopy(opts["tolerations"])
    # A new config (or TLS Secret) changes this annotation, so the pods roll.
    # The token is left out: the collector re-reads its file when the Secret changes.
    digest = hashlib.sha256((config_text + secret).encode("utf-8")).hexdigest()[:16]
    labels = _labels(opts, "collector")
    return {
        "metadata": {"labels": labels, "annotations": {"claude-code-observability/config-hash": digest}},
        "spec": spec,
    }


def _collector(opts, collector_config):
    name = opts["name"]
    config_text = _yaml_text(collector_config)
    objects = []
    if opts["create_namespace"]:
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": opts["namespace"], "labels": _labels(opts, "namespace")},
            }
        )
    if opts["bearer_token"]:
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": _meta(opts, name + "-token", "collector"),
                "type": "Opaque",
                "stringData": {"bearer_token": opts["bearer_token"]},
            }
        )
    if opts["tls_mode"] == "cert_manager":
        cert = {
            "secretName": _tls_secret(opts),
            "issuerRef": {"name": opts["tls_issuer_name"], "kind": opts["tls_issuer_kind"], "group": "cert-manager.io"},
            "dnsNames": list(opts["tls_dns_names"])
            or [
                "%s.%s.svc" % (name, opts["namespace"]),
                "%s.%s.svc.cluster.local" % (name, opts["namespace"]),
            ],
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "usages": ["server auth", "digital signature", "key encipherment"],
        }
        addresses = list(opts["tls_ip_addresses"]) or (
            [opts["service_load_balancer_ip"]] if opts["service_load_balancer_ip"] else []
        )
        if addresses:
            cert["ipAddresses"] = addresses
        objects.append(
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": _meta(opts, name + "-tls", "collector"),
                "spec": cert,
            }
        )
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(opts, name + "-config", "collector"),
            "data": {"config.yaml": config_text},
        }
    )
    if opts["queue_storage"] == "pvc":
        pvc = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": opts["queue_size_limit"]}}}
        if opts["queue_storage_class"]:
            pvc["storageClassName"] = opts["queue_storage_class"]
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": _meta(opts, name + "-queue", "collector"),
                "spec": pvc,
            }
        )
    deployment = {
        "replicas": int(opts["replicas"]),
        "selector": {"matchLabels": _selector(opts)},
        "template": _pod(opts, config_text),
        # A ReadWriteOnce claim is held by one pod at a time: the old pod goes first.
        "strategy": {"type": "Recreate"} if opts["queue_storage"] == "pvc" else {"type": "RollingUpdate"},
    }
    if opts["queue_storage"] == "pvc" and int(opts["replicas"]) > 1:
        _fail("kubernetes_queue_storage=pvc holds one ReadWriteOnce claim: kubernetes_replicas must be 1")
    objects.append(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(opts, name, "collector"), "spec": deployment}
    )
    service = {
        "type": opts["service_type"],
        "selector": _selector(opts),
        "ports": [
            {"name": "otlp-grpc", "port": int(opts["otlp_grpc_port"]), "targetPort": "otlp-grpc", "protocol": "TCP"},
            {"name": "otlp-http", "port": int(opts["otlp_http_port"]), "targetPort": "otlp-http", "protocol": "TCP"},
        ],
    }
    if opts["service_load_balancer_ip"]:
        service["loadBalancerIP"] = opts["service_load_balancer_ip"]
    if opts["service_external_traffic_policy"]:
        service["externalTrafficPolicy"] = opts["service_external_traffic_policy"]
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(opts, name, "collector", annotations=opts["service_annotations"]),
            "spec": service,
        }
    )
    # The collector's own metrics stay inside the cluster: a ClusterIP Service
    # of their own, which the ServiceMonitor selects.
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(opts, name + "-telemetry", "telemetry"),
            "spec": {
                "type": "ClusterIP",
                "selector": _selector(opts),
                "ports": [
                    {
                        "name": "telemetry",
                        "port": int(opts["telemetry_port"]),
                        "targetPort": "telemetry",
                        "protocol": "TCP",
                    }
                ],
            },
        }
    )
    return objects


def _monitoring(opts, rule_groups):
    name = opts["name"]
    objects = []
    if opts["service_monitor"]:
        objects.append(
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "ServiceMonitor",
                "metadata": _meta(opts, name, "telemetry", labels=opts["prometheus_labels"]),
                "spec": {
                    "selector": {
                        "matchLabels": {"app.kubernetes.io/instance": name, "app.kubernetes.io/component": "telemetry"}
                    },
                    "namespaceSelector": {"matchNames": [opts["namespace"]]},
                    "endpoints": [
                        {
                            "port": "telemetry",
                            "interval": opts["scrape_interval"],
                            # The rules' collector alerts read job="otel-collector", as on a Compose host.
                            "relabelings": [
                                {"targetLabel": "job", "replacement": "otel-collector", "action": "replace"}
                            ],
                        }
                    ],
                },
            }
        )
    if opts["prometheus_rules"]:
        if not isinstance(rule_groups, list) or not rule_groups:
            _fail("the rule groups of the prometheus role are empty; cannot build the PrometheusRule")
        objects.append(
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PrometheusRule",
                "metadata": _meta(opts, name, "rules", labels=opts["prometheus_labels"]),
                "spec": {"groups": copy.deepcopy(rule_groups)},
            }
        )
    return objects


def _grafana(opts, dashboards):
    name = opts["name"]
    objects = []
    if opts["dashboards"]:
        if not isinstance(dashboards, dict) or not dashboards:
            _fail("no dashboards given; expected file name -> JSON text from the grafana role")
        for filename in sorted(dashboards):
            stem = re.sub(r"\.json$", "", filename)
            if not DNS1123.match(stem):
                _fail("dashboard file %r: its name must be lower case letters, digits and '-'" % filename)
            text = dashboards[filename]
            if not isinstance(text, string_types):
                text = json.dumps(text, indent=2, sort_keys=True)
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": _meta(
                        opts,
                        "%s-dashboard-%s" % (name, stem),
                        "dashboard",
                        labels=opts["dashboard_labels"],
                        annotations=opts["dashboard_annotations"],
                    ),
                    "data": {filename: text},
                }
            )
    if opts["datasources"]:
        sources = []
        if opts["grafana_prometheus_url"]:
            sources.append(
                {
                    "name": "Claude Code Prometheus",
                    "uid": opts["prometheus_datasource_uid"],
                    "type": "prometheus",
                    "access": "proxy",
                    "url": opts["grafana_prometheus_url"],
                    "editable": False,
                }
            )
        if opts["grafana_loki_url"]:
            sources.append(
                {
                    "name": "Claude Code Loki",
                    "uid": opts["loki_datasource_uid"],
                    "type": "loki",
                    "access": "proxy",
                    "url": opts["grafana_loki_url"],
                    "editable": False,
                }
            )
        if sources:
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": _meta(opts, name + "-datasources", "datasource", labels=opts["datasource_labels"]),
                    "data": {"claude-code-datasources.yaml": _yaml_text({"apiVersion": 1, "datasources": sources})},
                }
            )
    return objects


def kubernetes_manifests(spec, collector_config, rule_groups=None, dashboards=None):
    """Every object of the Kubernetes target, in the order they are applied."""
    # Plain copies: the objects below copy parts of these, and copying what
    # Ansible hands a filter value by value takes seconds.
    spec, collector_config, rule_groups, dashboards = (
        plain(v) for v in (spec, collector_config, rule_groups, dashboards)
    )
    opts = _options(spec)
    if not isinstance(collector_config, dict) or "service" not in collector_config:
        _fail("the collector config (from the otel_collector role's config entry point) is missing or not a config")
    return _collector(opts, collector_config) + _monitoring(opts, rule_groups) + _grafana(opts, dashboards)


def _selector_matches(selector, labels):
    """Does a label selector (matchLabels / matchExpressions) select these labels?"""
    if selector is None:
        return False  # a nil selector selects nothing (prometheus-operator)
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def kubernetes_prometheus_problems(prometheus, spec):
    """What the user's Prometheus CR lacks for this collection's metrics, rules and scrapes.

    `spec` holds: min_out_of_order_window, prometheus_labels, service_monitor, prometheus_rules, namespace.
    Each problem names the Prometheus CR field and the kube-prometheus-stack Helm value that set it.
    """
    if not isinstance(prometheus, dict):
        raise AnsibleFilterError("kubernetes_prometheus_problems: expects a Prometheus object")
    pspec = prometheus.get("spec") or {}
    meta = prometheus.get("metadata") or {}
    where = "Prometheus %s/%s" % (meta.get("namespace", "?"), meta.get("name", "?"))
    problems = []
    if pspec.get("enableOTLPReceiver") is not True:
        problems.append(
            "%s: spec.enableOTLPReceiver is not true, so the collector's OTLP push of Claude Code's metrics "
            "is refused. Set spec.enableOTLPReceiver: true (kube-prometheus-stack Helm value "
            "prometheus.prometheusSpec.enableOTLPReceiver=true)." % where
        )
    want = str(spec.get("min_out_of_order_window") or "0s")
    have = (pspec.get("tsdb") or {}).get("outOfOrderTimeWindow") or "0s"
    want_s, have_s = duration_seconds(want), duration_seconds(have)
    if want_s is None:
        raise AnsibleFilterError("kubernetes_prometheus_problems: %r is not a Prometheus duration" % want)
    if have_s is None or have_s < want_s:
        problems.append(
            "%s: spec.tsdb.outOfOrderTimeWindow is %s, below %s: samples a collector delivers late "
            "(its queue after an outage) would be refused. Set spec.tsdb.outOfOrderTimeWindow: %s "
            "(kube-prometheus-stack Helm value "
            "prometheus.prometheusSpec.tsdb.outOfOrderTimeWindow=%s)." % (where, have, want, want, want)
        )
    labels = dict(spec.get("prometheus_labels") or {})
    namespace = spec.get("namespace")
    ns_hint = (
        " and its namespace selector must include namespace %s "
        "(Helm value prometheus.prometheusSpec.%sNamespaceSelector)" % (namespace, "{kind}")
    )
    for enabled, field, helm in (
        (spec.get("service_monitor"), "serviceMonitorSelector", "serviceMonitorSelectorNilUsesHelmValues=false"),
        (spec.get("prometheus_rules"), "ruleSelector", "ruleSelectorNilUsesHelmValues=false"),
    ):
        if not enabled:
            continue
        if not _selector_matches(pspec.get(field), labels):
            problems.append(
                "%s: spec.%s %s does not select the labels %s this role puts on its objects. "
                "Set kubernetes_prometheus_labels to what the selector asks for, or widen it "
                "(kube-prometheus-stack Helm value prometheus.prometheusSpec.%s)%s."
                % (
                    where,
                    field,
                    json.dumps(pspec.get(field), sort_keys=True),
                    json.dumps(labels, sort_keys=True),
                    helm,
                    ns_hint.format(kind=field.replace("Selector", "")) if namespace != meta.get("namespace") else "",
                )
            )
    return problems


def kubernetes_service_address(service, given="", required=False):
    """The address laptops send to: `given`, else the load balancer's, else the one asked for, else the cluster IP.

    With required=True an unknown address is an error that says what to set.
    """
    address = _service_address(service, given)
    if required and not address:
        meta = (service or {}).get("metadata") or {} if isinstance(service, dict) else {}
        raise AnsibleFilterError(
            "the collector Service %s has no address yet (no load balancer status, no address asked for): "
            "set kubernetes_collector_address (or client_otlp_host), or kubernetes_service_annotations / "
            "kubernetes_service_load_balancer_ip so the load balancer gives it a fixed one"
            % ("%s/%s" % (meta.get("namespace"), meta.get("name")) if meta else "(not found)")
        )
    return address


def _service_address(service, given):
    if given:
        return str(given)
    if not isinstance(service, dict) or not service:
        return ""
    for ingress in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        if ingress.get("ip") or ingress.get("hostname"):
            return ingress.get("ip") or ingress.get("hostname")
    spec = service.get("spec") or {}
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    if spec.get("type") == "LoadBalancer":
        for key in ADDRESS_ANNOTATIONS:
            if annotations.get(key):
                return annotations[key].split(",")[0].strip()
        if spec.get("loadBalancerIP"):
            return spec["loadBalancerIP"]
        return ""  # no address yet: the load balancer has not given one
    if spec.get("type") == "ClusterIP" and spec.get("clusterIP") not in (None, "", "None"):
        return spec["clusterIP"]
    return ""


def kubernetes_connection_error(result, kubeconfig="", context=""):
    """A message naming the fix for a failed first call to the API server; '' when it succeeded."""
    # The task registers with failed_when: false, so a failure shows as a missing API list.
    if isinstance(result, dict) and "apis" in result and not result.get("failed"):
        return ""
    result = result if isinstance(result, dict) else {}
    text = " ".join(str(result.get(key) or "") for key in ("msg", "error", "reason", "exception"))
    where = "kubeconfig %s" % (kubeconfig or "~/.kube/config (or $K8S_AUTH_KUBECONFIG)")
    if context:
        where += ", context %s" % context
    low = text.lower()
    if "kubernetes" in low and (
        "no module named" in low or "python library" in low or "requires the kubernetes" in low
    ):
        return (
            "the Python library 'kubernetes' is missing on the controller: pip install kubernetes "
            "(requirements.txt lists it). Details: %s" % text.strip()
        )
    if any(
        s in low
        for s in (
            "no such file",
            "does not exist",
            "could not find or access",
            "invalid kube-config",
            "no configuration found",
            "context",
        )
    ) and not any(s in low for s in ("connection refused", "max retries", "timed out")):
        return (
            "cannot load the cluster credentials from %s: set kubernetes_kubeconfig to a readable kubeconfig file "
            "(and kubernetes_context to one of its contexts). Details: %s" % (where, text.strip())
        )
    if any(s in low for s in ("401", "unauthorized", "403", "forbidden")):
        return (
            "the API server refused the credentials of %s: give a user allowed to manage Deployments, Services, "
            "ConfigMaps, Secrets and monitoring.coreos.com objects in the namespace. Details: %s"
            % (where, text.strip())
        )
    if any(s in low for s in ("certificate verify failed", "ssl")):
        return (
            "the API server's TLS certificate was not trusted (%s): fix certificate-authority in the kubeconfig, "
            "or set kubernetes_validate_certs=false for a test cluster. Details: %s" % (where, text.strip())
        )
    return (
        "cannot reach the API server of %s: check that the cluster is up and its server address in the kubeconfig "
        "is reachable from this controller (kubectl --kubeconfig ... get ns). Details: %s" % (where, text.strip())
    )


def kubernetes_stale(found, desired, keep=None):
    """The objects the role's labels find that are not desired: to delete, as definitions.

    found: one result per owned kind, with the ``item`` it listed (``{api_version, kind}``) and the objects found,
    as ``resources`` (k8s_info) or ``ansible_facts.kubernetes__listed`` (the k8s lookup through set_fact).
    """
    wanted = set((obj["kind"], obj["metadata"]["name"]) for obj in desired or [])
    wanted.update((item["kind"], item["name"]) for item in keep or [])
    stale = []
    for result in found or []:
        objects = result.get("resources")
        if objects is None:
            objects = (result.get("ansible_facts") or {}).get("kubernetes__listed")
        for obj in objects or []:
            if obj["metadata"].get("deletionTimestamp"):
                continue  # already being deleted: a controller (or the garbage collector) finishes it
            key = (obj.get("kind") or result.get("item", {}).get("kind"), obj["metadata"]["name"])
            if key not in wanted:
                meta = {"name": key[1]}
                if obj["metadata"].get("namespace"):
                    meta["namespace"] = obj["metadata"]["namespace"]
                stale.append(
                    {
                        "apiVersion": obj.get("apiVersion") or result["item"]["api_version"],
                        "kind": key[0],
                        "metadata": meta,
                    }
                )
    return stale


class FilterModule(object):
    def filters(self):
        return {
            "kubernetes_manifests": kubernetes_manifests,
            "kubernetes_prometheus_problems": kubernetes_prometheus_problems,
            "kubernetes_service_address": kubernetes_service_address,
            "kubernetes_connection_error": kubernetes_connection_error,
            "kubernetes_stale": kubernetes_stale,
        }
