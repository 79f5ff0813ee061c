#!/usr/bin/env bash
# The kind tier (`make e2e-kind`): the e2e suite on a real kind cluster, with every image built here.
#
#   e2e/kind/run.sh            # build or reuse, create the cluster, install, run the suite, delete it
#   e2e/kind/run.sh --keep     # ... and keep the cluster afterwards (its kubeconfig path is printed)
#
# Steps: scripts/kind-node-image builds or reuses kind, the node image and the KEDA and nats-server
# images (~/.cache/noetl-workerpool/kind); `make images` builds the worker, operator and stand-in
# images; kind creates a one-node cluster (e2e/kind/cluster.yaml) and `kind load`s our images; NATS,
# the stand-in and KEDA are installed with `kubectl apply --server-side -k` (e2e/kind/manifests plus
# KEDA's own config/minimal), the operator with `kubectl apply --server-side -k deploy/overlays/kind`;
# a demo pool must turn Ready; then the e2e suite (e2e/tests) runs against the cluster, the tests that
# need real kubelets included; the cluster is deleted. The last line gives the time of each phase.
#
# On a host that cannot grant `docker run --privileged` (no CAP_SYS_RESOURCE in the capability
# bounding set, as in some VMs) kind runs through e2e/kind/docker-shim, and only there.
# Needs: Docker, Go, gcc, debootstrap, uv. Exit status: 0 passed; 1 a step or test failed; 2 a
# prerequisite is missing.
set -euo pipefail

# The whole script is one block, read before it runs, and it exits inside the block: editing it during a
# run is safe (bash would otherwise go on reading the edited file after the block).
{

CLUSTER_NAME="${KIND_CLUSTER_NAME:-noetl-e2e}"
CONTROL_PLANE_URL="http://127.0.0.1:18082" # NodePort 30082, mapped by e2e/kind/cluster.yaml
WORKER_IMAGE="noetl-worker:dev"
STANDIN_IMAGE="noetl-standin:dev"
OPERATOR_IMAGE="noetl-operator:dev"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo_root/e2e/kind"
keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h | --help)
      sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
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
our_images=("$WORKER_IMAGE" "$STANDIN_IMAGE" "$OPERATOR_IMAGE")

# First line: what is reused and what is built (the daemon is needed to know which images exist).
for tool in go uv; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not on PATH (see docs/testing.md, 'kind tier')"
done
docker_line="$("$repo_root/scripts/docker-up" 2>&1)" || die "no Docker daemon: $docker_line"
plan="$("$repo_root/scripts/kind-node-image" --plan)"
ours="${our_images[*]} (scripts/build-images, reusing Docker's layer cache)"
if [[ "$plan" == *"building nothing" ]]; then echo "${plan%nothing}$ours"; else echo "$plan, $ours"; fi
echo "$docker_line" >&2
make -C "$repo_root" --no-print-directory -s bootstrap >&2

timings=()
phase_started=$SECONDS
phase_done() {
  timings+=("$1 $((SECONDS - phase_started)) s")
  phase_started=$SECONDS
}

step "build or reuse: kind, the node image, KEDA and nats-server images"
env_file="$("$repo_root/scripts/kind-node-image" | tail -n 1)"
# shellcheck source=/dev/null
source "$env_file"
phase_done "node image"

# Built under a tag of this run: the machine's one Docker daemon is shared, and another build moving the
# `dev` tags meanwhile must not change what this run tests. They become `dev` inside the node only.
run_tag="kind-$(date +%s)-$$"
step "build: $WORKER_IMAGE, $OPERATOR_IMAGE, $STANDIN_IMAGE (make images, tagged $run_tag)"
"$repo_root/scripts/build-images" --tag "$run_tag" >&2
phase_done "our images"

