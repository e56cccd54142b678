#!/usr/bin/env bash
# Installs Chromium from Debian's packages if missing (for the admin UI's browser tests) and
# prints the environment to use: CHROMIUM_PATH. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
path="${CHROMIUM_PATH:-$(command -v chromium || true)}"
if [ -z "$path" ]; then
  log "installing chromium (Debian package, first time only)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null
  path="$(command -v chromium)"
fi
echo "export CHROMIUM_PATH=$path"
