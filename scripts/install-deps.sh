#!/usr/bin/env bash
# Installs what spacecast needs on a Debian machine: system packages (media stack, browser,
# RTMP ingest), the Go toolchain that builds the test control plane, uv, and the locked Python
# environment in .venv. Idempotent and quick when everything is already there.
#
# Nothing it installs needs a PATH folder that a fresh root shell lacks: uv is reached as the
# Makefile reaches it (`uv`, else `python3 -m uv`), and inside the environment as .venv/bin/uv
# (a dev dependency); Go through devcluster/go-toolchain.sh. scripts/fresh-machine-check.sh
# proves it on a fresh Debian.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  ffmpeg espeak-ng sox            # media: encode, speak, measure
  xvfb xauth x11-utils            # the virtual display
  pulseaudio pulseaudio-utils     # the null sink and its monitor
  chromium fonts-dejavu-core      # the browser that joins Spaces
  libatomic1                      # needed by the Node.js that drives it (Playwright's)
  libnss3-tools                   # certutil: trust an extra CA (the simulator's) in Chromium
  nginx libnginx-mod-rtmp         # the local RTMP ingest for tests and the demo
  lua5.1                          # the dialect of Argo CD's health checks, to test ours
  iproute2 iptables               # the real test node's bridge, and the check of its isolation
  procps psmisc git make curl ca-certificates
  python3 python3-pip python3-venv  # the interpreter uv builds .venv from, and pip to get uv
)

# A Go that fits devcluster/versions.env, or Debian's (1.19) to fetch the pinned one with.
if ! devcluster/go-toolchain.sh find >/dev/null && ! command -v go >/dev/null; then
  APT_PACKAGES+=(golang-go)
fi

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  sudo_if_needed apt-get update -q
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

devcluster/go-toolchain.sh install

export UV_PYTHON_DOWNLOADS=never
if ! command -v uv >/dev/null 2>&1 && ! python3 -m uv --version >/dev/null 2>&1; then
  # Debian's own python3 refuses pip installs outside a venv (PEP 668); uv is a single
  # binary in a wheel, so a user install beside the system's packages is harmless.
  python3 -m pip install --quiet --user uv 2>/dev/null \
    || python3 -m pip install --quiet --user --break-system-packages uv 2>/dev/null \
    || python3 -m pip install --quiet uv
  hash -r
fi
UV=$(command -v uv || echo "python3 -m uv")
$UV sync --frozen --quiet --python python3
