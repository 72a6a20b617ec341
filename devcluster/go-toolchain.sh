#!/usr/bin/env bash
# The Go toolchain that builds the control plane: one resolution for devcluster/build.sh and
# scripts/install-deps.sh, so that what the install provides is what the build finds.
#
#   devcluster/go-toolchain.sh find      print the go binary to use, or exit 1 when none fits
#   devcluster/go-toolchain.sh install   make `find` succeed, fetching the pinned toolchain
#
# A go fits when it is go$GO_VERSION's minor at or above its patch (versions.env). It is looked
# for on PATH, in /usr/local/go (where Go's own instructions put it) and in our cache. When none
# fits, `install` fetches golang.org/toolchain@v0.0.1-go$GO_VERSION.<os>-<arch> from the Go
# module proxy, the way `GOTOOLCHAIN=go1.x` does, with whatever go is at hand: Debian
# bookworm's golang-go (1.19) is old enough to predate toolchain switching but downloads modules
# fine. The module zip keeps no file modes, so the copy in our cache gets its exec bits back.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

cache_root="${SPACECAST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spacecast}"
cached_root="$cache_root/go/go$GO_VERSION"

# fits GO: true when GO runs and is GO_VERSION's minor at or above its patch.
fits() {
  local have want_minor="${GO_VERSION%.*}" want_patch="${GO_VERSION##*.}"
  have="$("$1" env GOVERSION 2>/dev/null)" || return 1
  have="${have#go}"
  [[ "${have%.*}" == "$want_minor" && "${have##*.}" =~ ^[0-9]+$ ]] || return 1
  (( ${have##*.} >= want_patch ))
}

find_go() {
  local candidate
  for candidate in "$(command -v go || true)" /usr/local/go/bin/go "$cached_root/bin/go"; do
    if [[ -n "$candidate" && -x "$candidate" ]] && fits "$candidate"; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

install_go() {
  find_go >/dev/null && return 0
  local bootstrap os arch module dir
  bootstrap="$(command -v go || true)"
  [[ -n "$bootstrap" ]] || bootstrap=/usr/lib/go/bin/go  # Debian's golang-go
  [[ -x "$bootstrap" ]] || { echo "go-toolchain: no go to fetch go$GO_VERSION with (install golang-go)" >&2; exit 1; }
  os="$("$bootstrap" env GOHOSTOS)" arch="$("$bootstrap" env GOHOSTARCH)"
  module="golang.org/toolchain@v0.0.1-go$GO_VERSION.$os-$arch"
  echo "go-toolchain: fetching $module from the Go module proxy" >&2
  tmp="$(mktemp -d)"  # global: the EXIT trap outlives this function
  trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
  local out
  out="$(cd "$tmp" && GOMODCACHE="$tmp/mod" GOFLAGS="" GO111MODULE=on \
    "$bootstrap" mod download -json "$module" 2>&1)" || true
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$out")"
  [[ -n "$dir" && -f "$dir/bin/go" ]] || { echo "go-toolchain: cannot fetch $module: $out" >&2; exit 1; }
  mkdir -p "$(dirname "$cached_root")"
  rm -rf "$cached_root.partial"
  cp -r "$dir" "$cached_root.partial"
  chmod -R u+w "$cached_root.partial"
  chmod +x "$cached_root.partial"/bin/* "$cached_root.partial"/pkg/tool/*/*
  rm -rf "$cached_root"
  mv "$cached_root.partial" "$cached_root"  # whole or not at all
  fits "$cached_root/bin/go" || { echo "go-toolchain: $cached_root/bin/go does not run" >&2; exit 1; }
  echo "go-toolchain: go$GO_VERSION in $cached_root" >&2
}

case "${1:-}" in
  find) find_go ;;
  install) install_go ;;
  *) echo "usage: $0 find|install" >&2; exit 2 ;;
esac
