"""``scripts/gpu-check.sh --dry-run``: the GPU machine's one script, run whole here on the CPU
with tiny sizes, so its first run on a GPU is not its first run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_gpu_check_runs_end_to_end_on_the_cpu(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable}
    for name in ("MONGO_URL", "AMQP_URL"):  # the embedded service brings its own
        env.pop(name, None)
    done = subprocess.run(["scripts/gpu-check.sh", "--dry-run"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # What the device run brings back: at most eight files, none in a subfolder.
    assert sorted(p.name for p in out.iterdir()) == [
        "cuda-tests.txt", "e2e.txt", "engine_gpu.profile.txt", "engine_gpu.txt",
        "service-log.txt", "steps.txt", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert [s.split(" rc=")[1].split()[0] for s in summary["steps"]] == ["0", "0", "0"]
    assert summary["header"][0].startswith("gpu-check dry-run")
    # Every CUDA test was collected and skipped visibly (none failed, none errored).
    tests = (out / "cuda-tests.txt").read_text()
    assert "needs a CUDA device" in tests
    assert summary["cuda_tests"].startswith("10 skipped")
    bench = summary["engine_gpu"]
    assert bench["dry_run"] is True and set(bench["scenarios"]) == {"general_x4", "anime_video"}
    for scenario in bench["scenarios"].values():
        assert scenario["variants"] and scenario["best"]["engine_fps"] > 0
        assert "aten::" in scenario["profile"]  # the profiler summary a missed goal gets
    job = summary["e2e"]
    assert (job["video"]["status"], job["video"]["frames"]) == ("completed", 12)
    assert job["video"]["gpu_used"] is False and job["image"]["gpu_used"] is False
    assert job["health_gpu"] == "disabled (USE_GPU=FALSE)"
    assert job["chunks"] and job["upscale_fps"] > 0
    # Both benches recorded their run (bench/_results.py), which the summary carries back.
    assert {bench: [r["bench"] for r in lines] for bench, lines in summary["results"].items()
            } == {"engine_gpu": ["engine_gpu"], "gpu_job": ["gpu_job"]}
    assert summary["results"]["engine_gpu"][0]["dry_run"] is True
