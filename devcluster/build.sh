#!/usr/bin/env bash
# Builds the pinned control-plane binaries (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kubelet, kube-proxy, etcd, kwok, helm, our kstatus and kindconfig
# checks, the pause process and the real node's CoreDNS), and gets the monitoring test tools (prometheus-operator's CRDs, Debian's
# prometheus and promtool) and the real node's runtime (Debian's containerd, runc and CNI), into
# a cache dir OUTSIDE the repo:
#   ${SPACECAST_K8S_CACHE_DIR:-~/.cache/spacecast/k8s}/<KUBERNETES_VERSION>/bin
# Idempotent: each component carries a stamp (its pin plus a hash of its wrapper
# go.mod/go.sum) and is rebuilt only when a binary is missing or the stamp differs.
# Usage: devcluster/build.sh [--print-bindir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache_root="${SPACECAST_K8S_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spacecast/k8s}"
bindir="$cache_root/$KUBERNETES_VERSION/bin"
if [[ "${1:-}" == "--print-bindir" ]]; then
  echo "$bindir"
  exit 0
fi

go_bin="$("$here/go-toolchain.sh" find)" || {
  echo "[k8s-binaries] no Go $GO_VERSION toolchain: run scripts/install-deps.sh (or make setup)" >&2
  exit 1
}
export PATH="$(dirname "$go_bin"):$PATH"
# Never switch toolchains behind our back; static binaries like upstream's.
export GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$bindir"
stage="$(mktemp -d "$cache_root/.stage.XXXXXX")"
trap 'rm -rf "$stage"' EXIT

log() { echo "[k8s-binaries] $*" >&2; }

# stamp COMPONENT PIN [WRAPPER_DIR]: the text that identifies one build.
stamp() {
  local text="$2"
  if [[ -n "${3:-}" ]]; then
    text="$text $(cat "$3/go.mod" "$3/go.sum" | sha256sum | cut -c1-16)"
  fi
  echo "$text"
}

# up_to_date STAMP BINARY...: true when every binary exists and the stamp matches.
up_to_date() {
  local want="$1" name="$2"; shift 2
  [[ -f "$bindir/.stamp-$name" && "$(cat "$bindir/.stamp-$name")" == "$want" ]] || return 1
  local b
  for b in "$@"; do [[ -s "$bindir/$b" ]] || return 1; done
}

# install_staged STAMP NAME BINARY...: move fresh binaries in, then write the stamp,
# so an interrupted build never leaves a stamp next to stale or partial binaries.
install_staged() {
  local want="$1" name="$2"; shift 2
  local b
  for b in "$@"; do rm -rf "${bindir:?}/$b"; mv "$stage/$b" "$bindir/$b"; done
  echo "$want" >"$bindir/.stamp-$name"
}

build_kubernetes() {
  local dir="$here/go/kubernetes" want
  local bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
  want="$(stamp kubernetes "$KUBERNETES_VERSION" "$dir")"
  up_to_date "$want" kubernetes "${bins[@]}" && { log "kubernetes $KUBERNETES_VERSION cached"; return; }
  log "building kubernetes $KUBERNETES_VERSION (slow: ~tens of minutes cold on 2 cores)"
  local minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
  local x="" pkg key val
  # Same version variables upstream's hack/lib/version.sh sets; without them every
  # binary reports v0.0.0-master and version-sniffing tools (kwokctl, kubectl skew) break.
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    for key in gitVersion="$KUBERNETES_VERSION" gitMajor=1 gitMinor="$minor" \
      gitTreeState=archive buildDate="$(date -u +%Y-%m-%dT%H:%M:%SZ)"; do
      val="${key#*=}"; key="${key%%=*}"
      x="$x -X '$pkg.$key=$val'"
    done
  done
  (cd "$dir" && go build -trimpath -tags selinux,notest,grpcnotrace \
    -ldflags "-s -w $x" -o "$stage/" \
    "${bins[@]/#/k8s.io/kubernetes/cmd/}")
  install_staged "$want" kubernetes "${bins[@]}"
}

