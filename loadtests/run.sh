#!/usr/bin/env bash
# npm run loadtest [-- --cluster]: builds k6 (once), starts ti-gateway (embedded, or the cluster
# on deploy/local's PostgreSQL and Kafka) with a fresh data dir on free loopback ports, runs
# kt-capacity.js, prints the server's resident memory, stops what it started. Exit code: k6's.
# Size with LOADTEST_UNITS (10), LOADTEST_PER_UNIT (105), LOADTEST_RATE (5/s), LOADTEST_PAIRING_P95_MS (500).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=embedded
[ "${1:-}" = "--cluster" ] && MODE=cluster
K6="$(bash deploy/local/k6-build.sh)"
WORK="$(mktemp -d)"
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
HTTP=$(free_port); METRICS=$(free_port)
export TIGW_DATA_DIR="$WORK/data" TIGW_HTTP_PORT=$HTTP TIGW_METRICS_PORT=$METRICS TIGW_OCSP_PORT=0 TIGW_VPNZUGD_PORT=0 TIGW_ZUGANGSMODUL_PORT=0 TIGW_KSR_SOAP_PORT=0 TIGW_SOAP_PORT_BASE=0 TIGW_ADMIN_PASSWORD="loadtest-$(date +%s)-pw"
npm run -s build
if [ "$MODE" = cluster ]; then
  eval "$(bash deploy/local/up.sh)"
  export TIGW_TENANCY_GRPC_PORT=$(free_port) TIGW_HSM_GRPC_PORT=$(free_port) TIGW_CARD_TERMINAL_GRPC_PORT=$(free_port) TIGW_VSDM_GRPC_PORT=$(free_port)
  export TIGW_TENANCY_METRICS_PORT=$(free_port) TIGW_HSM_METRICS_PORT=$(free_port) TIGW_CARD_TERMINAL_METRICS_PORT=$METRICS TIGW_GATEWAY_METRICS_PORT=$(free_port) TIGW_VSDM_METRICS_PORT=$(free_port)
  # A database of its own, so the first-start admin password is the one set here.
  DB="tigw_load_$(date +%s)"
  psql "$DATABASE_URL" -qc "CREATE DATABASE $DB" >/dev/null
  export DATABASE_URL="${DATABASE_URL%/*}/$DB"
  node services/launcher/dist/src/cluster.js > "$WORK/server.log" 2>&1 &
else
  TIGW_SERVICE_NAME=ti-gateway node --require ./services/platform/dist/src/telemetry/register.js services/launcher/dist/src/embedded.js > "$WORK/server.log" 2>&1 &
fi
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  [ -n "${DB:-}" ] && psql "${DATABASE_URL%/*}/tigw" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 1 240); do
  curl -sf "http://127.0.0.1:$HTTP/api/v1/health" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  sleep 0.5
done
echo "ti-gateway ($MODE) on http://127.0.0.1:$HTTP; k6 $("$K6" version | cut -d' ' -f2)"
set +e
"$K6" run --quiet -e BASE_URL="http://127.0.0.1:$HTTP" -e ADMIN_PASSWORD="$TIGW_ADMIN_PASSWORD" \
  -e UNITS="${LOADTEST_UNITS:-10}" -e PER_UNIT="${LOADTEST_PER_UNIT:-105}" -e RATE="${LOADTEST_RATE:-5}" \
  -e PAIRING_P95_MS="${LOADTEST_PAIRING_P95_MS:-500}" loadtests/kt-capacity.js
RC=$?
set -e
RSS=$(curl -sf "http://127.0.0.1:$METRICS/metrics" | awk '/^tigw_process_resident_memory_bytes/ {print $2}' | head -1)
[ -n "$RSS" ] && echo "server resident memory after the run ($MODE, process serving card-terminal): $((${RSS%.*} / 1048576)) MiB"
exit $RC