kubectl() { "$KUBECTL" "$@"; }
# kind itself, through the capability shim only where the host cannot grant --privileged.
kind_path="$PATH"
cap_bnd="$(awk '/^CapBnd:/ {print $2}' /proc/self/status)"
if ! (((16#$cap_bnd >> 24) & 1)); then
  echo "run.sh: this host's capability bounding set lacks CAP_SYS_RESOURCE: kind runs through e2e/kind/docker-shim" >&2
  kind_path="$here/docker-shim:$PATH"
fi
kind() { PATH="$kind_path" "$KIND" "$@"; }

workdir="$(mktemp -d)"
kubeconfig="$workdir/kubeconfig"
export KUBECONFIG="$kubeconfig"

# On failure, print what usually explains it before the cluster goes away.
# shellcheck disable=SC2317 # run from the EXIT trap
diagnose() {
  [ -s "$kubeconfig" ] || return 0
  echo "run.sh: failed; cluster state follows" >&2
  kubectl get nodes -o wide >&2 || true
  kubectl get pods --all-namespaces -o wide >&2 || true
  kubectl -n noetl get noetlworkerpools,deployments,scaledobjects,hpa -o wide >&2 || true
  kubectl -n noetl-system logs deployment/noetl-operator --tail=100 >&2 || true
  kubectl -n noetl logs deployment/noetl-standin --tail=50 >&2 || true
  kubectl -n keda logs deployment/keda-operator --tail=30 >&2 || true
  kubectl get events --all-namespaces --sort-by=.lastTimestamp 2>/dev/null | tail -n 40 >&2 || true
}

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
  status=$?
  [ "$status" -eq 0 ] || diagnose
  if [ "$keep" -eq 1 ]; then
    echo "run.sh: cluster kept: export KUBECONFIG=$kubeconfig   (delete: $KIND delete cluster --name $CLUSTER_NAME)" >&2
  else
    phase_started=$SECONDS
    kind delete cluster --name "$CLUSTER_NAME" >/dev/null 2>&1 || true
    phase_done "teardown"
    rm -rf "$workdir"
  fi
  for image in "${our_images[@]}"; do
    docker image rm "${image%:*}:$run_tag" >/dev/null 2>&1 || true
  done
  local IFS=,
  echo "run.sh: $([ "$status" -eq 0 ] && echo passed || echo FAILED); timings: ${timings[*]}" >&2
  exit "$status"
}
trap cleanup EXIT

step "kind cluster $CLUSTER_NAME ($KIND_NODE_IMAGE)"
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
  die "a kind cluster named $CLUSTER_NAME exists already; delete it ($KIND delete cluster --name $CLUSTER_NAME) or set KIND_CLUSTER_NAME"
fi
kind create cluster --name "$CLUSTER_NAME" --config "$here/cluster.yaml" --image "$KIND_NODE_IMAGE" \
  --kubeconfig "$kubeconfig" --wait 300s
phase_done "cluster up"

step "images: kind load"
for image in "$NATS_IMAGE" "$KEDA_OPERATOR_IMAGE" "$KEDA_ADAPTER_IMAGE"; do
  kind load docker-image "$image" --name "$CLUSTER_NAME" >&2
done
for image in "${our_images[@]}"; do
  kind load docker-image "${image%:*}:$run_tag" --name "$CLUSTER_NAME" >&2
  docker exec "$CLUSTER_NAME-control-plane" ctr -n k8s.io images tag --force \
    "docker.io/library/${image%:*}:$run_tag" "docker.io/library/$image" >/dev/null
  docker image rm "${image%:*}:$run_tag" >/dev/null
done
phase_done "kind load"

step "NATS, the stand-in and KEDA $KEDA_VERSION (kubectl apply --server-side -k)"
mkdir -p "$workdir/install"
# kustomize takes only relative paths to other kustomizations.
cat >"$workdir/install/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$workdir/install" "$here/manifests")
  - $(realpath --relative-to="$workdir/install" "$KEDA_CONFIG")
images:
  - {name: nats-server, newName: "${NATS_IMAGE%:*}", newTag: "${NATS_IMAGE##*:}"}
  - {name: ghcr.io/kedacore/keda, newName: "${KEDA_OPERATOR_IMAGE%:*}", newTag: "${KEDA_OPERATOR_IMAGE##*:}"}
  - {name: ghcr.io/kedacore/keda-metrics-apiserver, newName: "${KEDA_ADAPTER_IMAGE%:*}", newTag: "${KEDA_ADAPTER_IMAGE##*:}"}
patches:
  # KEDA's manifests say Always; its images exist only in the node (kind load).
  - target: {kind: Deployment, namespace: keda}
    patch: '[{"op": "replace", "path": "/spec/template/spec/containers/0/imagePullPolicy", "value": "Never"}]'
EOF
kubectl apply --server-side -k "$workdir/install" >&2
kubectl wait --for=condition=Established crd/scaledobjects.keda.sh --timeout=60s >&2

step "operator: kubectl apply --server-side -k deploy/overlays/kind"
kubectl apply --server-side -k "$repo_root/deploy/overlays/kind" >&2
kubectl wait --for=condition=Established crd/noetlworkerpools.noetl.io --timeout=60s >&2
for deployment in nats/nats noetl/noetl-standin keda/keda-operator keda/keda-metrics-apiserver \
  noetl-system/noetl-operator; do
  kubectl -n "${deployment%/*}" rollout status "deployment/${deployment#*/}" --timeout=300s >&2
done
# The HPA reads KEDA's metric through this APIService. It used to stay FailedDiscoveryCheck (404) in
# about half the runs here: the aggregator's first check left the node before kube-proxy had translated
# the new cluster IP, the VM's transparent egress proxy answered it, and the aggregator kept that
# connection. The node now refuses untranslated cluster IPs (e2e/kind/node/noetl-service-cidr-guard),
# so this wait has no workaround behind it; if it fails, the dump says who answered the aggregator.
keda_metrics_diagnostics() {
  {
    echo "run.sh: external-metrics APIService not Available; diagnostics follow"
    kubectl get apiservice v1beta1.external.metrics.k8s.io -o jsonpath='{.status.conditions}{"\n"}'
    kubectl -n keda get pods,endpointslices -o wide
    kubectl -n keda get events --sort-by=.lastTimestamp | tail -n 30
    kubectl -n keda logs deployment/keda-metrics-apiserver --tail=60
    kubectl -n keda logs deployment/keda-operator --tail=30
    kubectl get --raw /apis/external.metrics.k8s.io/v1beta1
    # A connection to the cluster IP whose reply comes from the cluster IP itself was never translated.
    cluster_ip="$(kubectl -n keda get service keda-metrics-apiserver -o jsonpath='{.spec.clusterIP}')"
    echo "conntrack entries for $cluster_ip on the node:"
    docker exec "$CLUSTER_NAME-control-plane" conntrack -L -d "$cluster_ip"
  } >&2 2>&1 || true
}
kubectl wait --for=condition=Available apiservice/v1beta1.external.metrics.k8s.io --timeout=180s >&2 || {
  keda_metrics_diagnostics
  exit 1
}
for _ in $(seq 1 60); do
  curl -fsS "$CONTROL_PLANE_URL/api/health" >/dev/null 2>&1 && break
  sleep 2
done
curl -fsS "$CONTROL_PLANE_URL/api/health" >/dev/null || {
  echo "run.sh: the stand-in does not answer on $CONTROL_PLANE_URL" >&2
  exit 1
}

step "demo pool: apply, wait Ready, delete"
kubectl apply --server-side -f "$here/manifests/demo-pool.yaml" >&2
kubectl -n noetl wait --for=condition=Ready noetlworkerpool/demo --timeout=300s >&2
kubectl -n noetl get noetlworkerpool,deployment,scaledobject,hpa,pods >&2
# The suite's pools each get their own durable; the demo pool's workers would compete for their commands.
kubectl -n noetl delete noetlworkerpool/demo --wait --timeout=180s >&2
phase_done "install"

step "e2e suite"
cd "$repo_root"
NOETL_E2E_KUBECONFIG="$kubeconfig" NOETL_E2E_CONTROL_PLANE_URL="$CONTROL_PLANE_URL" \
  uv run pytest e2e/tests -m e2e -v -p no:cacheprovider
phase_done "suite"
exit 0
}
