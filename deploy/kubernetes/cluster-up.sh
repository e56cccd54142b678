#!/usr/bin/env bash
# Starts a single-node Kubernetes on this machine without Docker, and prints the KUBECONFIG to use:
#   eval "$(bash deploy/kubernetes/cluster-up.sh)"
# Idempotent: builds once (deploy/kubernetes/build.sh, cached by version), starts only what is not
# running. Debian's etcd, containerd and runc; the cluster's network is two bridges made here:
#   tigwk8s0  the node address (10.245.255.1/24): API server, kubelet
#   tigwcni0  the pods (10.244.0.0/24, bridge CNI with ipMasq false)
# Nothing is NATed, and a policy-routing table plus a FORWARD guard chain keep pod traffic from
# leaving those bridges. Every process started is recorded by pid under $K8S_RUN/pids for
# cluster-down.sh, as is every sysctl changed (with its previous value).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/env.sh"
[ "$(id -u)" = 0 ] || die "needs root (containerd, kubelet, bridges)"
NODE_IP=10.245.255.1 NODE_NET=10.245.255.0/24 POD_CIDR=10.244.0.0/24 POD_GW=10.244.0.1
DNS_IP=10.96.0.10 API_SVC_IP=10.96.0.1 RT_TABLE=245
PAUSE_TAG=3.10.1

need=()
for p in containerd:containerd etcd:etcd-server runc:runc podman:podman mmdebstrap:mmdebstrap conntrack:conntrack \
         iptables:iptables socat:socat /usr/lib/cni/bridge:containernetworking-plugins gcc:gcc openssl:openssl; do
  command -v "${p%%:*}" >/dev/null 2>&1 || [ -x "${p%%:*}" ] || need+=("${p#*:}")
done
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  log "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq "${need[@]}" >&2
fi
# containerd's own service must not grab the default socket: we run our own instance only.

bash "$HERE/build.sh" >&2

