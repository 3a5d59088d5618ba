#!/usr/bin/env bash
# The GPU path measured on a real CUDA device, in one run of under 8 minutes (issue 18):
#   1. the CUDA tests (pytest -m cuda: fp16/bf16 parity, OOM retry, auto tile, health, gpu_used)
#   2. bench/engine_gpu.py: general_x4 960x540 and anime_video 1920x1080, model-only and
#      engine fps, GPU memory peak, a profiler summary where a goal is missed
#   3. a real end-to-end job: .gpu/clip-1080p.mkv, anime_video x2, the embedded service,
#      USE_GPU=TRUE (bench/gpu_job.py)
# Everything goes to $OUT (default build/gpu-check): steps.txt (device, versions, each step's
# status and time), cuda-tests.txt, engine_gpu.txt, engine_gpu.profile.txt, e2e.txt,
# service-log.txt and summary.json (every figure). Seven files: the device run returns eight.
#
# On the GPU machine (no registry there): run scripts/gpu-prepare.sh here first, then, from the
# repository root there, with .gpu carried:   scripts/gpu-check.sh
# Here, on the CPU, tiny sizes, the same steps (tests/test_gpu_check.py runs it):
#   scripts/gpu-check.sh --dry-run
set -uo pipefail
cd "$(dirname "$0")/.."
dry=0
[ "${1:-}" = "--dry-run" ] && dry=1
out=${OUT:-build/gpu-check}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PYTHONUNBUFFERED=1
# The benches' result lines (bench/_results.py) go to summary.json's "results", one list per
# bench: append them to bench/results/<bench>.jsonl here, then run bench/report.py.
export BENCH_RESULTS_DIR="$work/results"
[ -f .gpu/commit ] && export BENCH_COMMIT="$(cat .gpu/commit)"
began=$(date +%s)

if [ "$dry" = 1 ]; then
  py=${PYTHON:-.venv/bin/python}
  use_gpu=FALSE
  bench_args=(--dry-run --budget 30 --compile-modes none)
  models=.gpu/models
  [ -d "$models" ] || models="$work/models"
  clip="$work/clip.mkv"
  "$py" - "$models" "$clip" <<'PY' || exit 1
import sys
from pathlib import Path

from common.models import MODELS
from pipeline.upscale.engine.ncnn_convert import convert_ncnn
from pipeline.upscale.engine.weights import find_local
from tests.common.media.clips import make_clip

models, clip = Path(sys.argv[1]), Path(sys.argv[2])
models.mkdir(parents=True, exist_ok=True)
if find_local(MODELS["anime_video"].weights_file, models) is None:
    convert_ncnn(MODELS["anime_video"], models)
make_clip(clip, frames=12, size=(32, 24))
PY
else
  py=${PYTHON:-python3}
  use_gpu=TRUE
  bench_args=(--budget 120 --batches 1,4,8 --compile-modes default)
  models=.gpu/models
  clip=.gpu/clip-1080p.mkv
  [ -d .gpu/wheels ] || { echo "no .gpu/wheels: run scripts/gpu-prepare.sh, carry .gpu" >&2; exit 1; }
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .gpu/wheels/*.whl || exit 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export ENHANCER_TEST_MODELS=$models

{
  echo "gpu-check $( [ "$dry" = 1 ] && echo dry-run ) $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null)"
  "$py" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__,
    "cuda", torch.cuda.is_available(),
    torch.cuda.get_device_name() if torch.cuda.is_available() else "")'
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>/dev/null \
    || echo "nvidia-smi: none"
  echo "load: $(cat /proc/loadavg)"
} > "$out/steps.txt" 2>&1

step() {  # step NAME SECONDS COMMAND...: output to $out/NAME.txt, status to steps.txt
  local name=$1 limit=$2 start rc
  shift 2
  start=$(date +%s)
  timeout "$limit" "$@" > "$out/$name.txt" 2>&1
  rc=$?
  echo "$name rc=$rc $(( $(date +%s) - start )) s" | tee -a "$out/steps.txt"
  tail -n 4 "$out/$name.txt"
  return 0
}

# Only the modules holding CUDA tests: collecting all of tests/ would import tools the GPU
# image lacks (browsers, schemathesis). Warnings are shown, not errors, there.
step cuda-tests 150 "$py" -m pytest -m cuda -q -rs -p no:cacheprovider -W default \
  tests/pipeline/upscale/engine/test_cuda.py tests/pipeline/upscale/engine/test_engine.py
step engine_gpu 180 "$py" bench/engine_gpu.py --models-dir "$models" \
  --json "$work/engine_gpu.json" "${bench_args[@]}"
[ -f "$work/engine_gpu.profile.txt" ] && cp "$work/engine_gpu.profile.txt" "$out/"
step e2e 130 "$py" bench/gpu_job.py --clip "$clip" --models-dir "$models" --use-gpu "$use_gpu" \
  --timeout 110 --json "$work/e2e.json" --log-tail "$out/service-log.txt"

"$py" - "$out" "$work" "$began" <<'PY'
import json
import sys
import time
from pathlib import Path

out, work, began = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
steps = (out / "steps.txt").read_text().splitlines()
summary = {"header": steps[:4], "steps": [s for s in steps if " rc=" in s],
           "seconds": round(time.time() - began)}
tests = (out / "cuda-tests.txt").read_text().splitlines()
summary["cuda_tests"] = tests[-1] if tests else "no output"
for name in ("engine_gpu", "e2e"):
    path = work / f"{name}.json"
    summary[name] = json.loads(path.read_text()) if path.exists() else None
summary["results"] = {p.stem: [json.loads(line) for line in p.read_text().splitlines()]
                      for p in sorted((work / "results").glob("*.jsonl"))}
(out / "summary.json").write_text(json.dumps(summary, indent=2))
print(json.dumps({k: summary[k] for k in ("steps", "cuda_tests", "seconds")}, indent=2))
PY