build_etcd() {
  local dir="$here/go/etcd" want
  want="$(stamp etcd "$ETCD_VERSION" "$dir")"
  up_to_date "$want" etcd etcd && { log "etcd $ETCD_VERSION cached"; return; }
  log "building etcd $ETCD_VERSION"
  (cd "$dir" && go build -trimpath \
    -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" \
    -o "$stage/etcd" go.etcd.io/etcd/server/v3)
  install_staged "$want" etcd etcd
}

# These have no replace directives, so plain `go install pkg@version` works.
build_kwok() {
  local want; want="$(stamp kwok "$KWOK_VERSION")"
  up_to_date "$want" kwok kwok kwok-stages.yaml && { log "kwok $KWOK_VERSION cached"; return; }
  log "building kwok $KWOK_VERSION"
  GOBIN="$stage" go install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  # Standalone kwok has no built-in lifecycle (kwokctl injects it): ship the
  # "fast" node and pod Stages from the same kwok release as its config.
  local src f
  src="$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')"
  for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    cat "$src/kustomize/stage/$f.yaml"
    echo "---"
  done >"$stage/kwok-stages.yaml"
  install_staged "$want" kwok kwok kwok-stages.yaml
}

build_helm() {
  local want major="${HELM_VERSION%%.*}"; want="$(stamp helm "$HELM_VERSION")"
  up_to_date "$want" helm helm && { log "helm $HELM_VERSION cached"; return; }
  log "building helm $HELM_VERSION"
  GOBIN="$stage" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/$major/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/$major/cmd/helm@$HELM_VERSION"
  install_staged "$want" helm helm
}

# Test tools of our own, a few lines of Go each (devcluster/go/NAME): kstatus, what Flux's
# kstatus makes of an object (sigs.k8s.io/cli-utils); kindconfig, kind-config.yaml decoded
# strictly into kind's own types (sigs.k8s.io/kind); pause, the real node's sandbox process;
# coredns, CoreDNS with only the plugins the real node's cluster DNS uses.
build_own_tool() {
  local name=$1 dir="$here/go/$1" want
  want="$(stamp "$name" "$(sha256sum "$dir/main.go" | cut -c1-16)" "$dir")"
  up_to_date "$want" "$name" "$name" && { log "$name cached"; return; }
  log "building $name"
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$stage/$name" .)
  install_staged "$want" "$name" "$name"
}

# prometheus-operator's ServiceMonitor, PodMonitor and PrometheusRule CRDs, generated by
# controller-gen from its Go API module: what the chart's monitoring objects are checked against.
build_monitoring_crds() {
  local dir="$here/go/monitoring-crds" want
  want="$(stamp monitoring-crds "$(sha256sum "$dir/crds.go" | cut -c1-16)" "$dir")"
  up_to_date "$want" monitoring-crds monitoring-crds.yaml && { log "monitoring CRDs cached"; return; }
  log "generating prometheus-operator's CRDs (controller-gen)"
  local api="github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1" kind
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$stage/controller-gen" \
    sigs.k8s.io/controller-tools/cmd/controller-gen)
  (cd "$dir" && "$stage/controller-gen" crd:crdVersions=v1,allowDangerousTypes=true \
    paths="$api" output:crd:dir="$stage/crds")
  for kind in servicemonitors podmonitors prometheusrules; do
    cat "$stage/crds/monitoring.coreos.com_$kind.yaml"
  done >"$stage/monitoring-crds.yaml"
  install_staged "$want" monitoring-crds monitoring-crds.yaml
}

# Binaries from Debian's packages, unpacked here rather than installed: the packages would start
# services on the machine (a Prometheus server, containerd). The stamp is the packages' versions.
# fetch_debs NAME "PKG..." PATH_IN_PACKAGE:NAME_HERE...
fetch_debs() {
  local name=$1 pkgs want="" p v f; read -ra pkgs <<<"$2"; shift 2
  for p in "${pkgs[@]}"; do
    v="$(apt-cache policy "$p" | sed -n 's/^  Candidate: //p')"
    [[ -n "$v" && "$v" != "(none)" ]] || {
      log "Debian's $p package is unknown to apt here: run apt-get update (or make setup)"
      exit 1
    }
    want="$want $p=$v"
  done
  want="${want# }"
  local outs=(); for f in "$@"; do outs+=("${f#*:}"); done
  up_to_date "$want" "$name" "${outs[@]}" && { log "$want cached"; return; }
  log "fetching Debian's $want (binaries only)"
  # shellcheck disable=SC2086 # one word per package
  (cd "$stage" && apt-get download -q $want 2>&1 | grep -v "unsandboxed" >&2 || true)
  for p in "$stage"/*.deb; do dpkg-deb -x "$p" "$stage/deb"; done
  for f in "$@"; do mv "$stage/deb/${f%%:*}" "$stage/${f#*:}"; done
  install_staged "$want" "$name" "${outs[@]}"
}

start=$SECONDS
build_etcd
build_kubernetes
build_kwok
build_helm
build_own_tool kstatus
build_own_tool kindconfig
build_own_tool pause
build_own_tool coredns
build_monitoring_crds
fetch_debs prometheus prometheus usr/bin/prometheus:prometheus usr/bin/promtool:promtool
# The real node's container runtime and its network (devcluster/node.py).
fetch_debs container-runtime "containerd runc containernetworking-plugins" \
  usr/bin/containerd:containerd usr/bin/containerd-shim-runc-v2:containerd-shim-runc-v2 \
  usr/bin/ctr:ctr usr/sbin/runc:runc usr/lib/cni:cni
log "done in $((SECONDS - start))s: $bindir"
