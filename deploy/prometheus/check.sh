#!/usr/bin/env bash
# Checks the Prometheus files with promtool: the scrape config, the alert rules, and the alert
# rules' unit tests (alerts.test.yml). promtool comes with Debian's prometheus package, installed
# once if missing (without starting a Prometheus).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v promtool >/dev/null; then
  echo "[deploy/prometheus] installing promtool (Debian package prometheus)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
promtool check config prometheus.yml
promtool check rules alerts.yml
promtool test rules alerts.test.yml
