# The two quick-start commands are `make demo` and `make test`; both set the machine up first.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV ?= $(shell command -v uv || echo python3 -m uv)
RUN := $(UV) run --frozen

.PHONY: setup demo test lint simulate k8s-binaries cluster bench-download bench-session \
	bench-controller bench-chaos images kind-up

setup:
	@scripts/install-deps.sh

demo: setup
	$(RUN) spacecast demo

test: setup k8s-binaries lint
	$(RUN) pytest

lint:
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

simulate: setup
	$(RUN) spacecast simulate

# Kubernetes control plane for tests and development (built once, cached outside the repo).
k8s-binaries:
	devcluster/build.sh

cluster: setup k8s-binaries
	$(RUN) spacecast dev-cluster

# The session, controller and simulator images, with buildah on a debootstrap base (root).
images: setup
	scripts/build-images.sh

# For people with Docker and kind: a cluster with the chart, its monitoring and the simulator.
kind-up:
	scripts/kind-up.sh

# spacecast download vs twspace-dl and yt-dlp (peers in bench/envs/); prints a table.
bench-download: setup
	$(RUN) python -m bench.download

# The SpaceCast controller vs a minimal kopf operator and the control plane's floor.
bench-controller: setup k8s-binaries
	$(RUN) python -m bench.controller

bench-chaos: setup
	$(RUN) python -m bench.chaos

# One live cast's CPU, memory, first byte, rescue latency, A/V offset; two casts at once.
bench-session: setup
	$(RUN) python -m bench.session
