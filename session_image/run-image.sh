#!/usr/bin/env bash
# Runs a built image without a container engine, much as `docker run` would: DIR/image is the
# image's root filesystem (scripts/build-images.sh mounts a buildah image there) and
# DIR/image.config its USER, WORKDIR, ENV, ENTRYPOINT and CMD as bash assignments.
#
#   session_image/run-image.sh run DIR [-e K=V]... [--user U] [ARG...]
#        ENTRYPOINT + ARGs (or CMD) as the image's USER, tini as PID 1 (like `docker run IMAGE ARG`)
#   session_image/run-image.sh exec DIR [-e K=V]... [--user U] CMD...
#        any command in the image, as USER unless --user (like `docker run --entrypoint`)
#   session_image/run-image.sh smoke DIR [SECONDS]
#        (the session image) `spacecast --help` and `session --help` in the image, then a real
#        cast: the simulator (with its RTMP ingest) runs on the host from this checkout (.venv),
#        the image's default command (`session`) casts its audio Space for SECONDS (default 30);
#        /readyz must answer 200, the audio level exceed -30 dBFS, and SIGTERM to tini end it with
#        exit 0 and a summary in the termination log. SPACECAST_SMOKE_USER=UID[:GID] runs the cast
#        as another user (as a pod's runAsUser would), e.g. one without a passwd entry or a home;
#        SPACECAST_SMOKE_KIND=camera casts a camera Space instead, whose audio needs the HLS rescue.
#
# Every run happens in a private mount and PID namespace (unshare, scripts/lib/chroot.sh): /proc,
# a minimal /dev (null zero full random urandom tty, devpts, a 64 MiB /dev/shm, as Docker gives),
# a read-only /sys, and the host's /etc/resolv.conf and /etc/hosts (host networking) are mounted
# there and unmounted on exit; whatever is left vanishes with the namespace, so the host sees no
# mounts even if the script is killed. The network namespace is the host's, so loopback reaches
# services on the host. Needs root and unshare.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../scripts/lib/chroot.sh
source "$REPO/scripts/lib/chroot.sh"

die() { echo "run-image: $*" >&2; exit 1; }
say() { echo "run-image: $*" >&2; }
free_ports() {  # N: loopback TCP ports that were free a moment ago (the project's own helper)
    "$REPO/.venv/bin/python" -c "from devcluster.processes import free_ports; print(*free_ports($1))"
}

[[ $(id -u) == 0 ]] || die "needs root (chroot, mounts)"
command -v unshare >/dev/null || die "needs unshare (util-linux)"

