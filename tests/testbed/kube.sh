#!/usr/bin/env bash
# A real Kubernetes API for the test bed: kube-apiserver built from the Go
# module proxy, Debian's etcd, and the prometheus-operator CRDs taken from the
# prometheus-operator module on the Go module proxy. No kubelet, scheduler or
# controller manager runs: objects are validated and stored, no pod ever runs.
#
#   tests/testbed/kube.sh prepare  build (cached) what is missing, append the KUBE_* keys to the
#                                  test bed env file; starts nothing (testbed.sh up runs this)
#   tests/testbed/kube.sh up       prepare, then start what is not running and install the CRDs
#   tests/testbed/kube.sh running  exit 0 when etcd and both API servers run
#   tests/testbed/kube.sh down     stop the API servers and etcd started by up
#   tests/testbed/kube.sh env      print the KUBE_* keys
#
# Only the Kubernetes tests use the API servers: their module fixture runs up, and
# down at its end when it started them. Idle, the three used about 100 CPU-s
# over a whole suite run.
#
# Two API servers share one etcd under different prefixes: the main one has
# the CRDs installed; the "bare" one has none, for the missing-CRD tests.
# Both up and down are idempotent; the build is cached under $CLAUDE_OBS_CACHE
# keyed by the Kubernetes version.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
KUBE_STAGING_VERSION="${KUBE_STAGING_VERSION:-v0.36.3}"
PROMETHEUS_OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"
KUBE_PORT="${KUBE_PORT:-16443}"
KUBE_BARE_PORT="${KUBE_BARE_PORT:-16444}"
ETCD_CLIENT_PORT="${ETCD_CLIENT_PORT:-23790}"
ETCD_PEER_PORT="${ETCD_PEER_PORT:-23800}"

CACHE="${CLAUDE_OBS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/claude-code-observability}"
ENV_FILE="$CACHE/testbed.env"
BUILD_DIR="$CACHE/kube-apiserver-$KUBE_VERSION"
APISERVER_BIN="$BUILD_DIR/bin/kube-apiserver"
CRD_DIR="$CACHE/prometheus-operator-crds-$PROMETHEUS_OPERATOR_VERSION"
RUN="$CACHE/kube-run"

log() { printf '[kube] %s\n' "$*" >&2; }
die() { printf '[kube] ERROR: %s\n' "$*" >&2; exit 1; }

ensure_etcd() {
  command -v etcd >/dev/null && return 0
  [ "$(id -u)" = 0 ] || die "installing etcd-server needs root (run as root, or apt-get install etcd-server)"
  log "apt-get install etcd-server"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server >/dev/null; }
  # The package starts a system etcd on the default ports; ours uses its own.
  command -v etcd >/dev/null || die "etcd not found after installing etcd-server"
}

ensure_apiserver() {
  [ -x "$APISERVER_BIN" ] && return 0
  command -v go >/dev/null || die "go is needed to build kube-apiserver $KUBE_VERSION from the Go module proxy"
  export GOSUMDB=off GOFLAGS=-mod=mod
  rm -rf "$BUILD_DIR/src" && mkdir -p "$BUILD_DIR/src" "$BUILD_DIR/bin"
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | awk -F'"' '/"GoMod"/{print $4}')"
  [ -s "$gomod" ] || die "the Go module proxy did not give k8s.io/kubernetes@$KUBE_VERSION"
  # k8s.io/kubernetes replaces its staging modules with local paths, which a
  # dependency cannot use: the wrapper replaces each with its published version.
  {
    echo "module claude-obs-testbed/kube-apiserver"; echo; echo "go 1.26"; echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"; echo
    awk '/=> \.\/staging\/src\//{print "replace " $1 " => " $1 " '"$KUBE_STAGING_VERSION"'"}' "$gomod"
  } >"$BUILD_DIR/src/go.mod"
  printf 'package tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n' >"$BUILD_DIR/src/tools.go"
  log "building kube-apiserver $KUBE_VERSION from the Go module proxy (about 5 minutes, 2+ GB RAM, on a cold cache)"
  (cd "$BUILD_DIR/src" && go mod tidy >"$BUILD_DIR/build.log" 2>&1 \
    && go build -o "$APISERVER_BIN.tmp" k8s.io/kubernetes/cmd/kube-apiserver >>"$BUILD_DIR/build.log" 2>&1) \
    || { tail -30 "$BUILD_DIR/build.log" >&2; die "kube-apiserver build failed (log: $BUILD_DIR/build.log)"; }
  mv "$APISERVER_BIN.tmp" "$APISERVER_BIN"
}

