#!/usr/bin/env bash
# Start the local RabbitMQ when it is installed but not running (no-op otherwise).
set -uo pipefail
command -v rabbitmqctl >/dev/null 2>&1 || exit 0
rabbitmqctl -q status >/dev/null 2>&1 && exit 0
echo "starting RabbitMQ" >&2
rabbitmq-server -detached
for _ in $(seq 1 60); do
  rabbitmqctl -q await_startup >/dev/null 2>&1 && exit 0
  sleep 2
done
echo "RabbitMQ did not start" >&2
exit 1
