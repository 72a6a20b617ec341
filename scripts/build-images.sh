#!/usr/bin/env bash
# Builds spacecast's three images from their Dockerfiles with buildah (Debian's package; chroot
# isolation, no daemon, no Docker engine), on a Debian bookworm base made by debootstrap and
# passed as the BASE build argument (everyone else gets the public debian:bookworm-slim):
#   session     session_image/Dockerfile   one live cast per pod
#   controller  controller/Dockerfile      the controller: no browser, no media stack
#   simulator   simulator/Dockerfile       X and its RTMP ingest, for `helm test` and trying it
# Each image then runs its `--help`, and the session image the smoke cast of
# session_image/run-image.sh (a real cast of the simulator, inside the image); the sizes are
# printed. An image whose inputs (its Dockerfile, the project's files, the base) hash as at its
# last pass is not built again; buildah's layer cache keeps a rebuild to what changed.
#
#   scripts/build-images.sh [NAME...]     (default: all three)
#   scripts/build-images.sh --archive NAME
#       prints the path of a docker-archive of the image as last built and checked here (made
#       once per image ID), for the real node's containerd; exits 3, building nothing, when the
#       image is missing or older than the tree (`make images` builds it)
#
# Everything lives in ${SPACECAST_CACHE_DIR:-~/.cache/spacecast}/images (buildah's storage, the
# overlay driver: vfs would keep a whole copy of the root per layer, tens of GB for the three).
# Needs root (debootstrap, chroot, mounts).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SUITE=bookworm
# shellcheck source=lib/chroot.sh
source "$REPO/scripts/lib/chroot.sh"
CACHE=${SPACECAST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spacecast}/images
BASE_IMAGE=localhost/spacecast/bookworm-base:latest
declare -A DOCKERFILES=([session]=session_image/Dockerfile [controller]=controller/Dockerfile
                        [simulator]=simulator/Dockerfile)
# What every image is made of, and the packages of ours each one keeps (its Dockerfile's
# `image-venv.sh project` line): a change to devcluster/ rebuilds none of them. README.md is
# copied in too, but only as the package's long description: a change to it alone does not
# make an image stale.
PROJECT=(scripts/image-venv.sh pyproject.toml uv.lock .dockerignore)
declare -A PACKAGES=([session]="spacecast" [controller]="spacecast controller"
                     [simulator]="spacecast simulator")

say() { echo "build-images: $*" >&2; }
die() { say "$*"; exit 1; }
image_name() { echo "localhost/spacecast/$1:dev"; }
free_ports() {  # N: loopback TCP ports that were free a moment ago (the project's own helper)
    "$REPO/.venv/bin/python" -c "from devcluster.processes import free_ports; print(*free_ports($1))"
}

