#!/usr/bin/env bash
# Build session_image/Dockerfile without Docker: debootstrap a Debian bookworm root filesystem
# (minbase, configured as the debian:bookworm-slim image is), then replay the Dockerfile's
# instructions stage by stage with chroot. The RUN lines run verbatim (/bin/sh -c, with the
# stage's ENV, WORKDIR and USER), COPY copies from the repository honouring .dockerignore or from
# an earlier stage, and the final stage is left as DIR/image with its ENV/USER/WORKDIR/
# ENTRYPOINT/CMD in DIR/image.config, so it can be run much as `docker run` would.
#
#   session_image/build-rootfs.sh [DIR]               build (DIR default: /tmp/spacecast-rootfs)
#   session_image/build-rootfs.sh run DIR [-e K=V]... [ARG...]
#        ENTRYPOINT + ARGs (or CMD) as the image's USER, tini as PID 1 (like `docker run IMAGE ARG`)
#   session_image/build-rootfs.sh exec DIR [-e K=V]... [--user U] CMD...
#        any command in the image, as USER unless --user (like `docker run --entrypoint`)
#   session_image/build-rootfs.sh smoke DIR [SECONDS]
#        `spacecast --help` and `session --help` in the image, then a real cast: the simulator
#        (with its RTMP ingest) runs on the host from this checkout (uv run), the image's
#        default command (`session`) casts its audio Space for SECONDS (default 30); /readyz must
#        answer 200, the audio level exceed -30 dBFS, and SIGTERM to tini end it with exit 0 and
#        a summary in the termination log. SPACECAST_SMOKE_USER=UID[:GID] runs the cast as another
#        user (as a pod's runAsUser would), e.g. one without a passwd entry or a home;
#        SPACECAST_SMOKE_KIND=camera casts a camera Space instead, whose audio needs the HLS rescue.
#
# Every RUN and every `run`/`exec` happens in a private mount and PID namespace (unshare): /proc,
# a minimal /dev (null zero full random urandom tty, devpts, a 64 MiB /dev/shm, as Docker gives),
# a read-only /sys, and the host's /etc/resolv.conf and /etc/hosts (host networking) are mounted
# there and unmounted on exit by a trap; whatever is left vanishes with the namespace, so the host
# sees no mounts even if the script is killed. The network namespace is the host's, so loopback
# reaches services on the host. Downloaded .debs are cached in DIR/cache/apt (outside the
# stages), so rebuilds are quicker and the image's size stays honest. Services are kept from
# starting during builds by a temporary policy-rc.d. Needs root, debootstrap, unshare and python3.
#
# Reuse: DIR/base (debootstrap) is kept and reused when complete; stages are rebuilt each time.
# Set SPACECAST_ROOTFS_MIRROR to choose the Debian mirror (default: the host apt's own).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOCKERFILE=${SPACECAST_DOCKERFILE:-$REPO/session_image/Dockerfile}
export SUITE=bookworm  # scripts/lib/chroot.sh builds this suite
# shellcheck source=../scripts/lib/chroot.sh
source "$REPO/scripts/lib/chroot.sh"
DEFAULT_DIR=/tmp/spacecast-rootfs

die() { echo "build-rootfs: $*" >&2; exit 1; }
say() { echo "build-rootfs: $*" >&2; }

[[ $(id -u) == 0 ]] || die "needs root (debootstrap, chroot, mounts)"
command -v unshare >/dev/null || die "needs unshare (util-linux)"
command -v python3 >/dev/null || die "needs python3 (to read the Dockerfile)"

