#!/usr/bin/env bash
# The README's quick start, run as a new user would: on a fresh Debian bookworm with only git,
# make and python3, in a clone of this repository's HEAD, `make demo` and then `make test`.
# A green run here means no install step is missing, whatever earlier work left on this machine.
#
#   scripts/fresh-machine-check.sh               run it (as root: debootstrap, chroot, mounts)
#   scripts/fresh-machine-check.sh --if-changed  run it only when its inputs changed since the
#                                                 last recorded pass (what .ci/run does)
#   options: --record  after a pass, write the inputs' hash and the wall time to RECORD
#            --cold    share no download or build cache with this machine (see below)
#            --keep    leave the machine's root filesystem for a look afterwards
#
# The machine: a debootstrap minbase of bookworm, made like the debian:bookworm-slim image
# (scripts/lib/chroot.sh), kept pristine in the cache and copied afresh for every run. It runs
# in private mount and PID namespaces with the host's network, as root, with a clean
# environment and the PATH a fresh root login has; nothing of this machine's PATH, /usr/local,
# HOME or caches is visible in it, and every process in it dies with the run.
#
# Caches: by default the machine borrows this machine's apt archives, uv's download cache and
# Go's module and build caches, bound in. They hold what the registries serve and what the
# compiler made of it (content-addressed and checked by their tools), never an installed
# program, so they cannot hide a missing install step; they cut the run from about an hour to
# minutes. --cold borrows none, for the full cost a new user pays.
#
# Inputs (the files whose change asks for a new run): INPUTS below. Their hash at HEAD is what
# --record writes and --if-changed compares.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
INPUTS=(scripts/install-deps.sh scripts/fresh-machine-check.sh scripts/lib/chroot.sh Makefile
  .ci/run pyproject.toml uv.lock devcluster/build.sh devcluster/go-toolchain.sh
  devcluster/versions.env devcluster/go/kubernetes/go.mod devcluster/go/etcd/go.mod
  devcluster/go/kstatus/go.mod devcluster/go/kindconfig/go.mod devcluster/go/monitoring-crds/go.mod
  devcluster/go/pause/go.mod devcluster/go/coredns/go.mod)
RECORD=$REPO/.ci/fresh-machine.verified
CACHE=${SPACECAST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spacecast}/fresh-machine
FRESH_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "fresh-machine: $*" >&2; }
die() { say "$*"; exit 1; }
# shellcheck source=lib/chroot.sh
source "$REPO/scripts/lib/chroot.sh"

if_changed=false record=false cold=false keep=false
for arg in "$@"; do
  case $arg in
    --if-changed) if_changed=true ;;
    --record) record=true ;;
    --cold) cold=true ;;
    --keep) keep=true ;;
    *) die "unknown option $arg (see the top of $0)" ;;
  esac
done

# The hash of the inputs as committed at HEAD: what a clean clone (CI's, this check's) sees.
inputs_hash() {
  (cd "$REPO" && for f in "${INPUTS[@]}"; do printf '%s %s\n' "$f" "$(git rev-parse "HEAD:$f")"; done) |
    sha256sum | cut -c1-16
}

hash=$(inputs_hash)
if $if_changed && [[ -f $RECORD ]] && grep -q "^inputs=$hash " "$RECORD"; then
  say "skipped: its inputs are as they were when it last passed ($(cat "$RECORD"))"
  exit 0
fi
[[ $(id -u) == 0 ]] || die "needs root (debootstrap, chroot, mounts)"
if ! (cd "$REPO" && git diff --quiet HEAD -- "${INPUTS[@]}"); then
  say "warning: uncommitted changes to its inputs are not checked (it clones HEAD)"
fi
command -v debootstrap >/dev/null || {
  say "installing debootstrap"
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
}

started=$SECONDS
stage_start=$SECONDS
times=()
stage_done() { times+=("$1 $((SECONDS - stage_start))s"); say "$1: $((SECONDS - stage_start)) s"; stage_start=$SECONDS; }

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -n 9 || die "another fresh-machine check is running on this machine"
if [[ ! -f $CACHE/base/.spacecast-base-done ]]; then
  make_slim_base "$CACHE/base"
fi
root=$(mktemp -d /var/tmp/spacecast-fresh.XXXXXX)
envfile=$(mktemp)
cleanup() {
  rm -f "$envfile"
  unmount_under "$root"
  if $keep; then say "kept the machine in $root"; else rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM  # so that the EXIT trap runs: bash skips it on a plain SIGTERM
trap 'exit 130' INT
cp -a "$CACHE/base/." "$root/"
# As in Debian's container images: packages never start services (nginx would take port 80 of
# the host's network).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
git clone -q --no-hardlinks "$REPO" "$root/root/spacecast"
git -C "$root/root/spacecast" checkout -q --detach "$(git -C "$REPO" rev-parse HEAD)"
stage_done "machine"

# CI=true: a missing build fails rather than skips. The real node's tests skip here, though
# (SPACECAST_TEST_REAL_NODE=auto): a chroot has no cgroup file system, and the images they run are
# `make images`'s, not the quick start's; CI's own `make test` requires them.
printf '%s\0' HOME=/root "PATH=$FRESH_PATH" LANG=C.UTF-8 TERM=dumb CI=true SPACECAST_TEST_REAL_NODE=auto >"$envfile"
ca=""
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  # The host trusts a CA of its own (a TLS-inspecting proxy); so must the fresh machine's
  # clients, as on any machine behind that proxy: curl, pip, uv, Go and Chromium's NSS aside.
  ca=/etc/ssl/certs/ca-certificates.crt
  printf '%s\0' SSL_CERT_FILE=/dev/.build-ca.crt PIP_CERT=/dev/.build-ca.crt \
    REQUESTS_CA_BUNDLE=/dev/.build-ca.crt >>"$envfile"
fi
binds=""
apt_cache=""
if ! $cold; then
  mkdir -p "$CACHE/apt/partial" "$HOME/.cache/uv" "$HOME/go/pkg/mod" "$HOME/.cache/go-build"
  apt_cache=$CACHE/apt
  binds="$HOME/.cache/uv:/root/.cache/uv $HOME/go/pkg/mod:/root/go/pkg/mod"
  binds="$binds $HOME/.cache/go-build:/root/.cache/go-build"
fi

in_machine() {  # STAGE CMD: run CMD in the repository's clone on the fresh machine
  local stage=$1; shift
  say "$stage: $*"
  NS_SHM_SIZE=2g NS_CA_FILE=$ca NS_APT_CACHE=$apt_cache NS_BINDS=$binds \
    ns_chroot "$root" child 0:0 /root/spacecast "$envfile" /bin/bash -c "$*" ||
    die "$stage failed (exit $?)"
  stage_done "$stage"
}

# What the README asks of a new user's machine, then its two commands.
in_machine "prerequisites" "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q git make python3 >/dev/null"
in_machine "make demo" make demo
in_machine "make test" make test

wall=$((SECONDS - started))
say "passed in $wall s ($(IFS=,; echo "${times[*]}"))$($cold && echo ', cold')"
if $record; then
  local_stages=(); for t in "${times[@]}"; do name=${t% *}; local_stages+=("${name// /-}=${t##* }"); done
  echo "inputs=$hash wall_s=$wall cold=$cold date=$(date -u +%Y-%m-%d) stages=$(IFS=,; echo "${local_stages[*]}")" >"$RECORD"
  say "recorded in ${RECORD#"$REPO"/}: commit it"
fi
