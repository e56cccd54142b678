#!/usr/bin/env bash
# Brings up the real infrastructure of the cluster mode: PostgreSQL and Kafka on loopback, and
# installs Chromium for the browser tests. Prints the environment to use: eval "$(bash deploy/local/up.sh)"
set -euo pipefail
here="$(dirname "$0")"
bash "$here/postgres-up.sh"
bash "$here/kafka-up.sh"
source "$here/env.sh"
echo "export DATABASE_URL=$DATABASE_URL KAFKA_BROKERS=$KAFKA_BROKERS"
bash "$here/chromium.sh"
