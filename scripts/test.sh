#!/usr/bin/env bash
# Set up (idempotent) and run every check: ruff, mypy, the AsyncAPI freshness check and pytest.
# RabbitMQ tests use AMQP_URL or 127.0.0.1:5672 (skipped when absent, failing when CI is set);
# MongoDB tests use MONGO_URL or a SecantusDB server the tests start themselves.
# docker-compose, jq and chromium (installed here when missing): compose file validation (no engine
# needed), the manual's cURL script and the web app's browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
scripts/ensure-rabbitmq.sh || true
scripts/ensure-test-tools.sh || true
.venv/bin/ruff check .
.venv/bin/mypy common ingress pipeline main.py client
exec .venv/bin/python -m pytest "$@"
