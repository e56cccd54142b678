#!/usr/bin/env bash
# Stops the cluster that cluster-up.sh started and undoes what it changed: every process it started
# (by the pid it recorded) and the containers those started, the pod network namespaces, the mounts
# under the cluster's directory, kube-proxy's and our iptables rules, the policy-routing rule, the
# bridges and the sysctls (restored to the values recorded before). The build cache stays.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/env.sh"
[ -d "$K8S_RUN" ] || { echo "cluster down (nothing was running)"; exit 0; }
cd "$K8S_RUN"
RT_TABLE=245 POD_CIDR=10.244.0.0/24
stop_pid() { # name
  local f="pids/$1" pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$f"
}
# The node first, so that nothing is restarted, then the pods' containers through containerd.
stop_pid kube-proxy
stop_pid kubelet
SOCK="$K8S_RUN/run/containerd/containerd.sock"
if [ -S "$SOCK" ] && [ -f pids/containerd ] && kill -0 "$(cat pids/containerd)" 2>/dev/null; then
  CTR=(ctr --address "$SOCK" -n k8s.io)
  for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  sleep 1
  for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks delete -f "$t" >/dev/null 2>&1; done
  for c in $("${CTR[@]}" containers ls -q 2>/dev/null); do "${CTR[@]}" containers delete "$c" >/dev/null 2>&1; done
fi
for n in kube-scheduler kube-controller-manager kube-apiserver containerd etcd; do stop_pid "$n"; done
# Shims containerd started (they outlive it): those whose address is our containerd's.
for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $SOCK" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done

# Pod network namespaces made since cluster-up (not those that existed before).
for ns in $(ls /run/netns 2>/dev/null); do
  grep -qx "$ns" state/netns-before 2>/dev/null && continue
  case "$ns" in cni-*) ip netns delete "$ns" 2>/dev/null || { umount -l "/run/netns/$ns" 2>/dev/null; rm -f "/run/netns/$ns"; } ;; esac
done
# Mounts under the cluster's directory (pod volumes, overlay snapshots, shm), deepest first.
for _ in 1 2 3; do
  mnts=$(awk -v d="$K8S_RUN/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r)
  [ -z "$mnts" ] && break
  for m in $mnts; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
done

# iptables: kube-proxy's rules (its own cleanup), the CNI portmap chains, our guard chain.
[ -x "$K8S_BIN/kube-proxy" ] && "$K8S_BIN/kube-proxy" --cleanup >/dev/null 2>&1
for ipt in iptables ip6tables; do
  command -v $ipt >/dev/null || continue
  for table in filter nat mangle; do
    for ch in $($ipt -t $table -S 2>/dev/null | awk '$1=="-N" && ($2 ~ /^KUBE-/ || $2 ~ /^CNI-/) {print $2}'); do
      $ipt -t $table -S 2>/dev/null | awk -v c="$ch" '$1=="-A" && $0 ~ ("-j " c "( |$)") {sub("^-A", "-D"); print}' | while read -r rule; do eval "$ipt -t $table $rule" 2>/dev/null; done
      $ipt -t $table -F "$ch" 2>/dev/null
    done
    for ch in $($ipt -t $table -S 2>/dev/null | awk '$1=="-N" && ($2 ~ /^KUBE-/ || $2 ~ /^CNI-/) {print $2}'); do $ipt -t $table -X "$ch" 2>/dev/null; done
  done
done
while iptables -D FORWARD -j TIGW-K8S-GUARD 2>/dev/null; do :; done
iptables -F TIGW-K8S-GUARD 2>/dev/null; iptables -X TIGW-K8S-GUARD 2>/dev/null
# Routing and bridges.
while ip rule del from "$POD_CIDR" lookup $RT_TABLE 2>/dev/null; do :; done
ip route flush table $RT_TABLE 2>/dev/null
for br in $(cat state/bridges 2>/dev/null); do ip link del "$br" 2>/dev/null; done
# sysctls back to what they were.
for f in state/sysctl.*; do
  [ -f "$f" ] || continue
  k=${f#state/sysctl.}
  cat "$f" > "/proc/sys/${k//.//}" 2>/dev/null
done
# Cgroups the kubelet made.
for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null; done
# The cluster's state goes (data of the test cluster included); the build cache stays.
cd / && rm -rf "$K8S_RUN"
echo "cluster down"
