#!/bin/sh
# The build stage of every image (session_image/, controller/ and simulator/ Dockerfiles):
# Debian's python3 with uv, the locked dependencies of one extra in /opt/spacecast, then the
# project itself, keeping only the packages of ours that the image runs.
#   image-venv.sh deps EXTRA              before the sources are copied: a layer that changes
#                                         only with the lock
#   image-venv.sh project EXTRA PACKAGE...
set -eu
export DEBIAN_FRONTEND=noninteractive UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/spacecast
uv_sync() { uv sync --frozen --no-dev --extra "$@" --python /usr/bin/python3; }
case $1 in
    deps)
        apt-get update
        apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates
        python3 -m pip install --break-system-packages --no-cache-dir uv
        rm -rf /var/lib/apt/lists/*
        uv_sync "$2" --no-install-project
        ;;
    project)
        extra=$2
        shift 2
        uv_sync "$extra" --no-editable
        # The wheel holds every package of ours; the image keeps those it runs.
        cd /opt/spacecast/lib/python3*/site-packages
        for package in spacecast simulator devcluster controller; do
            case " $* " in *" $package "*) ;; *) rm -rf "$package" ;; esac
        done
        ;;
    *) echo "usage: $0 deps EXTRA | project EXTRA PACKAGE..." >&2; exit 2 ;;
esac
