#!/usr/bin/env bash
# Builds k6 from source with `go install` (the Go module proxy) once, into $TIGW_LOCAL_DIR/bin,
# and prints its path. Idempotent: an existing binary of the pinned version is reused.
set -euo pipefail
source "$(dirname "$0")/env.sh"
K6_VERSION="${TIGW_K6_VERSION:-v1.8.1}"
BIN="$TIGW_LOCAL_DIR/bin"
K6="$BIN/k6"
if [ -x "$K6" ] && "$K6" version 2>/dev/null | grep -q "k6 $K6_VERSION "; then
  echo "$K6"
  exit 0
fi
command -v go >/dev/null || { log "go is needed to build k6 (apt-get install golang, or Go from the Go module proxy's toolchain)"; exit 1; }
mkdir -p "$BIN"
log "building k6 $K6_VERSION with go install (first time only, about 2 minutes)"
GOBIN="$BIN" GOFLAGS=-mod=mod go install "go.k6.io/k6@$K6_VERSION" >&2
echo "$K6"
