#!/usr/bin/env bash
# Install the Debian tools the tests call when they are missing (no-op otherwise):
#   docker-compose  validates docker-compose.yml and its GPU override (`docker-compose config
#                   -q`), which needs no Docker engine;
#   jq              the manual's cURL script, which the tests run verbatim, parses JSON with it;
#   chromium        the web app's browser tests drive it headless through Playwright (never
#                   `playwright install`: the machines reach no browser download site).
# We are root on the build machines; elsewhere this only says what is missing.
set -euo pipefail
missing=()
for pair in docker-compose:docker-compose jq:jq chromium:chromium; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "missing ${missing[*]}: the tests that need them will skip (and fail under CI)" >&2
  exit 0
fi
echo "installing ${missing[*]} (for the tests)" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
