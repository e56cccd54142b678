#!/usr/bin/env bash
# Stops what up.sh started.
set -uo pipefail
here="$(dirname "$0")"
bash "$here/kafka-down.sh"
bash "$here/postgres-down.sh"
