#!/usr/bin/env bash
# Stops the cluster started by postgres-up.sh (data is kept). Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$BIN" ] && [ -s "$PG_DATA/PG_VERSION" ] || exit 0
RUN_AS=()
[ "$(id -u)" = 0 ] && RUN_AS=(runuser -u postgres --)
if "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
  "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
  log "PostgreSQL stopped"
fi
