# shellcheck shell=bash
# Shared by scripts/build-images.sh, session_image/run-image.sh and
# scripts/fresh-machine-check.sh (source it): a Debian bookworm root filesystem from debootstrap,
# made like the debian:bookworm-slim image, and a runner that chroots into one inside private
# mount and PID namespaces.
# The caller defines say() and die(). Needs root, debootstrap and unshare.

SUITE=${SUITE:-bookworm}

unmount_under() {  # DIR: lazily unmount whatever an interrupted run left mounted inside DIR
    local dir target
    dir=$(realpath -m "$1")
    awk '{print $2}' /proc/self/mounts | { grep -E "^$dir(/|$)" || true; } | sort -r |
        while read -r target; do umount -l "$target" 2>/dev/null || true; done
}

host_mirror() {  # the host apt's Debian mirror for $SUITE (deb822 or one-line format)
    local m=""
    if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
        m=$(awk -v suite="$SUITE" '
            /^[[:space:]]*$/ { if (uris != "" && ok) { print uris; exit } uris=""; ok=0; next }
            tolower($1) == "uris:" { uris=$2 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) ok=1 }
            END { if (uris != "" && ok) print uris }' /etc/apt/sources.list.d/*.sources | head -n1)
    fi
    if [[ -z $m ]]; then
        m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk -v suite="$SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i+1) == suite) { print $i; exit } break } }')
    fi
    printf '%s' "${m:-http://deb.debian.org/debian}"
}

# ---- the namespace runner -------------------------------------------------------------------
# ns_chroot ROOT MODE USERSPEC WORKDIR ENVFILE CMD...
#   MODE=child: run CMD under a bash that unmounts on exit (trap); MODE=exec: exec CMD as PID 1.
#   ENVFILE: NUL-separated K=V lines, the whole environment of CMD (env -i). Every signal
#   starts at its default, as in a fresh login: a caller run in the background (nohup, &)
#   would otherwise hand down an ignored SIGINT, and Ctrl-C would mean nothing inside.
#   NS_SHM_SIZE: /dev/shm's size (64m, as Docker gives); NS_CA_FILE: a CA bundle to put at
#   /dev/.build-ca.crt; NS_APT_CACHE: a folder bound over /var/cache/apt/archives;
#   NS_BINDS: more "HOST_DIR:ROOT_DIR" binds, space-separated.
ns_chroot() {
    unshare --mount --pid --fork --kill-child --propagation private -- /bin/bash -c '
        set -euo pipefail
        root=$1 mode=$2 userspec=$3 workdir=$4 envfile=$5; shift 5
        mounted=()
        cleanup() { local i; for ((i=${#mounted[@]}-1; i>=0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done; }
        trap cleanup EXIT
        m() { mount "$@"; mounted+=("${@: -1}"); }
        m -t proc -o nosuid,nodev,noexec proc "$root/proc"
        m -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
        m -t tmpfs -o nosuid,mode=755,size=65536k tmpfs "$root/dev"
        for d in null zero full random urandom tty; do touch "$root/dev/$d"; m --bind "/dev/$d" "$root/dev/$d"; done
        mkdir -p "$root/dev/pts" "$root/dev/shm"
        m -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts"
        ln -s pts/ptmx "$root/dev/ptmx"; ln -s /proc/self/fd "$root/dev/fd"
        ln -s /proc/self/fd/0 "$root/dev/stdin"; ln -s /proc/self/fd/1 "$root/dev/stdout"; ln -s /proc/self/fd/2 "$root/dev/stderr"
        m -t tmpfs -o nosuid,nodev,noexec,mode=1777,size=${NS_SHM_SIZE:-64m} shm "$root/dev/shm"
        [[ -z ${NS_CA_FILE:-} ]] || install -m 644 "$NS_CA_FILE" "$root/dev/.build-ca.crt"
        [[ -z ${NS_APT_CACHE:-} ]] || m --bind "$NS_APT_CACHE" "$root/var/cache/apt/archives"
        for b in ${NS_BINDS:-}; do mkdir -p "$root${b#*:}"; m --bind "${b%%:*}" "$root${b#*:}"; done
        for f in resolv.conf hosts; do
            [[ -e $root/etc/$f && ! -L $root/etc/$f ]] || { rm -f "$root/etc/$f"; touch "$root/etc/$f"; }
            m --bind "/etc/$f" "$root/etc/$f"
        done
        mapfile -d "" envv < "$envfile"
        cmd=(chroot --userspec="$userspec" "$root" /usr/bin/env -i --default-signal "${envv[@]}" /bin/sh -c "cd \"\$0\" && exec \"\$@\"" "$workdir" "$@")
        if [[ $mode == exec ]]; then trap - EXIT; exec "${cmd[@]}"; fi
        "${cmd[@]}"
    ' ns_chroot "$@"
}

SLIM_DPKG_CFG='# as in the debian:*-slim images (debuerreotype --slimify)
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*'


make_slim_base() {  # BASE: debootstrap minbase, then made like the debian:bookworm-slim image
    local base=$1 mirror
    if [[ -f $base/.spacecast-base-done ]]; then
        say "reusing $base"
        return
    fi
    command -v debootstrap >/dev/null || die "needs debootstrap (apt-get install debootstrap)"
    mirror=${SPACECAST_ROOTFS_MIRROR:-$(host_mirror)}
    say "debootstrap --variant=minbase $SUITE $base $mirror"
    unmount_under "$base"
    rm -rf --one-file-system "$base"
    mkdir -p "$base"
    # In a mount namespace of its own: the /proc and /sys it mounts inside the target go with
    # it, even when it is killed half-way.
    unshare --mount --propagation private -- debootstrap --variant=minbase "$SUITE" "$base" "$mirror"
    # What the official image adds over a plain debootstrap: the slim excludes, apt's docker-*
    # settings, the bookworm-updates and -security suites, and no leftovers.
    mkdir -p "$base/etc/dpkg/dpkg.cfg.d" "$base/etc/apt/apt.conf.d"
    printf '%s\n' "$SLIM_DPKG_CFG" >"$base/etc/dpkg/dpkg.cfg.d/docker"
    printf '%s\n' 'Acquire::GzipIndexes "true";' >"$base/etc/apt/apt.conf.d/docker-gzip-indexes"
    printf '%s\n' 'Acquire::Languages "none";' >"$base/etc/apt/apt.conf.d/docker-no-languages"
    printf '%s\n' 'Apt::AutoRemove::SuggestsImportant "false";' >"$base/etc/apt/apt.conf.d/docker-autoremove-suggests"
    local security=${mirror%/debian}/debian-security
    [[ $mirror == */debian ]] || security=http://deb.debian.org/debian-security
    rm -f "$base/etc/apt/sources.list"
    cat >"$base/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # The slim image's paths, removed from what debootstrap installed.
    rm -rf "$base"/usr/share/doc/*/[!c]* "$base"/usr/share/info/* "$base"/usr/share/man/* \
        "$base"/usr/share/groff/* "$base"/usr/share/lintian/overrides/*
    find "$base/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    rm -rf "$base"/var/cache/apt/*.bin "$base"/var/cache/apt/archives/*.deb "$base"/var/lib/apt/lists/*
    : >"$base/etc/resolv.conf"
    touch "$base/.spacecast-base-done"
    say "base ready: $(du -sh --one-file-system "$base" | cut -f1)"
}