[[ $(id -u) == 0 ]] || die "needs root (debootstrap, chroot, mounts)"
# What it builds with, from Debian, on a machine that lacks them (CI's is fresh every time).
missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if (( ${#missing[@]} )) && [[ ${1:-} != --archive ]]; then
    say "installing Debian's ${missing[*]}"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
bh() { buildah --root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver overlay "$@"; }
has_image() { bh inspect --type image "$1" >/dev/null 2>&1; }

# The base: debootstrap's bookworm minbase made like debian:bookworm-slim (scripts/lib/chroot.sh),
# imported as an image once.
import_base() {
    make_slim_base "$CACHE/base"
    has_image "$BASE_IMAGE" && return
    say "importing the base into buildah's storage"
    local ctr mnt
    ctr=$(bh from scratch)
    mnt=$(bh mount "$ctr")
    cp -a --one-file-system "$CACHE/base/." "$mnt/"
    rm -f "$mnt/.spacecast-base-done"
    bh umount "$ctr" >/dev/null
    bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash "$ctr"
    bh commit --rm "$ctr" "$BASE_IMAGE" >/dev/null
}

inputs_hash() {  # NAME: what the image is made of, as it is in the working tree
    local packages; read -ra packages <<<"${PACKAGES[$1]}"
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard -- "${DOCKERFILES[$1]}" \
        "${PROJECT[@]}" "${packages[@]}" | sort -z -u |
        xargs -0 sha256sum; cat "$CACHE/base/etc/debian_version") | sha256sum | cut -c1-16
}

# A built image as session_image/run-image.sh runs one: DIR/image (its root, mounted) and
# DIR/image.config (its user, workdir, env, entrypoint and cmd), so `run` and `smoke` work on it.
mount_image() {  # NAME DIR -> prints the working container's id
    local ctr
    ctr=$(bh from --pull-never "$(image_name "$1")")
    mkdir -p "$2"
    ln -sfn "$(bh mount "$ctr")" "$2/image"
    bh inspect --type image "$(image_name "$1")" | python3 -c '
import json, shlex, sys
c = json.load(sys.stdin)["OCIv1"]["config"]
def q(xs):
    return " ".join(shlex.quote(x) for x in xs or [])
print("IMAGE_USER=" + shlex.quote(c.get("User") or "root"))
print("IMAGE_WORKDIR=" + shlex.quote(c.get("WorkingDir") or "/"))
print("IMAGE_ENV=(" + q(c.get("Env")) + "); IMAGE_ENTRYPOINT=(" + q(c.get("Entrypoint")) + ")")
print("IMAGE_CMD=(" + q(c.get("Cmd")) + ")")
' >"$2/image.config"
    echo "$ctr"
}

check_image() {  # NAME: --help, and for the session the smoke cast; in the built image
    local dir="$CACHE/check-$1" ctr rc=0
    ctr=$(mount_image "$1" "$dir")
    "$REPO/session_image/run-image.sh" run "$dir" --help >/dev/null || rc=$?
    if ((rc == 0)) && [[ $1 == session ]]; then
        "$REPO/session_image/run-image.sh" smoke "$dir" 30 || rc=$?
    elif ((rc == 0)) && [[ $1 == simulator ]]; then
        serve_check "$dir" || rc=$?
    fi
    bh rm "$ctr" >/dev/null
    rm -rf "$dir"
    ((rc == 0)) || die "$1: the image's check failed"
    say "$1: --help runs$([[ $1 != session ]] || echo ", and the smoke cast passed")"
}

# The simulator image started as the chart's Deployment starts it (templates/simulator.yaml:
# every address, a lever token file, its non-root user): its API answers and its ingest listens.
serve_check() {  # DIR
    local dir=$1 http https rtmp pid ok=1
    read -r http https rtmp < <(free_ports 3)
    mkdir -p "$dir/image/run/spacecast" && head -c 30 /dev/urandom | base64 >"$dir/image/run/spacecast/lever-token"
    chmod 644 "$dir/image/run/spacecast/lever-token"
    "$REPO/session_image/run-image.sh" run "$dir" simulate --bind=0.0.0.0 --public-host=localhost \
        --http-port="$http" --https-port="$https" --ingest --ingest-port="$rtmp" \
        --lever-token-file=/run/spacecast/lever-token --space=kind=audio,id=1HelmTestCast,start=-30,duration=0 \
        >"$CACHE/simulator-serve.log" 2>&1 &
    pid=$!
    for _ in $(seq 240); do
        curl -sf "http://127.0.0.1:$http/_sim/" | grep -q 1HelmTestCast && (exec 3<>"/dev/tcp/127.0.0.1/$rtmp") 2>/dev/null && { ok=0; break; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    ((ok == 0)) || { say "simulator: not serving (log: $CACHE/simulator-serve.log)"; return 1; }
    say "simulator: serves its Space and its ingest as the chart starts it"
}

build_image() {  # NAME
    local name=$1 want stamp="$CACHE/$1.passed" start=$SECONDS
    want=$(inputs_hash "$name")
    if [[ -f $stamp && $(cat "$stamp") == "$want" ]] && has_image "$(image_name "$name")"; then
        say "$name: unchanged since it last passed ($want)"
        return
    fi
    say "$name: building ${DOCKERFILES[$name]}"
    local ca=()
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        # The host trusts a CA of its own (a TLS-inspecting proxy): the build's pip and uv get
        # the host's bundle, mounted for RUN steps only, so no image keeps it.
        ca=(--volume /etc/ssl/certs/ca-certificates.crt:/run/build-ca.crt:ro
            --build-arg SSL_CERT_FILE=/run/build-ca.crt --build-arg PIP_CERT=/run/build-ca.crt)
    fi
    (cd "$REPO" && bh build --isolation chroot --layers --pull-never "${ca[@]}" \
        --build-arg "BASE=$BASE_IMAGE" -f "${DOCKERFILES[$name]}" -t "$(image_name "$name")" .)
    check_image "$name"
    echo "$want" >"$stamp"
    say "$name: built and checked in $((SECONDS - start)) s"
}

# The archive of an image that passed at this tree: for `ctr images import` on the real node.
archive() {  # NAME
    local name=$1 id path
    [[ -n ${DOCKERFILES[$name]:-} ]] || die "no image $name (session, controller, simulator)"
    command -v buildah >/dev/null && [[ -f $CACHE/base/etc/debian_version && -f $CACHE/$name.passed ]] &&
        [[ $(cat "$CACHE/$name.passed") == "$(inputs_hash "$name")" ]] && has_image "$(image_name "$name")" ||
        { say "$name: not built at this tree: run make images"; exit 3; }
    id=$(bh images --noheading --no-trunc --format '{{.ID}}' "$(image_name "$name")" | head -1)
    id=${id#sha256:}
    path=$CACHE/archives/$name-${id:0:16}.tar
    if [[ ! -s $path ]]; then
        rm -rf "$CACHE/archives/$name-"*
        mkdir -p "$CACHE/archives"
        bh push -q "$(image_name "$name")" "docker-archive:$path.part:$(image_name "$name")" >&2
        mv "$path.part" "$path"
    fi
    echo "$path"
}

mkdir -p "$CACHE"
if [[ ${1:-} == --archive ]]; then
    archive "${2:?--archive NAME}"
    exit 0
fi
import_base
names=("$@")
((${#names[@]})) || names=(session controller simulator)
for name in "${names[@]}"; do
    [[ -n ${DOCKERFILES[$name]:-} ]] || die "no image $name (session, controller, simulator)"
    build_image "$name"
done
bh images --format '{{.Name}}:{{.Tag}} {{.Size}}' | grep '^localhost/spacecast/[a-z]*:dev' >&2 || true
