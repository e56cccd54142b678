# Shared settings of deploy/kubernetes/*.sh. Sourced, not run.
# Everything lives under one directory outside the work tree so that builds are cached between
# runs; the build output is keyed by the versions below.
K8S_VERSION="${K8S_VERSION:-v1.34.3}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.15.0}"
LPP_VERSION="${LPP_VERSION:-v0.0.30}"
TIGW_LOCAL_DIR="${TIGW_LOCAL_DIR:-/var/lib/tigw-local}"
K8S_BASE="${K8S_BASE:-$TIGW_LOCAL_DIR/k8s}"
# Build cache (Go module and build caches, sources, binaries), keyed by version.
K8S_BUILD="$K8S_BASE/build-$K8S_VERSION-helm$HELM_VERSION-coredns$COREDNS_VERSION-lpp$LPP_VERSION"
K8S_BIN="$K8S_BUILD/bin"
# Running cluster state (wiped by cluster-down.sh).
K8S_RUN="$K8S_BASE/cluster"
# Network: a bridge made for the cluster; the node address sits on it (TEST-NET-1, never routed).
K8S_BRIDGE="${K8S_BRIDGE:-tigwk8s0}"
K8S_NODE_IP="${K8S_NODE_IP:-192.0.2.2}"
K8S_NODE_CIDR="${K8S_NODE_CIDR:-192.0.2.2/24}"
K8S_POD_CIDR="${K8S_POD_CIDR:-10.244.0.0/24}"
K8S_POD_BRIDGE="${K8S_POD_BRIDGE:-tigwcni0}"
K8S_SERVICE_CIDR="${K8S_SERVICE_CIDR:-10.96.0.0/16}"
K8S_API_PORT="${K8S_API_PORT:-16443}"
K8S_ETCD_PORT="${K8S_ETCD_PORT:-12379}"
K8S_NODE_NAME="${K8S_NODE_NAME:-tigw-node}"
export KUBECONFIG="$K8S_RUN/pki/admin.kubeconfig"
export PATH="$K8S_BIN:$PATH"
log() { printf '[k8s %s] %s\n' "$(date -u +%T)" "$*" >&2; }
die() { printf '[k8s] ERROR: %s\n' "$*" >&2; exit 1; }
# Long builds run at the lowest CPU and IO priority. On a machine busy with other people's nice-10
# work, TIGW_NICE=10 gives them an equal share instead (nice 19 then hardly runs at all).
TIGW_NICE="${TIGW_NICE:-19}"
if [ "$TIGW_NICE" -ge 19 ]; then NICE=(nice -n 19 ionice -c3); else NICE=(nice -n "$TIGW_NICE" ionice -c2 -n7); fi
