#!/usr/bin/env bash
# Stops the broker started by kafka-up.sh (data is kept). Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
pidfile="$KAFKA_DIR/kafka.pid"
[ -f "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
if kill -0 "$pid" 2>/dev/null; then
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  log "Kafka stopped"
fi
rm -f "$pidfile"
