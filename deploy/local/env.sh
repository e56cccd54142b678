# Shared settings of the local infrastructure scripts (sourced, not run).
# State lives outside the work tree so that a fresh clone and CI reuse installed jars and data.
# As root the data dir must be reachable by the 'postgres' user, so not under /root.
if [ "$(id -u)" = 0 ]; then _default_dir=/var/lib/tigw-local; else _default_dir="$HOME/.tigw-local"; fi
TIGW_LOCAL_DIR="${TIGW_LOCAL_DIR:-$_default_dir}"
PG_PORT="${TIGW_PG_PORT:-55432}"
PG_DATA="$TIGW_LOCAL_DIR/pgdata"
PG_USER=tigw
PG_DATABASES="tigw tigw_test tigw_bench"
KAFKA_PORT="${TIGW_KAFKA_PORT:-59092}"
KAFKA_CONTROLLER_PORT="${TIGW_KAFKA_CONTROLLER_PORT:-59093}"
KAFKA_DIR="$TIGW_LOCAL_DIR/kafka"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DATABASE_URL="${DATABASE_URL:-postgres://$PG_USER@127.0.0.1:$PG_PORT/tigw}"
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:$KAFKA_PORT}"
log() { printf '[deploy/local] %s\n' "$*" >&2; }
