#!/usr/bin/env bash
# Installs PostgreSQL from Debian's packages if missing, starts a cluster on 127.0.0.1 with its
# data dir under $TIGW_LOCAL_DIR and creates the project's databases. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && echo "$d"
}
if [ -z "$(pg_bin)" ]; then
  log "installing postgresql from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
fi
BIN=$(pg_bin)

# postgres refuses to run as root: run it as the 'postgres' system user (created by the package)
# or, failing that, as the current user.
RUN_AS=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
  RUN_AS=(runuser -u postgres --)
fi
mkdir -p "$TIGW_LOCAL_DIR"
if [ ! -s "$PG_DATA/PG_VERSION" ]; then
  log "initdb $PG_DATA"
  mkdir -p "$PG_DATA"
  [ "$(id -u)" = 0 ] && chown postgres "$PG_DATA"
  "${RUN_AS[@]}" "$BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 >/dev/null
fi
if ! "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=/tmp -c max_connections=300" >/dev/null
fi
PSQL=("$BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
"${PSQL[@]}" -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'" | grep -q 1 ||
  "${PSQL[@]}" -d postgres -c "CREATE ROLE $PG_USER LOGIN SUPERUSER"
for db in $PG_DATABASES; do
  "${PSQL[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 ||
    "${PSQL[@]}" -d postgres -c "CREATE DATABASE $db OWNER $PG_USER"
done
log "PostgreSQL ready: postgres://$PG_USER@127.0.0.1:$PG_PORT/{${PG_DATABASES// /,}}"
