#!/usr/bin/env bash
# Install Debian's docker-compose when it is missing (no-op otherwise). The tests use it only to
# validate docker-compose.yml and its GPU override (`docker-compose config -q`), which needs no
# Docker engine. We are root on the build machines; elsewhere this only says what is missing.
set -euo pipefail
command -v docker-compose >/dev/null 2>&1 && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "docker-compose is missing: the compose validation tests will skip" >&2
  exit 0
fi
echo "installing docker-compose (compose file validation)" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
command -v docker-compose >/dev/null