check_dir() {  # $1: target dir; never the repository, never /
    local d
    d=$(realpath -m "$1")
    [[ $d != / && $d != "$REPO" && $d != "$REPO"/* ]] || die "refusing target dir $d (not inside the repo, not /)"
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

# ---- the Dockerfile reader and COPY (python) ----------------------------------------------------
py() { python3 - "$@" <<'PY'
import fnmatch, json, os, re, shlex, shutil, sys

def instructions(path):
    lines, buf = [], ""
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue  # comment inside a continuation
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        if buf.strip():
            lines.append(buf.strip())
        buf = ""
    for line in lines:
        op, _, rest = line.partition(" ")
        yield op.upper(), rest.strip()

def expand(text, env):
    def sub(m):
        name = m.group(1) or m.group(2)
        return env.get(name, "")
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", sub, text)

def env_pairs(rest, env):
    words = shlex.split(rest)
    if words and "=" not in words[0]:       # legacy `ENV KEY value words`
        return [(words[0], expand(rest.split(None, 1)[1], env))]
    out = []
    for w in words:
        k, _, v = w.partition("=")
        out.append((k, expand(v, env)))
    return out

def plan(dockerfile):
    """One JSON object per line: the steps, with each stage's state resolved."""
    stages, st = [], None
    default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    for op, rest in instructions(dockerfile):
        if op == "FROM":
            words = rest.split()
            image = words[0]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            st = {"index": len(stages), "name": name, "image": image,
                  "env": {"PATH": default_path}, "user": "root", "workdir": "/",
                  "entrypoint": None, "cmd": None, "expose": []}
            stages.append(st)
            print(json.dumps({"op": "FROM", "stage": st["index"], "name": name, "image": image}))
        elif op == "ENV":
            for k, v in env_pairs(rest, st["env"]):
                st["env"][k] = v
        elif op == "WORKDIR":
            wd = expand(rest, st["env"])
            st["workdir"] = os.path.normpath(os.path.join(st["workdir"], wd))
            print(json.dumps({"op": "WORKDIR", "stage": st["index"], "dir": st["workdir"]}))
        elif op == "USER":
            st["user"] = expand(rest, st["env"])
        elif op == "RUN":
            if rest.startswith("["):
                argv = json.loads(rest)
            else:
                argv = ["/bin/sh", "-c", rest]
            print(json.dumps({"op": "RUN", "stage": st["index"], "argv": argv, "env": st["env"],
                              "user": st["user"], "workdir": st["workdir"]}))
        elif op in ("COPY", "ADD"):
            words = shlex.split(rest)
            opts = {}
            while words and words[0].startswith("--"):
                k, _, v = words.pop(0)[2:].partition("=")
                opts[k] = v
            if rest.lstrip().split(None, len(opts))[-1].startswith("["):
                words = json.loads(rest.lstrip().split(None, len(opts))[-1])
            unsupported = set(opts) - {"from", "chown", "chmod"}
            if op == "ADD" or unsupported:
                sys.exit(f"build-rootfs: {op} {rest}: not supported by this replay")
            frm = opts.get("from")
            if frm is not None:
                frm = next((s["index"] for s in stages if s["name"] == frm), None) \
                    if not frm.isdigit() else int(frm)
                if frm is None:
                    sys.exit(f"build-rootfs: COPY --from={opts['from']}: no such stage")
            dest = expand(words[-1], st["env"])
            slash = dest.endswith("/") or dest in (".", "./")
            dest = os.path.normpath(os.path.join(st["workdir"], dest)) + ("/" if slash else "")
            print(json.dumps({"op": "COPY", "stage": st["index"], "from": frm,
                              "srcs": [expand(w, st["env"]) for w in words[:-1]],
                              "dest": dest, "chown": opts.get("chown"), "chmod": opts.get("chmod"),
                              "user": st["user"]}))
        elif op == "ENTRYPOINT":
            st["entrypoint"] = json.loads(rest) if rest.startswith("[") else ["/bin/sh", "-c", rest]
            st["cmd"] = None  # Docker: ENTRYPOINT resets an inherited CMD
        elif op == "CMD":
            st["cmd"] = json.loads(rest) if rest.startswith("[") else ["/bin/sh", "-c", rest]
        elif op == "EXPOSE":
            st["expose"] += rest.split()
        elif op in ("LABEL", "ARG", "SHELL", "HEALTHCHECK", "STOPSIGNAL", "VOLUME", "ONBUILD"):
            if op in ("SHELL", "ARG", "VOLUME", "ONBUILD"):
                sys.exit(f"build-rootfs: {op}: not supported by this replay")
        else:
            sys.exit(f"build-rootfs: unknown instruction {op}")
    last = stages[-1]
    print(json.dumps({"op": "END", "stage": last["index"], "env": last["env"], "user": last["user"],
                      "workdir": last["workdir"], "entrypoint": last["entrypoint"] or [],
                      "cmd": last["cmd"] or [], "expose": last["expose"]}))

def ignored(rel, patterns):
    parts = rel.split("/")
    for n in range(1, len(parts) + 1):
        sub = "/".join(parts[:n])
        for pat in patterns:
            rx = re.escape(pat.strip("/")).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
            rx = rx.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
            if re.fullmatch(rx, sub):
                return True
    return False

def copy(context, src_root, dest_root, srcs, dest, chown):
    """COPY's rules for plain paths: a directory's contents go into dest; files go to dest, or
    into it when dest ends with / or is a directory; new files belong to root (or --chown)."""
    patterns = []
    if context:
        di = os.path.join(src_root, ".dockerignore")
        if os.path.exists(di):
            patterns = [p.strip() for p in open(di) if p.strip() and not p.startswith("#")]
            if any(p.startswith("!") for p in patterns):
                sys.exit("build-rootfs: .dockerignore exceptions (!) not supported")
    uid, gid = chown if chown else (0, 0)
    target = dest_root + dest
    created = []
    def own(p):
        os.lchown(p, uid, gid)
    for src in srcs:
        rel = os.path.normpath(src.lstrip("/"))
        path = os.path.join(src_root, rel)
        if not os.path.lexists(path) or (context and ignored(rel, patterns)):
            sys.exit(f"build-rootfs: COPY {src}: not found (or .dockerignore'd)")
        if os.path.isdir(path) and not os.path.islink(path):
            os.makedirs(target, exist_ok=True)
            for dirpath, dirnames, filenames in os.walk(path):
                rd = os.path.relpath(dirpath, src_root)
                dirnames[:] = [d for d in dirnames
                               if not (context and ignored(os.path.normpath(os.path.join(rd, d)), patterns))]
                out = os.path.join(target, os.path.relpath(dirpath, path))
                if not os.path.isdir(out):
                    os.makedirs(out)
                shutil.copystat(dirpath, out)
                own(out)
                for f in filenames:
                    rf = os.path.normpath(os.path.join(rd, f))
                    if context and ignored(rf, patterns):
                        continue
                    o = os.path.join(out, f)
                    if os.path.lexists(o) and not os.path.isdir(o):
                        os.unlink(o)
                    shutil.copy2(os.path.join(dirpath, f), o, follow_symlinks=False)
                    own(o)
        else:
            o = os.path.join(target, os.path.basename(path)) \
                if dest.endswith("/") or os.path.isdir(target) else target
            os.makedirs(os.path.dirname(o), exist_ok=True)
            shutil.copy2(path, o, follow_symlinks=False)
            own(o)

if sys.argv[1] == "plan":
    plan(sys.argv[2])
elif sys.argv[1] == "copy":
    step = json.loads(sys.argv[2])
    copy(sys.argv[3] == "true", sys.argv[4], sys.argv[5], step["srcs"], step["dest"],
         json.loads(sys.argv[6]))
elif sys.argv[1] == "field":   # field JSON KEY -> value (lists NUL-separated, dicts K=V NUL)
    obj = json.loads(sys.argv[2])
    v = obj.get(sys.argv[3])
    if isinstance(v, dict):
        sys.stdout.write("".join(f"{k}={x}\0" for k, x in v.items()))
    elif isinstance(v, list):
        sys.stdout.write("".join(f"{x}\0" for x in v))
    elif v is not None:
        sys.stdout.write(str(v))
PY
}

field() { py field "$1" "$2"; }

# ---- build ---------------------------------------------------------------------------------------

make_base() { make_slim_base "$DIR/base"; }

stage_dir() { printf '%s/stage-%s' "$DIR" "$1"; }

run_step() {  # a RUN: argv in the stage with its env, user and workdir
    local step=$1 stage root user us home envfile
    stage=$(field "$step" stage)
    root=$(stage_dir "$stage")
    user=$(field "$step" user)
    read -r us home < <(resolve_user "$root" "$user")
    envfile=$(mktemp)
    field "$step" env >"$envfile"
    grep -qz '^HOME=' "$envfile" || printf 'HOME=%s\0' "$home" >>"$envfile"
    local ca=""
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null && [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
        # The host trusts CAs of its own (a TLS-inspecting proxy): so that pip and uv reach PyPI
        # from here as from the host, RUN steps get the host's bundle in /dev (a tmpfs: the image
        # never keeps it) through the variables pip, uv and requests read.
        ca=/etc/ssl/certs/ca-certificates.crt
        printf '%s\0' SSL_CERT_FILE=/dev/.build-ca.crt PIP_CERT=/dev/.build-ca.crt \
            REQUESTS_CA_BUNDLE=/dev/.build-ca.crt >>"$envfile"
    fi
    mapfile -d '' argv < <(field "$step" argv)
    say "stage $stage: RUN ${argv[*]: -1}"
    # Builds must not start services on the host's network; apt's .debs go to the cache.
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"; chmod 755 "$root/usr/sbin/policy-rc.d"
    local rc=0
    NS_CA_FILE=$ca NS_APT_CACHE=$DIR/cache/apt ns_chroot "$root" child "$us" "$(field "$step" workdir)" "$envfile" "${argv[@]}" || rc=$?
    rm -f "$root/usr/sbin/policy-rc.d" "$envfile"
    [[ $rc == 0 ]] || die "stage $stage: RUN failed with exit $rc: ${argv[*]: -1}"
}

copy_step() {
    local step=$1 stage from root src_root context=true chown ids=null
    stage=$(field "$step" stage)
    from=$(field "$step" from)
    root=$(stage_dir "$stage")
    src_root=$REPO
    if [[ -n $from ]]; then src_root=$(stage_dir "$from"); context=false; fi
    chown=$(field "$step" chown)
    if [[ -n $chown ]]; then
        local us
        read -r us _ < <(resolve_user "$root" "$chown")
        ids="[${us%%:*}, ${us#*:}]"
    fi
    say "stage $stage: COPY ${from:+--from=$from }$(field "$step" srcs | tr '\0' ' ')-> $(field "$step" dest)"
    py copy "$step" "$context" "$src_root" "$root" "$ids"
    [[ -z $(field "$step" chmod) ]] || die "COPY --chmod not supported"
}

build() {
    mkdir -p "$DIR/cache/apt/partial"
    make_base
    local step op stage name
    while IFS= read -r step; do
        op=$(field "$step" op)
        stage=$(field "$step" stage)
        case $op in
            FROM)
                [[ $(field "$step" image) == debian:bookworm-slim ]] ||
                    die "FROM $(field "$step" image): only debian:bookworm-slim is replayed"
                name=$(field "$step" name)
                say "stage $stage${name:+ ($name)}: FROM debian:bookworm-slim"
                rm -rf --one-file-system "$(stage_dir "$stage")"
                cp -a "$DIR/base" "$(stage_dir "$stage")"
                rm -f "$(stage_dir "$stage")/.spacecast-base-done"
                ;;
            WORKDIR) mkdir -p "$(stage_dir "$stage")$(field "$step" dir)" ;;
            RUN) run_step "$step" ;;
            COPY) copy_step "$step" ;;
            END)
                ln -sfn "stage-$stage" "$DIR/image"
                {
                    printf 'IMAGE_USER=%q\nIMAGE_WORKDIR=%q\n' "$(field "$step" user)" "$(field "$step" workdir)"
                    printf 'IMAGE_ENV=(); IMAGE_ENTRYPOINT=(); IMAGE_CMD=()\n'
                    local x
                    while IFS= read -r -d '' x; do printf 'IMAGE_ENV+=(%q)\n' "$x"; done < <(field "$step" env)
                    while IFS= read -r -d '' x; do printf 'IMAGE_ENTRYPOINT+=(%q)\n' "$x"; done < <(field "$step" entrypoint)
                    while IFS= read -r -d '' x; do printf 'IMAGE_CMD+=(%q)\n' "$x"; done < <(field "$step" cmd)
                } >"$DIR/image.config"
                ;;
        esac
    done < <(py plan "$DOCKERFILE")
    say "image: $DIR/image ($(du -sh --one-file-system "$DIR/image/" | cut -f1)); run it with: $0 run $DIR [ARG...]"
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

    (cd "$REPO" && exec setsid uv run spacecast simulate --http-port 0 --https-port 0 --ingest \
        --ingest-port 0 --state-dir "$work/sim" --space "kind=$kind,id=$space,start=-30,duration=0" \
        >"$work/sim.out" 2>"$work/sim.err") &
    sim_pid=$!
    for _ in $(seq 120); do grep -q '^RTMP ingest:' "$work/sim.out" 2>/dev/null && break; sleep 0.5; done
    base=$(sed -n 's/^spacecast simulator: \(https:[^ ]*\).*/\1/p' "$work/sim.out")
    ingest=$(sed -n 's|^RTMP ingest: rtmp://127.0.0.1:\([0-9]*\)/.*|\1|p' "$work/sim.out")
    [[ -n $base && -n $ingest ]] || die "smoke: the simulator did not start (see $work/sim.err)"
    mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
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
    smoke) DIR=$(check_dir "${2:-$DEFAULT_DIR}"); shift $(($# >= 2 ? 2 : $#)); smoke "$@" ;;
    run|exec) mode=$1; DIR=$(check_dir "${2:?usage: $0 $1 DIR ...}"); shift 2; run_image "$mode" "$@" ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
    *) DIR=$(check_dir "${1:-$DEFAULT_DIR}"); build ;;
esac
