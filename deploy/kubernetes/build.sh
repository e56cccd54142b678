#!/usr/bin/env bash
# Builds (once; cached under $K8S_BUILD, keyed by version) the Kubernetes binaries from the Go
# module proxy, plus helm, CoreDNS and local-path-provisioner. Idempotent: a binary that exists
# is not built again. Runs at the lowest CPU and IO priority. Needs Go (>= the one k8s asks for).
set -euo pipefail
. "$(dirname "$0")/env.sh"
command -v go >/dev/null || { [ -x /usr/local/go/bin/go ] && export PATH=/usr/local/go/bin:$PATH; } || true
command -v go >/dev/null || die "go not found (needed to build Kubernetes from the module proxy)"
mkdir -p "$K8S_BUILD"/{bin,src}
# One build at a time (CI starts one in the background early; the test's cluster-up waits for it).
exec 9>"$K8S_BASE/build.lock"
flock 9
export GOMODCACHE="$K8S_BASE/gomod" GOCACHE="$K8S_BASE/gocache" GOPATH="$K8S_BUILD/gopath" \
  GOFLAGS=-buildvcs=false GOWORK=off CGO_ENABLED=0 GOTOOLCHAIN=local
have() { [ -x "$K8S_BIN/$1" ]; }

KBINS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
missing=0; for b in "${KBINS[@]}"; do have "$b" || missing=1; done
if [ $missing = 1 ]; then
  src="$K8S_BUILD/src/kubernetes"
  if [ ! -f "$src/.complete" ]; then
    log "downloading k8s.io/kubernetes@$K8S_VERSION"
    rm -rf "$src"
    dir=$(cd "$K8S_BUILD/src" && "${NICE[@]}" go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
    [ -d "$dir" ] || die "go mod download k8s.io/kubernetes@$K8S_VERSION gave no directory"
    cp -r "$dir" "$src"; chmod -R u+w "$src"
    # The module zip has no staging/: each k8s.io/X it replaces with ./staging/src/k8s.io/X is
    # published as its own module at v0.<minor>.<patch>.
    sv="v0.${K8S_VERSION#v1.}"
    for m in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/.*#\1#p' "$src/go.mod"); do
      [ "$m" = k8s.io/sample-cli-plugin ] && continue  # not published; unused by the binaries
      d=$(cd "$K8S_BUILD/src" && "${NICE[@]}" go mod download -json "$m@$sv" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
      [ -d "$d" ] || die "go mod download $m@$sv failed"
      mkdir -p "$src/staging/src/$(dirname "$m")"; rm -rf "$src/staging/src/$m"
      cp -r "$d" "$src/staging/src/$m"; chmod -R u+w "$src/staging/src/$m"
    done
    mkdir -p "$src/staging/src/k8s.io/sample-cli-plugin"
    [ -f "$src/staging/src/k8s.io/sample-cli-plugin/go.mod" ] || printf 'module k8s.io/sample-cli-plugin\n\ngo 1.24\n' > "$src/staging/src/k8s.io/sample-cli-plugin/go.mod"
    (cd "$src" && "${NICE[@]}" go mod download)
    touch "$src/.complete"
  fi
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  LD="-s -w"
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    LD="$LD -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=2025-01-01T00:00:00Z"
  done
  for b in "${KBINS[@]}"; do
    have "$b" && continue
    log "building $b"; t0=$SECONDS
    (cd "$src" && "${NICE[@]}" go build -mod=mod -trimpath -ldflags "$LD" -o "$K8S_BIN/$b.tmp" "./cmd/$b") && mv "$K8S_BIN/$b.tmp" "$K8S_BIN/$b"
    log "built $b in $((SECONDS-t0)) s"
  done
fi

gi() { # name module@version
  have "$1" && return 0
  log "building $1 ($2)"; t0=$SECONDS
  (cd "$K8S_BUILD/src" && GOBIN="$K8S_BUILD/gobin" "${NICE[@]}" go install -ldflags "-s -w" "$2")
  mv "$K8S_BUILD/gobin/$1" "$K8S_BIN/$1"
  log "built $1 in $((SECONDS-t0)) s"
}
gi helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
gi coredns "github.com/coredns/coredns@$COREDNS_VERSION"
gi local-path-provisioner "github.com/rancher/local-path-provisioner@$LPP_VERSION"
log "build complete: $(ls "$K8S_BIN" | tr '\n' ' ')"
