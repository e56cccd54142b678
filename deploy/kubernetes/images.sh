#!/usr/bin/env bash
# Builds the container images without a Docker engine and imports them into the cluster's
# containerd (when it runs):
#   localhost/ti-gateway:<tag>       every service of the work tree (the command picks the service)
#   localhost/tigw-postgres:<tag>    Debian's PostgreSQL, for the test cluster
#   localhost/tigw-kafka:<tag>       the Kafka broker jars from Maven Central on a Debian JRE
# Root filesystems come from Debian trixie with mmdebstrap (nodejs 20); podman turns them into
# images. The ti-gateway image holds the built dist/ of every services/* package and only the
# production dependencies, runs as uid 10001 and needs nothing writable but /tmp.
# Usage: images.sh [--tag TAG] [--extra-tag TAG2] [--only app|infra]. Prints the image sizes.
# Needs `npm ci && npm run build` done in the work tree first (the test script does it).
set -euo pipefail
. "$(dirname "$0")/env.sh"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TAG="" EXTRA_TAG="" ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG="$2"; shift 2 ;;
    --extra-tag) EXTRA_TAG="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done
APP_VERSION=$(node -p "require('$ROOT/package.json').version")
TAG="${TAG:-$APP_VERSION}"
IMG="$K8S_BASE/images"
mkdir -p "$IMG"
PODMAN=("${NICE[@]}" podman --root "$IMG/storage" --runroot "$IMG/run" --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --tmpdir "$IMG/tmp")
mkdir -p "$IMG/tmp"
for t in mmdebstrap podman; do command -v $t >/dev/null || die "$t missing (cluster-up.sh installs it: apt-get install mmdebstrap podman)"; done
MIRROR="${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\(\S*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SUITE=trixie
# Keep images small: no docs, man pages, locales. mmdebstrap runs with the system PATH (its filter
# is a python3 script: a python3 shim earlier in PATH would run once per package, slowly).
SLIM=(--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*'
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*'
      --essential-hook='mkdir -p "$1"/usr/share/man/man1')
# (The JRE's postinst registers its man pages with update-alternatives, which fails when the
# excluded man directory does not exist: hence the empty /usr/share/man/man1.)

# rootfs NAME PACKAGES...: a cached rootfs tarball (rebuilt when the package list changes or after 7 days).
rootfs() {
  local name=$1; shift
  local key; key=$(echo "$SUITE $* ${SLIM[*]}" | sha256sum | cut -c1-12)
  local tar="$IMG/rootfs-$name-$key.tar"
  if [ ! -s "$tar" ] || [ -n "$(find "$tar" -mtime +7)" ]; then
    log "mmdebstrap $SUITE rootfs for $name: $*"
    rm -f "$IMG"/rootfs-"$name"-*.tar
    "${NICE[@]}" env PATH=/usr/sbin:/usr/bin:/sbin:/bin mmdebstrap --quiet --format=tar --variant=minbase --include="$(IFS=,; echo "$*")" "${SLIM[@]}" \
      "$SUITE" "$tar.tmp" "$MIRROR" >&2
    mv "$tar.tmp" "$tar"
  fi
  echo "$tar"
}

# import_image DIR_OR_TAR NAME CHANGES...: podman import with image config changes.
import_image() {
  local src=$1 name=$2; shift 2
  local changes=(); for c in "$@"; do changes+=(--change "$c"); done
  # podman import takes a tarball: a directory is packed on the fly.
  if [ -d "$src" ]; then
    tar --numeric-owner -C "$src" -c . | "${PODMAN[@]}" import "${changes[@]}" - "$name:$TAG" >/dev/null
  else
    "${PODMAN[@]}" import "${changes[@]}" "$src" "$name:$TAG" >/dev/null
  fi
  [ -z "$EXTRA_TAG" ] || "${PODMAN[@]}" tag "$name:$TAG" "$name:$EXTRA_TAG"
}

