#!/usr/bin/env bash
# Set up (idempotent) and run the whole service on its embedded default at http://localhost:8888
# (no MongoDB, RabbitMQ or GPU needed). Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python main.py "$@"