ensure_crds() {
  [ -s "$CRD_DIR/.complete" ] && return 0
  export GOSUMDB=off GOFLAGS=-mod=mod
  local dir
  dir="$(cd /tmp && go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" \
         | awk -F'"' '/"Dir"/{print $4}')"
  [ -d "$dir/example/prometheus-operator-crd" ] \
    || die "the prometheus-operator module $PROMETHEUS_OPERATOR_VERSION has no example/prometheus-operator-crd"
  mkdir -p "$CRD_DIR"
  local f
  for f in servicemonitors prometheusrules prometheuses podmonitors; do
    install -m 0644 "$dir/example/prometheus-operator-crd/monitoring.coreos.com_$f.yaml" "$CRD_DIR/"
  done
  echo "$PROMETHEUS_OPERATOR_VERSION" >"$CRD_DIR/.complete"
}

ensure_pki() {
  mkdir -p "$RUN/pki"
  [ -s "$RUN/pki/token" ] && return 0
  openssl genrsa -out "$RUN/pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$RUN/pki/sa.key" -pubout -out "$RUN/pki/sa.pub" 2>/dev/null
  local token
  token="$(openssl rand -hex 24)"
  echo "$token,testbed-admin,testbed-admin,system:masters" >"$RUN/pki/tokens.csv"
  chmod 0600 "$RUN/pki/tokens.csv" "$RUN/pki/sa.key"
  echo "$token" >"$RUN/pki/token.tmp" && mv "$RUN/pki/token.tmp" "$RUN/pki/token"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_etcd() {
  alive "$RUN/etcd.pid" && return 0
  # A fresh store at each start: the tests' namespaces cannot be finalized
  # without a controller manager, so they would pile up across runs.
  rm -rf "$RUN/etcd" && mkdir -p "$RUN/etcd"
  log "starting etcd on 127.0.0.1:$ETCD_CLIENT_PORT"
  nohup etcd --name testbed --data-dir "$RUN/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "testbed=http://127.0.0.1:$ETCD_PEER_PORT" >"$RUN/etcd.log" 2>&1 &
  echo $! >"$RUN/etcd.pid"
  for _ in $(seq 1 30); do
    curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health" >/dev/null 2>&1 && return 0
    sleep 1
  done
  tail -20 "$RUN/etcd.log" >&2
  die "etcd did not answer within 30 s (log: $RUN/etcd.log)"
}

start_apiserver() { # name port etcd-prefix
  local name="$1" port="$2" prefix="$3"
  alive "$RUN/$name.pid" && return 0
  mkdir -p "$RUN/$name-certs"
  log "starting kube-apiserver ($name) on https://127.0.0.1:$port"
  nohup "$APISERVER_BIN" --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" --etcd-prefix "$prefix" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$port" \
    --cert-dir "$RUN/$name-certs" --token-auth-file "$RUN/pki/tokens.csv" \
    --authorization-mode RBAC \
    --service-account-key-file "$RUN/pki/sa.pub" --service-account-signing-key-file "$RUN/pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --endpoint-reconciler-type none \
    --service-cluster-ip-range 10.96.0.0/16 >"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

wait_ready() { # name port
  local token
  token="$(cat "$RUN/pki/token")"
  for _ in $(seq 1 120); do
    if curl -ksf -H "Authorization: Bearer $token" "https://127.0.0.1:$2/readyz" >/dev/null 2>&1; then return 0; fi
    alive "$RUN/$1.pid" || { tail -20 "$RUN/$1.log" >&2; die "kube-apiserver ($1) exited (log: $RUN/$1.log)"; }
    sleep 1
  done
  tail -20 "$RUN/$1.log" >&2
  die "kube-apiserver ($1) not ready within 120 s (log: $RUN/$1.log)"
}

write_kubeconfig() { # name port
  local token
  token="$(cat "$RUN/pki/token")"
  cat >"$RUN/$1.kubeconfig.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: testbed-$1
    cluster:
      server: https://127.0.0.1:$2
      certificate-authority: $RUN/$1-certs/apiserver.crt
contexts:
  - name: testbed-$1
    context: {cluster: testbed-$1, user: testbed-admin}
current-context: testbed-$1
users:
  - name: testbed-admin
    user: {token: $token}
EOF
  chmod 0600 "$RUN/$1.kubeconfig.tmp"
  mv "$RUN/$1.kubeconfig.tmp" "$RUN/$1.kubeconfig"
}

install_crds() { # port
  local token f name code
  token="$(cat "$RUN/pki/token")"
  for f in "$CRD_DIR"/*.yaml; do
    name="$(awk '/^metadata:/{m=1; next} m && /^  name:/{print $2; exit}' "$f")"
    code="$(curl -ks -o "$RUN/crd.out" -w '%{http_code}' -X PATCH -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/apply-patch+yaml' --data-binary "@$f" \
      "https://127.0.0.1:$1/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$name?fieldManager=claude-obs-testbed&force=true")"
    case "$code" in 200|201) ;; *) cat "$RUN/crd.out" >&2; die "installing CRD $name: HTTP $code" ;; esac
  done
  # wait until each CRD is Established (served)
  for f in "$CRD_DIR"/*.yaml; do
    name="$(awk '/^metadata:/{m=1; next} m && /^  name:/{print $2; exit}' "$f")"
    for _ in $(seq 1 30); do
      curl -ksf -H "Authorization: Bearer $token" \
        "https://127.0.0.1:$1/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$name" \
        | tr -d ' \n' | grep -q '"type":"Established","status":"True"' && break
      sleep 1
    done
  done
}

env_keys() {
  cat <<EOF
KUBE_APISERVER_BIN=$APISERVER_BIN
KUBE_VERSION=$KUBE_VERSION
KUBE_API_URL=https://127.0.0.1:$KUBE_PORT
KUBE_KUBECONFIG=$RUN/main.kubeconfig
KUBE_BARE_API_URL=https://127.0.0.1:$KUBE_BARE_PORT
KUBE_BARE_KUBECONFIG=$RUN/bare.kubeconfig
KUBE_CRD_DIR=$CRD_DIR
PROMETHEUS_OPERATOR_VERSION=$PROMETHEUS_OPERATOR_VERSION
EOF
}

append_env() {
  [ -f "$ENV_FILE" ] || die "$ENV_FILE does not exist: run testbed.sh up first (it writes the file this appends to)"
  local tmp="$ENV_FILE.kube.tmp"
  grep -vE '^(KUBE_[A-Z_]+|PROMETHEUS_OPERATOR_VERSION)=' "$ENV_FILE" >"$tmp" || true
  env_keys >>"$tmp"
  mv "$tmp" "$ENV_FILE"
}

cmd_prepare() {
  mkdir -p "$CACHE" "$RUN"
  command -v openssl >/dev/null || die "openssl is needed for the service-account key pair"
  ensure_etcd
  ensure_apiserver
  ensure_crds
  ensure_pki
  append_env
}

cmd_up() {
  local t0=$SECONDS
  cmd_prepare
  start_etcd
  start_apiserver main "$KUBE_PORT" /registry
  start_apiserver bare "$KUBE_BARE_PORT" /registry-bare
  wait_ready main "$KUBE_PORT"
  wait_ready bare "$KUBE_BARE_PORT"
  write_kubeconfig main "$KUBE_PORT"
  write_kubeconfig bare "$KUBE_BARE_PORT"
  install_crds "$KUBE_PORT"
  log "ready in $((SECONDS - t0)) s; kubeconfig: $RUN/main.kubeconfig"
}

stop_pid() {
  local pidfile="$1" pid
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  fi
  rm -f "$pidfile"
}

cmd_down() {
  stop_pid "$RUN/main.pid"
  stop_pid "$RUN/bare.pid"
  stop_pid "$RUN/etcd.pid"
}

case "${1:-}" in
  prepare) cmd_prepare ;;
  up) cmd_up ;;
  running) alive "$RUN/etcd.pid" && alive "$RUN/main.pid" && alive "$RUN/bare.pid" ;;
  down) cmd_down ;;
  env) env_keys ;;
  *) echo "usage: $0 prepare|up|running|down|env" >&2; exit 2 ;;
esac
