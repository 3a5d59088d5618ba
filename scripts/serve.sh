#!/usr/bin/env bash
# Set up (idempotent), obtain every model weights file that can be had, and run the whole
# service on its embedded default at http://localhost:8888 (no MongoDB, RabbitMQ or GPU
# needed). Ctrl-C stops it cleanly.
#
#   scripts/serve.sh [--skip-models] [--port PORT] [--host HOST]
#
# Models: each is downloaded (official release, verified) or, offline, converted from the
# installed ncnn release; one line per model. A model that cannot be had never stops the
# start: the service reports it (GET /api/models) and answers 503 for it. A second start does
# no work. --skip-models (or SKIP_MODELS=1) leaves every model to its first request.
# Other options go to main.py (--port/--host, or API_PORT/API_HOST in .env or the environment).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
skip="${SKIP_MODELS:-0}"
args=()
for arg in "$@"; do
  if [ "$arg" = "--skip-models" ]; then skip=1; else args+=("$arg"); fi
done
if [ "$skip" = "0" ] || [ -z "$skip" ]; then
  .venv/bin/python -m pipeline.upscale.engine.weights prepare \
    || echo "weights: preparation stopped early; models are obtained on first use" >&2
fi
exec .venv/bin/python main.py "${args[@]}"
