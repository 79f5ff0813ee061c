#!/usr/bin/env bash
# The kind end-to-end validation, in one command, on a machine with Docker:
#
#   e2e/kind/run.sh            # build, install, validate, delete the cluster
#   e2e/kind/run.sh --keep     # ... and keep the cluster afterwards (kubeconfig path is printed)
#
# Steps: create a kind cluster; build the worker, stand-in and operator images and `kind load` them;
# install NATS (JetStream) and KEDA from pinned Helm charts; install the operator with
# `kubectl apply -k deploy/overlays/kind`; start the stand-in control plane; apply a demo pool and
# wait until it is Ready; then run the e2e pytest suite (e2e/tests) against the cluster.
#
# Needs: docker (daemon running), kind, helm, kubectl, uv, curl. Everything is pinned below and can
# be overridden from the environment (e.g. KEDA_CHART_VERSION=2.20.0 e2e/kind/run.sh).
# Exit status: 0 validated; 1 a step or an assertion failed; 2 a prerequisite is missing.
set -euo pipefail

CLUSTER_NAME="${KIND_CLUSTER_NAME:-noetl-e2e}"
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-}"            # empty: the node image of your kind release
NATS_CHART_VERSION="${NATS_CHART_VERSION:-1.3.7}"
KEDA_CHART_VERSION="${KEDA_CHART_VERSION:-2.19.0}" # the KEDA release the envtest tier builds
CONTROL_PLANE_URL="http://127.0.0.1:18082"        # NodePort 30082, mapped by e2e/kind/cluster.yaml
WORKER_IMAGE="noetl-workerpool-worker:dev"
STANDIN_IMAGE="noetl-workerpool-standin:dev"
OPERATOR_IMAGE="noetl-workerpool-operator:dev"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo_root/e2e/kind"
keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h | --help)
      sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "run.sh: unknown argument: $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

step() { printf '\n==> %s\n' "$*" >&2; }
die() {
  echo "run.sh: $*" >&2
  exit 2
}

for tool in docker kind helm kubectl uv curl; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not on PATH (see docs/deploy.md, 'Prerequisites')"
done
docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable (is Docker running?)"

workdir="$(mktemp -d)"
kubeconfig="$workdir/kubeconfig"
export KUBECONFIG="$kubeconfig"

# On failure, print what usually explains it before the cluster goes away.
diagnose() {
  [ -s "$kubeconfig" ] || return 0
  echo "run.sh: failed; cluster state follows" >&2
  kubectl get pods --all-namespaces -o wide >&2 || true
  kubectl -n noetl get noetlworkerpools,deployments,scaledobjects,hpa -o wide >&2 || true
  kubectl -n noetl get noetlworkerpools -o yaml >&2 || true
  kubectl -n noetl-system logs deployment/noetl-operator --tail=100 >&2 || true
  kubectl -n noetl logs deployment/noetl-standin --tail=50 >&2 || true
  kubectl get events --all-namespaces --sort-by=.lastTimestamp 2>/dev/null | tail -n 40 >&2 || true
}

cleanup() {
  status=$?
  [ "$status" -eq 0 ] || diagnose
  if [ "$keep" -eq 1 ]; then
    echo "run.sh: cluster kept: export KUBECONFIG=$kubeconfig   (delete: kind delete cluster --name $CLUSTER_NAME)" >&2
  else
    kind delete cluster --name "$CLUSTER_NAME" >/dev/null 2>&1 || true
    rm -rf "$workdir"
  fi
  exit "$status"
}
trap cleanup EXIT

step "kind cluster $CLUSTER_NAME"
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
  die "a kind cluster named $CLUSTER_NAME exists already; delete it or set KIND_CLUSTER_NAME"
fi
node_image=()
[ -n "$KIND_NODE_IMAGE" ] && node_image=(--image "$KIND_NODE_IMAGE")
kind create cluster --name "$CLUSTER_NAME" --config "$here/cluster.yaml" --kubeconfig "$kubeconfig" \
  --wait 180s ${node_image[@]+"${node_image[@]}"}

step "images: build and kind load"
docker build -f "$repo_root/Dockerfile.worker" -t "$WORKER_IMAGE" "$repo_root"
docker build -f "$repo_root/Dockerfile.worker" --target standin -t "$STANDIN_IMAGE" "$repo_root"
docker build -f "$repo_root/Dockerfile.operator" -t "$OPERATOR_IMAGE" "$repo_root"
for image in "$WORKER_IMAGE" "$STANDIN_IMAGE" "$OPERATOR_IMAGE"; do
  kind load docker-image "$image" --name "$CLUSTER_NAME"
done

step "NATS $NATS_CHART_VERSION (JetStream) and KEDA $KEDA_CHART_VERSION"
helm repo add nats https://nats-io.github.io/k8s/helm/charts/ --force-update >/dev/null
helm repo add kedacore https://kedacore.github.io/charts --force-update >/dev/null
helm repo update nats kedacore >/dev/null
helm upgrade --install nats nats/nats --version "$NATS_CHART_VERSION" --namespace nats --create-namespace \
  --values "$here/values/nats.yaml" --wait --timeout 5m
helm upgrade --install keda kedacore/keda --version "$KEDA_CHART_VERSION" --namespace keda --create-namespace \
  --values "$here/values/keda.yaml" --wait --timeout 5m

step "operator: kubectl apply -k deploy/overlays/kind"
kubectl apply -k "$repo_root/deploy/overlays/kind"
kubectl wait --for=condition=Established crd/noetlworkerpools.noetl.io --timeout=60s
kubectl -n noetl-system rollout status deployment/noetl-operator --timeout=180s

step "control plane: the stand-in"
kubectl apply -f "$here/manifests/standin.yaml"
kubectl -n noetl rollout status deployment/noetl-standin --timeout=180s
for _ in $(seq 1 60); do
  curl -fsS "$CONTROL_PLANE_URL/api/health" >/dev/null 2>&1 && break
  sleep 2
done
curl -fsS "$CONTROL_PLANE_URL/api/health" >/dev/null || {
  echo "run.sh: the stand-in does not answer on $CONTROL_PLANE_URL" >&2
  exit 1
}

step "demo pool: apply, wait Ready, delete"
kubectl apply -f "$here/manifests/demo-pool.yaml"
kubectl -n noetl wait --for=condition=Ready noetlworkerpool/demo --timeout=300s
kubectl -n noetl get noetlworkerpool,deployment,scaledobject,hpa,pods
# The suite's pools each get their own durable; the demo pool's workers would compete for their commands.
kubectl -n noetl delete noetlworkerpool/demo --wait --timeout=180s

step "e2e suite"
cd "$repo_root"
NOETL_E2E_KUBECONFIG="$kubeconfig" NOETL_E2E_CONTROL_PLANE_URL="$CONTROL_PLANE_URL" \
  uv run pytest e2e/tests -m e2e -v -p no:cacheprovider