app_image() {
  [ -d "$ROOT/services/platform/dist/src" ] || die "no services/*/dist: run 'npm ci && npm run build' in $ROOT first"
  local base; base=$(rootfs node nodejs ca-certificates)
  local stage="$IMG/stage-app"
  rm -rf "$stage"; mkdir -p "$stage/rootfs" "$stage/app"
  log "staging the app: every services/* package (dist/src and runtime files), production dependencies only"
  cp "$ROOT/package.json" "$ROOT/package-lock.json" "$stage/app/"
  for d in "$ROOT"/services/*/; do
    local p; p=$(basename "$d")
    [ -f "$d/package.json" ] || continue
    mkdir -p "$stage/app/services/$p"
    # Everything but sources, tests, benches and build config; dist without its tests and benches.
    tar -C "$d" --exclude=./src --exclude=./test --exclude=./bench --exclude='./tsconfig*.json' --exclude='*.tsbuildinfo' \
      --exclude=./dist/test --exclude=./dist/bench --exclude=./node_modules --exclude='*.map' -c . | tar -C "$stage/app/services/$p" -x
  done
  # Production dependencies from the lock file; the workspaces become symlinks into services/.
  (cd "$stage/app" && "${NICE[@]}" npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  rm -rf "$stage/app/node_modules/.package-lock.json"
  tar -C "$stage/rootfs" -xf "$base"
  mkdir -p "$stage/rootfs/opt"; mv "$stage/app" "$stage/rootfs/opt/tigw"
  chown -R 0:0 "$stage/rootfs/opt/tigw"; chmod -R go-w,a+rX "$stage/rootfs/opt/tigw"
  echo "tigw:x:10001:10001:ti-gateway:/nonexistent:/usr/sbin/nologin" >> "$stage/rootfs/etc/passwd"
  echo "tigw:x:10001:" >> "$stage/rootfs/etc/group"
  import_image "$stage/rootfs" localhost/ti-gateway \
    "USER 10001:10001" "WORKDIR /opt/tigw" "ENV NODE_ENV=production" \
    'ENTRYPOINT ["/usr/bin/node", "--require", "/opt/tigw/services/platform/dist/src/telemetry/register.js"]' \
    'CMD ["/opt/tigw/services/gateway/dist/src/main.js"]' \
    "LABEL org.opencontainers.image.title=ti-gateway" "LABEL org.opencontainers.image.version=$APP_VERSION"
  rm -rf "$stage"
}

postgres_image() {
  local base uid bin; base=$(rootfs postgres postgresql)
  # A numeric user: the kubelet can check runAsNonRoot only against a uid.
  uid=$(tar -xOf "$base" ./etc/passwd | awk -F: '$1=="postgres"{print $3":"$4}')
  bin=$(tar -tf "$base" | sed -n 's#^\./usr/lib/postgresql/\([0-9]*\)/bin/postgres$#/usr/lib/postgresql/\1/bin#p' | head -n1)
  [ -n "$uid" ] && [ -n "$bin" ] || die "no postgres user or binary in the PostgreSQL rootfs"
  # Without the cluster the package's postinst made (the pod makes its own), the JIT and its LLVM
  # (about 150 MB; the manifest runs with jit=off), locale sources and docs.
  local stage="$IMG/stage-postgres"
  rm -rf "$stage"; mkdir -p "$stage"
  tar -C "$stage" -xf "$base"
  rm -rf "$stage"/var/lib/postgresql/*/main "$stage"/etc/postgresql/*/main "$stage"/usr/lib/postgresql/*/lib/llvmjit* \
    "$stage"/usr/lib/postgresql/*/lib/bitcode "$stage"/usr/lib/x86_64-linux-gnu/libLLVM* "$stage"/usr/lib/x86_64-linux-gnu/libz3* \
    "$stage"/usr/share/i18n/locales
  import_image "$stage" localhost/tigw-postgres "USER $uid" "ENV PATH=$bin:/usr/local/bin:/usr/bin:/bin" \
    'CMD ["postgres", "--version"]'
  rm -rf "$stage"
}

kafka_image() {
  local version libs
  version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/deploy/local/kafka/pom.xml")
  libs="$TIGW_LOCAL_DIR/kafka/libs-$version"   # the same cache deploy/local/kafka-up.sh fills
  if [ ! -f "$libs/.complete" ]; then
    command -v mvn >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq maven >/dev/null; }
    log "fetching Kafka $version jars with Maven"
    mkdir -p "$libs"
    mvn -q -B -Dstyle.color=never -f "$ROOT/deploy/local/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$libs" -DincludeScope=runtime >&2
    touch "$libs/.complete"
  fi
  local base; base=$(rootfs kafka openjdk-21-jre-headless)
  local stage="$IMG/stage-kafka"
  rm -rf "$stage"; mkdir -p "$stage"
  tar -C "$stage" -xf "$base"
  mkdir -p "$stage/opt/kafka/libs"; cp "$libs"/*.jar "$stage/opt/kafka/libs/"
  echo "kafka:x:10002:10002:kafka:/nonexistent:/usr/sbin/nologin" >> "$stage/etc/passwd"
  echo "kafka:x:10002:" >> "$stage/etc/group"
  import_image "$stage" localhost/tigw-kafka "USER 10002:10002" "ENV KAFKA_VERSION=$version" 'CMD ["java", "-version"]'
  rm -rf "$stage"
}

case "$ONLY" in
  app) app_image ;;
  infra) postgres_image; kafka_image ;;
  "") app_image; postgres_image; kafka_image ;;
  *) die "--only app|infra" ;;
esac

names=()
case "$ONLY" in app) names=(localhost/ti-gateway) ;; infra) names=(localhost/tigw-postgres localhost/tigw-kafka) ;; *) names=(localhost/ti-gateway localhost/tigw-postgres localhost/tigw-kafka) ;; esac
# Older tags of these images go: podman's vfs storage keeps a full copy of every image (about a
# GiB per build of the three), and a machine that builds per commit would fill its disk.
for n in "${names[@]}"; do
  "${PODMAN[@]}" images --format '{{.Repository}}:{{.Tag}}' "$n" | while read -r ref; do
    case "$ref" in "$n:$TAG"|"$n:$EXTRA_TAG") ;; *) "${PODMAN[@]}" rmi --force "$ref" >/dev/null || true ;; esac
  done
done
"${PODMAN[@]}" image prune --force >/dev/null

# Import into the cluster's containerd when it runs.
SOCK="$K8S_RUN/run/containerd/containerd.sock"
for n in "${names[@]}"; do
  for t in "$TAG" $EXTRA_TAG; do
    size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$n:$t")
    printf 'image %s:%s %s MiB\n' "$n" "$t" "$((size / 1048576))"
    if [ -S "$SOCK" ]; then
      "${PODMAN[@]}" save --format docker-archive "$n:$t" | "${NICE[@]}" ctr --address "$SOCK" -n k8s.io images import - >/dev/null
    fi
  done
done
