#!/usr/bin/env bash
# Regenerates the wrapper modules' go.mod/go.sum from devcluster/versions.env.
# k8s.io/kubernetes pins every staging module at the fake v0.0.0 and maps it
# with a relative replace, which is ignored for dependencies; so the wrapper
# replaces each staging module with its published v0.X.Y tag itself.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../versions.env
source "$here/../versions.env"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
staging_version="v0.${KUBERNETES_VERSION#v1.}"

cd "$here/kubernetes"
rm -f go.mod go.sum
go mod init spacecast.local/devcluster/kubernetes
kmod="$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
# godebug only applies from the main module: copy k/k's so defaults match upstream builds.
go mod edit -go="$(sed -n 's/^go //p' "$kmod")" -godebug="$(sed -n 's/^godebug //p' "$kmod")"
for mod in $(sed -n 's|.*\(k8s.io/[^ ]*\) => ./staging/src/k8s.io/.*|\1|p' "$kmod"); do
  go mod edit -replace="$mod=$mod@$staging_version"
done
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy; do
  go get -tool "k8s.io/kubernetes/cmd/$cmd@$KUBERNETES_VERSION"
done
go mod tidy

cd "$here/etcd"
rm -f go.mod go.sum
go mod init spacecast.local/devcluster/etcd
emod="$(go mod download -json "go.etcd.io/etcd/server/v3@$ETCD_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
go mod edit -go="$(sed -n 's/^go //p' "$emod")"
go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
go mod tidy