mkdir -p "$K8S_RUN"/{pids,logs,pki,etcd,run,kubelet,cni/net.d,cni/ipam,local-path,state}
cd "$K8S_RUN"
alive() { [ -f "pids/$1" ] && kill -0 "$(cat "pids/$1")" 2>/dev/null; }
start() { # name cmd...  (nice'd, logs/name.log, pids/name)
  local n=$1; shift
  if alive "$n"; then return 0; fi
  log "starting $n"
  nohup nice -n 10 "$@" >"logs/$n.log" 2>&1 &
  echo $! >"pids/$n"
}
wait_for() { # what seconds cmd...
  local what=$1 s=$2; shift 2
  for _ in $(seq 1 "$s"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  die "$what not ready after ${s}s (logs in $K8S_RUN/logs)"
}
# Config files are replaced only when their content changes: kube-proxy exits when its file is
# rewritten, and a second cluster-up (idempotent) must not stop what runs.
write_if_changed() { # file < content
  local f=$1; cat >"$f.new"
  if cmp -s "$f.new" "$f"; then rm -f "$f.new"; else mv "$f.new" "$f"; fi
}
sysctl_set() { # key value: remember the old value once
  local k=$1 v=$2 f="/proc/sys/${1//.//}"
  [ -f "state/sysctl.$k" ] || cat "$f" >"state/sysctl.$k"
  echo "$v" >"$f"
}

# --- network -------------------------------------------------------------------------------------
if ! ip link show "$K8S_BRIDGE" >/dev/null 2>&1; then
  log "bridge $K8S_BRIDGE ($NODE_IP)"
  ip link add "$K8S_BRIDGE" type bridge && echo "$K8S_BRIDGE" >>state/bridges
  ip addr add "$NODE_IP/24" dev "$K8S_BRIDGE"
fi
ip link set "$K8S_BRIDGE" up
if ! ip link show "$K8S_POD_BRIDGE" >/dev/null 2>&1; then
  log "bridge $K8S_POD_BRIDGE ($POD_GW, pods)"
  ip link add "$K8S_POD_BRIDGE" type bridge && echo "$K8S_POD_BRIDGE" >>state/bridges
  ip addr add "$POD_GW/24" dev "$K8S_POD_BRIDGE"
fi
ip link set "$K8S_POD_BRIDGE" up
# Pods may reach only the cluster's bridges: their own routing table has nothing else.
if ! ip rule show | grep -q "lookup $RT_TABLE"; then
  ip route replace "$POD_CIDR" dev "$K8S_POD_BRIDGE" table $RT_TABLE
  ip route replace "$NODE_NET" dev "$K8S_BRIDGE" table $RT_TABLE
  ip route replace unreachable default table $RT_TABLE
  ip rule add from "$POD_CIDR" lookup $RT_TABLE priority 245
fi
if ! iptables -L TIGW-K8S-GUARD -n >/dev/null 2>&1; then
  iptables -N TIGW-K8S-GUARD
  iptables -A TIGW-K8S-GUARD -s "$POD_CIDR" -d "$POD_CIDR" -j RETURN
  iptables -A TIGW-K8S-GUARD -s "$POD_CIDR" -j DROP
  iptables -A TIGW-K8S-GUARD -i "$K8S_POD_BRIDGE" -j DROP
  iptables -A TIGW-K8S-GUARD -i "$K8S_BRIDGE" -j DROP
fi
iptables -C FORWARD -j TIGW-K8S-GUARD 2>/dev/null || iptables -I FORWARD 1 -j TIGW-K8S-GUARD
sysctl_set net.ipv4.ip_forward 1
sysctl_set net.bridge.bridge-nf-call-iptables 1
# Record the pod network namespaces that exist before us: cluster-down removes only newer ones.
[ -f state/netns-before ] || { ls /run/netns 2>/dev/null || true; } >state/netns-before

# --- PKI and kubeconfigs --------------------------------------------------------------------------
if [ ! -f pki/admin.kubeconfig ]; then
  log "PKI"
  (
    cd pki
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=tigw-k8s-ca" 2>/dev/null
    printf 'subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:%s,IP:127.0.0.1,IP:%s,IP:%s\nextendedKeyUsage=serverAuth\n' "$K8S_NODE_NAME" "$API_SVC_IP" "$NODE_IP" >server.ext
    printf 'subjectAltName=DNS:%s,IP:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' "$K8S_NODE_NAME" "$NODE_IP" >kubelet-server.ext
    echo "extendedKeyUsage=clientAuth" >client.ext
    cert() {
      openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 3650 -extfile "$3" 2>/dev/null
    }
    cert apiserver "/CN=kube-apiserver" server.ext
    cert kubelet-server "/CN=$K8S_NODE_NAME" kubelet-server.ext
    cert admin "/O=system:masters/CN=admin" client.ext
    cert kubelet "/O=system:nodes/CN=system:node:$K8S_NODE_NAME" client.ext
    cert kcm "/CN=system:kube-controller-manager" client.ext
    cert sched "/CN=system:kube-scheduler" client.ext
    cert proxy "/CN=system:kube-proxy" client.ext
    cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" client.ext
    openssl genrsa -out sa.key 2048 2>/dev/null; openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    for u in kubelet kcm sched proxy admin; do
      k=(kubectl --kubeconfig="$u.kubeconfig.tmp" config)
      "${k[@]}" set-cluster tigw --server="https://$NODE_IP:$K8S_API_PORT" --certificate-authority=ca.crt --embed-certs >/dev/null
      "${k[@]}" set-credentials "$u" --client-certificate="$u.crt" --client-key="$u.key" --embed-certs >/dev/null
      "${k[@]}" set-context tigw --cluster=tigw --user="$u" >/dev/null
      "${k[@]}" use-context tigw >/dev/null
      mv "$u.kubeconfig.tmp" "$u.kubeconfig"
    done
  )
fi

# --- etcd, containerd -----------------------------------------------------------------------------
start etcd etcd --name tigw --data-dir "$K8S_RUN/etcd" --listen-client-urls "http://127.0.0.1:$K8S_ETCD_PORT" \
  --advertise-client-urls "http://127.0.0.1:$K8S_ETCD_PORT" --listen-peer-urls http://127.0.0.1:12380 \
  --initial-advertise-peer-urls http://127.0.0.1:12380 --initial-cluster tigw=http://127.0.0.1:12380 \
  --quota-backend-bytes 2147483648
write_if_changed cni/net.d/10-tigw.conflist <<JSON
{
  "cniVersion": "0.4.0",
  "name": "tigw",
  "plugins": [
    {"type": "bridge", "bridge": "$K8S_POD_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$POD_GW"}]],
              "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$K8S_RUN/cni/ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
JSON
write_if_changed containerd.toml <<TOML
version = 2
root = "$K8S_RUN/containerd/root"
state = "$K8S_RUN/containerd/state"
[grpc]
  address = "$K8S_RUN/run/containerd/containerd.sock"
[ttrpc]
  address = "$K8S_RUN/run/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:$PAUSE_TAG"
  # Required here: without CAP_SYS_RESOURCE every sandbox fails otherwise.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$K8S_RUN/cni/net.d"
TOML
start containerd containerd --config "$K8S_RUN/containerd.toml"
wait_for etcd 60 curl -sf "http://127.0.0.1:$K8S_ETCD_PORT/health"
CTR=(ctr --address "$K8S_RUN/run/containerd/containerd.sock" -n k8s.io)
wait_for containerd 60 "${CTR[@]}" version

# --- system images: pause, CoreDNS, local-path-provisioner and its helper -------------------------
IMG="$K8S_BASE/images"; mkdir -p "$IMG/tmp"
PODMAN=("${NICE[@]}" podman --root "$IMG/storage" --runroot "$IMG/run" --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --tmpdir "$IMG/tmp")
sysimg() { # name:tag dir-or-tarball [changes...]
  local ref=$1 dir=$2; shift 2
  if ! "${CTR[@]}" images ls -q | grep -qx "$ref"; then
    if ! "${PODMAN[@]}" image exists "$ref"; then
      local ch=(); for c in "$@"; do ch+=(--change "$c"); done
      if [ -d "$dir" ]; then tar --numeric-owner -C "$dir" -c . | "${PODMAN[@]}" import "${ch[@]}" - "$ref" >/dev/null
      else "${PODMAN[@]}" import "${ch[@]}" "$dir" "$ref" >/dev/null; fi
    fi
    "${PODMAN[@]}" save --format docker-archive "$ref" | "${CTR[@]}" images import - >/dev/null
    log "imported $ref"
  fi
}
if [ ! -x "$K8S_BUILD/pause" ]; then
  gcc -Os -static -o "$K8S_BUILD/pause" "$K8S_BUILD/src/kubernetes/build/pause/linux/pause.c" && strip "$K8S_BUILD/pause"
fi
one_binary_dir() { local d="$IMG/sys-$1"; rm -rf "$d"; mkdir -p "$d"; cp "$2" "$d/"; echo "$d"; }
sysimg "localhost/pause:$PAUSE_TAG" "$(one_binary_dir pause "$K8S_BUILD/pause")" 'ENTRYPOINT ["/pause"]' "USER 65535:65535"
sysimg "localhost/coredns:${COREDNS_VERSION#v}" "$(one_binary_dir coredns "$K8S_BIN/coredns")" 'ENTRYPOINT ["/coredns"]'
sysimg "localhost/local-path-provisioner:${LPP_VERSION#v}" "$(one_binary_dir lpp "$K8S_BIN/local-path-provisioner")" 'ENTRYPOINT ["/local-path-provisioner"]'
helper="$IMG/rootfs-helper-minbase.tar"
if [ ! -s "$helper" ]; then
  MIRROR="${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\(\S*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}"
  "${NICE[@]}" env PATH=/usr/sbin:/usr/bin:/sbin:/bin mmdebstrap --quiet --format=tar --variant=minbase --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' trixie "$helper.tmp" "${MIRROR:-http://deb.debian.org/debian}" >&2
  mv "$helper.tmp" "$helper"
fi
sysimg localhost/tigw-k8s-helper:trixie "$helper"
rm -rf "$IMG/sys-pause" "$IMG/sys-coredns" "$IMG/sys-lpp"

# --- control plane --------------------------------------------------------------------------------
P="$K8S_RUN/pki"
start kube-apiserver kube-apiserver --etcd-servers="http://127.0.0.1:$K8S_ETCD_PORT" --bind-address="$NODE_IP" \
  --secure-port="$K8S_API_PORT" --advertise-address="$NODE_IP" --service-cluster-ip-range="$K8S_SERVICE_CIDR" \
  --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" --client-ca-file="$P/ca.crt" \
  --service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NodeRestriction --allow-privileged=false --profiling=false \
  --kubelet-client-certificate="$P/apiserver-kubelet-client.crt" --kubelet-client-key="$P/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$P/ca.crt" --kubelet-preferred-address-types=InternalIP \
  --cert-dir="$K8S_RUN/apiserver-certs"
wait_for kube-apiserver 180 kubectl get --raw /readyz
start kube-controller-manager kube-controller-manager --kubeconfig="$P/kcm.kubeconfig" --authentication-kubeconfig="$P/kcm.kubeconfig" \
  --authorization-kubeconfig="$P/kcm.kubeconfig" --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
  --cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" --use-service-account-credentials=true \
  --leader-elect=false --bind-address=127.0.0.1 --cert-dir="$K8S_RUN/kcm-certs" --profiling=false \
  --service-cluster-ip-range="$K8S_SERVICE_CIDR" --horizontal-pod-autoscaler-sync-period=15s
start kube-scheduler kube-scheduler --kubeconfig="$P/sched.kubeconfig" --authentication-kubeconfig="$P/sched.kubeconfig" \
  --authorization-kubeconfig="$P/sched.kubeconfig" --leader-elect=false --bind-address=127.0.0.1 --profiling=false

# --- node -----------------------------------------------------------------------------------------
write_if_changed kubelet/config.yaml <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $P/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $P/kubelet-server.crt
tlsPrivateKeyFile: $P/kubelet-server.key
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$K8S_RUN/run/containerd/containerd.sock
failCgroupV1: false
failSwapOn: false
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
podPidsLimit: -1
maxPods: 60
resolvConf: /etc/resolv.conf
serializeImagePulls: false
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
podLogsDir: $K8S_RUN/logs/pods
YAML
write_if_changed kubelet/proxy.yaml <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $P/proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $K8S_NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$NODE_NET"]
conntrack: {maxPerCore: 0}
YAML
start kubelet kubelet --config="$K8S_RUN/kubelet/config.yaml" --kubeconfig="$P/kubelet.kubeconfig" \
  --root-dir="$K8S_RUN/kubelet/root" --hostname-override="$K8S_NODE_NAME" --node-ip="$NODE_IP" --cert-dir="$K8S_RUN/kubelet/pki"
start kube-proxy kube-proxy --config="$K8S_RUN/kubelet/proxy.yaml"
wait_for "node $K8S_NODE_NAME Ready" 180 kubectl wait --for=condition=Ready "node/$K8S_NODE_NAME" --timeout=2s

# --- add-ons: CoreDNS, local-path-provisioner -----------------------------------------------------
sed -e "s|@LPP_VERSION@|${LPP_VERSION#v}|g" -e "s|@COREDNS_VERSION@|${COREDNS_VERSION#v}|g" -e "s|@DNS_IP@|$DNS_IP|g" \
    -e "s|@LOCAL_PATH@|$K8S_RUN/local-path|g" "$HERE/addons.yaml" | kubectl apply -f - >&2
kubectl -n kube-system rollout status deploy/coredns --timeout=180s >&2
kubectl -n local-path-storage rollout status deploy/local-path-provisioner --timeout=180s >&2
log "cluster ready: $(kubectl version 2>/dev/null | tr '\n' ' ')"
echo "export KUBECONFIG=$KUBECONFIG PATH=$K8S_BIN:\$PATH"
