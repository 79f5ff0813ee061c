# Developer entry points. The README's two commands are `make dev` and `make test`.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST_ARGS ?=

.PHONY: bootstrap dev test lint typecheck importlint pytest assets envtest-assets argocd-assets rhai-oracle prometheus-assets fmt docs docker images test-images e2e-kind

# Install uv (from PyPI) if missing, then the locked workspace with every component and the dev tools.
bootstrap:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
	@command -v shellcheck >/dev/null 2>&1 || scripts/apt-install shellcheck \
		|| echo "shellcheck missing: install it to run the script lint tests"
	$(UV) sync --frozen --all-packages --all-extras

# The main job on its embedded default: a local nats-server, the stand-in control plane and a worker
# running the sample job from examples/.
dev: bootstrap
	$(UV) run noetl-worker dev

# Every quality gate, then every test tier this machine can run (CI=true makes skipped tiers fail).
test: bootstrap lint typecheck importlint assets pytest

# The cached builds and the images do not depend on each other. On a cold machine their downloads,
# debootstrap and compiles overlap (-j) instead of queueing; on a warm one each is a stamp check.
# -Oline keeps each line whole; each script says what it reuses and what it builds.
assets:
	@$(MAKE) --no-print-directory -j 5 -Oline envtest-assets argocd-assets rhai-oracle prometheus-assets test-images

lint:
	$(UV) run ruff check .
	$(UV) run ruff format --check .

fmt:
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

typecheck:
	$(UV) run mypy wire/noetl_wire worker/noetl_worker standin/noetl_standin operator/noetl_operator monitoring

importlint:
	$(UV) run lint-imports

# Builds (or reuses from ~/.cache) kube-apiserver, etcd, kube-controller-manager and KEDA for envtest.
envtest-assets:
	@if [ -x scripts/envtest-assets ]; then \
		KUBEBUILDER_ASSETS="$$(scripts/envtest-assets | tail -n 1)"; echo "envtest assets: $$KUBEBUILDER_ASSETS"; \
	else echo "envtest assets: script not present yet"; fi

# A Docker daemon for the image tier and the e2e `docker` backend (scripts/docker-up: installs docker.io
# and starts dockerd where it can).
docker:
	scripts/docker-up

# noetl-worker:dev, noetl-standin:dev, noetl-operator:dev; public bases or locally made ones (one line says which).
images:
	scripts/build-images

# In `make test`: the images where Docker can run; elsewhere one line, and the image tier skips (CI=true fails it).
test-images:
	@if scripts/docker-up; then scripts/build-images; \
	else echo "images: no Docker daemon here; the image tier skips (and fails with CI=true)"; fi

# Builds (or reuses from ~/.cache) the real Rhai engine the rhai_differential tier compares against
# (tools/rhai-oracle, `cargo build --locked`; a cold build is part of CI's time, see docs/testing.md).
rhai-oracle:
	@echo "rhai oracle: $$(scripts/rhai-oracle | tail -n 1)"

# Builds (or reuses from ~/.cache) Argo CD and kustomize for the argocd tier; installs redis-server when missing.
argocd-assets:
	@set -o pipefail; dir="$$(scripts/argocd-assets | tail -n 1)" && echo "argocd assets: $$dir"

# Builds (or reuses from ~/.cache) prometheus and promtool for the monitoring tier.
prometheus-assets:
	@PROMETHEUS_ASSETS="$$(scripts/prometheus-assets | tail -n 1)"; echo "prometheus assets: $$PROMETHEUS_ASSETS"

pytest:
	@if [ -x scripts/envtest-assets ]; then export KUBEBUILDER_ASSETS="$$(scripts/envtest-assets | tail -n 1)"; fi; \
	export PROMETHEUS_ASSETS="$$(scripts/prometheus-assets | tail -n 1)"; \
	$(UV) run pytest $(PYTEST_ARGS)

# The kind tier, on demand (not part of `make test`: its cold build takes longer than CI allows): builds
# or reuses from ~/.cache/noetl-workerpool/kind a kind node image and every image from sources, creates a
# one-node kind cluster, installs NATS, KEDA, the stand-in and the operator, runs e2e/tests against it
# and deletes the cluster. The first line says what is reused and what is built. See docs/testing.md.
e2e-kind:
	@e2e/kind/run.sh