check_dir() {  # $1: the image's dir; never the repository, never /
    local d
    d=$(realpath -m "$1")
    [[ $d != / && $d != "$REPO" && $d != "$REPO"/* ]] || die "refusing dir $d (not inside the repo, not /)"
    printf '%s' "$d"
}

# userspec and HOME for a Dockerfile USER value (name or uid[:gid]) inside ROOT, as Docker does.
resolve_user() {  # ROOT USER -> prints "userspec home"
    local root=$1 user=${2:-root} name=${2%%:*} group="" entry uid gid home
    [[ $user == *:* ]] && group=${user#*:}
    entry=$(chroot "$root" getent passwd "$name" || true)
    if [[ -n $entry ]]; then
        IFS=: read -r _ _ uid gid _ home _ <<<"$entry"
    elif [[ $name =~ ^[0-9]+$ ]]; then
        uid=$name gid=0 home=/   # Docker: a uid without a passwd entry gets gid 0 and HOME=/
    else
        die "USER $user: no such user in the image"
    fi
    [[ -n $group ]] && gid=$group
    printf '%s:%s %s\n' "$uid" "$gid" "$home"
}

# ---- run / exec ----------------------------------------------------------------------------------
run_image() {  # MODE(run|exec) DIR [-e K=V]... [--user U] ARGS...
    local mode=$1; shift
    [[ -f $DIR/image.config ]] || die "$DIR has no built image (run the build first)"
    # shellcheck disable=SC1091
    source "$DIR/image.config"
    local user=$IMAGE_USER extra=() argv us home
    while (($#)); do
        case $1 in
            -e) extra+=("$2"); shift 2 ;;
            --user) user=$2; shift 2 ;;
            --) shift; break ;;
            *) break ;;
        esac
    done
    if [[ $mode == run ]]; then
        if (($#)); then argv=("${IMAGE_ENTRYPOINT[@]}" "$@"); else argv=("${IMAGE_ENTRYPOINT[@]}" "${IMAGE_CMD[@]}"); fi
    else
        (($#)) || die "exec: no command"
        argv=("$@")
    fi
    local root=$DIR/image/
    read -r us home < <(resolve_user "$root" "$user")
    RUN_ENVFILE=$(mktemp)
    trap 'rm -f "$RUN_ENVFILE"' EXIT
    {
        printf '%s\0' "${IMAGE_ENV[@]}"
        printf '%s\0' "${IMAGE_ENV[@]}" | grep -qz '^HOME=' || printf 'HOME=%s\0' "$home"
        printf 'HOSTNAME=%s\0' "$(hostname)"
        ((${#extra[@]})) && printf '%s\0' "${extra[@]}"
    } >"$RUN_ENVFILE"
    ns_chroot "$root" exec "$us" "$IMAGE_WORKDIR" "$RUN_ENVFILE" "${argv[@]}"
}

# ---- smoke test ----------------------------------------------------------------------------------
smoke() {  # DIR [SECONDS]
    local secs=${1:-30} tini="" base ingest mport code level rc fails=0 user=()
    [[ -z ${SPACECAST_SMOKE_USER:-} ]] || user=(--user "$SPACECAST_SMOKE_USER")
    local kind=${SPACECAST_SMOKE_KIND:-audio} space=1AudioSpace01
    [[ $kind == audio ]] || space=1CameraSpace1
    work=$(mktemp -d /tmp/spacecast-smoke.XXXXXX)
    sim_pid="" sess_pid=""  # global: the EXIT trap reads them
    smoke_cleanup() {
        [[ -z $sess_pid ]] || { kill -TERM "$sess_pid" 2>/dev/null || true; }
        if [[ -n $sim_pid ]]; then
            # SIGINT, as Ctrl-C: on SIGTERM the simulator dies without stopping its ingest's nginx.
            kill -INT -- "-$sim_pid" 2>/dev/null || true
            for _ in $(seq 40); do kill -0 -- "-$sim_pid" 2>/dev/null || break; sleep 0.25; done
            kill -TERM -- "-$sim_pid" 2>/dev/null || true
        fi
        rm -rf "$DIR/image/smoke" "$DIR/image/tmp/term.log" "$DIR"/image/tmp/spacecast-session-*
        say "smoke: logs in $work"
    }
    trap smoke_cleanup EXIT
    check() { if "$@"; then say "smoke: ok: $CHECK"; else say "smoke: FAILED: $CHECK"; fails=$((fails + 1)); fi; }

    CHECK="tini -- spacecast --help exits 0"; check "$0" run "$DIR" --help >"$work/help.out"
    CHECK="spacecast session --help exits 0"; check "$0" run "$DIR" session --help >"$work/session-help.out"

    (cd "$REPO" && exec setsid "$REPO/.venv/bin/spacecast" simulate --http-port 0 --https-port 0 --ingest \
        --ingest-port 0 --state-dir "$work/sim" --space "kind=$kind,id=$space,start=-30,duration=0" \
        >"$work/sim.out" 2>"$work/sim.err") &
    sim_pid=$!
    for _ in $(seq 120); do grep -q '^RTMP ingest:' "$work/sim.out" 2>/dev/null && break; sleep 0.5; done
    base=$(sed -n 's/^spacecast simulator: \(https:[^ ]*\).*/\1/p' "$work/sim.out")
    ingest=$(sed -n 's|^RTMP ingest: rtmp://127.0.0.1:\([0-9]*\)/.*|\1|p' "$work/sim.out")
    [[ -n $base && -n $ingest ]] || die "smoke: the simulator did not start (see $work/sim.err)"
    mport=$(free_ports 1)
    # The destinations file and the simulator's CA, as the pod gets Secrets: root's, 0644.
    mkdir -p "$DIR/image/smoke"
    cp "$work/sim/ca.pem" "$DIR/image/smoke/ca.pem"
    echo "rtmp://127.0.0.1:$ingest/x/anykey" >"$DIR/image/smoke/destinations"
    chmod 644 "$DIR/image/smoke/"*
    rm -f "$DIR/image/tmp/term.log"
    "$0" run "$DIR" "${user[@]}" -e SPACECAST_SESSION_SPACE="$space" \
        -e SPACECAST_SESSION_DESTINATIONS_FILE=/smoke/destinations \
        -e SPACECAST_X_BASE_URL="$base" -e SPACECAST_X_API_BASE_URL="$base" \
        -e SPACECAST_X_CA_FILE=/smoke/ca.pem -e SPACECAST_SESSION_METRICS_PORT="$mport" \
        -e SPACECAST_SESSION_TERMINATION_LOG=/tmp/term.log \
        -e SPACECAST_SESSION_DISPLAY=:120 -e SPACECAST_SESSION_SINK=spacecast120 \
        >"$work/session.out" 2>"$work/session.err" &
    sess_pid=$!
    say "smoke: casting for ${secs}s (metrics on 127.0.0.1:$mport, logs $work/session.err)"
    local t0=$SECONDS ready=""
    while ((SECONDS - t0 < secs)) && kill -0 "$sess_pid" 2>/dev/null; do
        code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/readyz" || true)
        [[ $code == 200 && -z $ready ]] && ready=$((SECONDS - t0)) && say "smoke: ready after ${ready}s"
        sleep 1
    done
    curl -s "http://127.0.0.1:$mport/metrics" >"$work/metrics.txt" || true
    code=$(curl -s -o "$work/readyz.txt" -w '%{http_code}' "http://127.0.0.1:$mport/readyz" || true)
    CHECK="/readyz answers 200 at the end (got $code: $(head -c 300 "$work/readyz.txt" 2>/dev/null))"; check test "$code" = 200
    level=$(awk '/^spacecast_audio_level_dbfs/ { print $NF; exit }' "$work/metrics.txt")
    CHECK="spacecast_audio_level_dbfs > -30 (got ${level:-none})"; check awk -v l="${level:--inf}" 'BEGIN { exit !(l + 0 > -30) }'
    grep -E '^spacecast_(push_bitrate|push_fps|destination_up|audio_level|media_ready|ready |process_restarts|rescue)' "$work/metrics.txt" >&2 || true
    tini=$(pgrep -P "$(pgrep -P "$sess_pid" unshare || true)" || true)
    if [[ -n $tini ]]; then
        say "smoke: SIGTERM to tini (host pid $tini)"
        kill -TERM "$tini"
    fi
    rc=0; wait "$sess_pid" || rc=$?
    sess_pid=""
    CHECK="session exits 0 after SIGTERM (got $rc)"; check test "$rc" = 0
    CHECK="termination log written: $(cat "$DIR/image/tmp/term.log" 2>/dev/null)"; check test -s "$DIR/image/tmp/term.log"
    ((fails == 0)) || die "smoke: $fails check(s) failed"
    say "smoke: all checks passed"
}

case ${1:-} in
    smoke) DIR=$(check_dir "${2:?usage: $0 smoke DIR [SECONDS]}"); shift 2; smoke "$@" ;;
    run|exec) mode=$1; DIR=$(check_dir "${2:?usage: $0 $1 DIR ...}"); shift 2; run_image "$mode" "$@" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; [[ ${1:-} == -h || ${1:-} == --help ]] ;;
esac
