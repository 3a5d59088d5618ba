"""The upscale stage's lazy engine: its first creation (torch's import, seconds) happens on the
engine thread, and the event loop keeps turning meanwhile (in the embedded run the same loop
answers the API)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# A fresh interpreter, so torch is really imported by the first call; prints the longest
# pause of a 10 ms ticker while the engine was created, and whether torch was imported then.
SCRIPT = """
import asyncio, sys, time
from common.settings import Settings
from pipeline.upscale.enhancer import LazyEnhancer

async def main():
    lazy = LazyEnhancer(Settings(jwt_secret_key="k" * 40, use_gpu=False, models_dir=sys.argv[1]))
    longest, last, done = 0.0, time.perf_counter(), False

    async def tick():
        nonlocal longest, last
        while not done:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            longest, last = max(longest, now - last), now

    ticker = asyncio.ensure_future(tick())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    enhancer = await lazy.ready()
    took = time.perf_counter() - started
    done = True
    await ticker
    assert lazy.get() is enhancer
    print(f"{took:.3f} {longest:.3f} {'torch' in sys.modules}")

asyncio.run(main())
"""


def test_the_first_engine_is_built_off_the_event_loop(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=240, check=True)
    took, longest, imported = out.stdout.split()
    assert imported == "True"
    # The creation took a while (torch's import); the loop never paused for most of it.
    assert float(took) > 0.5, out.stdout
    assert float(longest) < float(took) / 2, out.stdout
