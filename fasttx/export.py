"""PyTorch -> ONNX: one self-checking file per trained style, for onnxruntime on any machine.

The graph takes `image` and returns `stylized`, with dynamic batch, height and width: the pad-to-stride, the crop
back to the input's size and the clamp to [0, 1] all happen inside it, so a client only feeds pixels.
Variants: fp32 (default), fp16 (weights and compute in float16, I/O kept float32 so clients are unchanged),
int8 (static QDQ quantization calibrated on photos). `uint8_io` swaps the float NCHW I/O for uint8 NHWC, the
layout decoders hand out. Every export is checked (onnx.checker, then onnxruntime against PyTorch at sizes the
exporter never saw) before it is renamed into place, so a file that exists is a file that works.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from PIL import Image
from torch import nn

from fasttx import __version__
from fasttx.config import STYLE_INPUT, shareable_meta
from fasttx.errors import FasttxError
from fasttx.io import atomic_write, check_output, find_images, open_rgb, pil_to_tensor, resize_long_side, tensor_to_pil
from fasttx.modelfile import find_model, load_model
from fasttx.nets.transformer import StyleNet, one_style
from fasttx.pixels import frames_to_images, images_to_frames, quantize

# Opset 18 is the oldest the torch.export-based exporter emits (it would hand older ones to onnx's version
# converter, which has no Pad adapter below 18), so it is also the minimum; onnxruntime has run it since 1.14,
# the widest reach. Newer opsets (up to what torch.onnx knows) work too.
DEFAULT_OPSET = 18
INPUT_NAME = "image"
OUTPUT_NAME = "stylized"
# (height, width) checked after every export; none is the traced example's size, one is odd, one is not square.
VERIFY_SIZES = ((64, 64), (47, 33), (96, 128))
# The traced example: batch 2 and unequal H, W, so torch.export keeps batch, height and width as separate symbols.
EXAMPLE_SHAPE = (2, 40, 56)
# fp32 against PyTorch: the same float32 arithmetic in another order; observed differences are ~1e-6 at the
# VERIFY_SIZES, and up to 1.1e-4 at the worst pixel of a 720p frame (a fixed-size export) through a random network.
FP32_TOLERANCE = 5e-4
# uint8 I/O: a value within rounding noise of a .5 boundary may land one level away.
UINT8_TOLERANCE = 1 / 255 + 1e-6
# fp16/int8 change every activation a little, so a max-abs bound would be set by the single worst pixel; PSNR
# against the fp32 PyTorch output bounds the average error instead. fp16 keeps ~3 significant digits per op: 40 dB
# (RMS error 1% of the range, ~2.5 levels of 255) is far looser than what it gives (typically >55 dB) yet catches
# overflow or a broken conversion. int8 rounds every activation to 256 levels per tensor: 25 dB (RMS ~5.6%) is
# where quantised style nets still look like their float versions; below it banding and colour shifts show.
MIN_PSNR_DB = {"fp16": 40.0, "int8": 25.0}
PSNR_CAP_DB = 100.0  # identical outputs report this instead of infinity (JSON has no infinity)
CALIBRATION_PHOTOS = 32
CALIBRATION_SIZE = 256  # long side of calibration photos: activation ranges depend on content, not on resolution


@dataclass
class ExportReport:
    """What an export wrote and how closely it matches PyTorch (per verified size "HxW")."""

    path: Path
    opset: int
    variant: str  # "fp32" | "fp16" | "int8"
    io: str  # "float" (float32 NCHW RGB in [0, 1]) | "uint8" (uint8 NHWC RGB)
    max_abs_diff: dict[str, float]  # in units of the [0, 1] range, also for uint8 I/O
    tolerance: float  # the bound checked: max abs diff for fp32, min PSNR in dB for fp16/int8 (see `criterion`)
    size_bytes: int
    psnr_db: dict[str, float] = field(default_factory=dict)
    criterion: str = "max_abs_diff"  # or "psnr_db"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path)}


def export_onnx(
    model: str | Path | StyleNet,
    output: str | Path,
    *,
    uint8_io: bool = False,
    fp16: bool = False,
    int8_calibration: str | Path | None = None,
    opset: int = DEFAULT_OPSET,
    verify: bool = True,
    meta: dict[str, Any] | None = None,
    overwrite: bool = False,
    style_map: bool = False,
    fixed_size: tuple[int, int] | None = None,
) -> ExportReport:
    """Write `model` (a model.pth or a StyleNet) as a self-describing ONNX file at `output`, atomically.

    `fixed_size` (height, width): a static graph for one image of exactly that size, for runtimes that refuse
    dynamic shapes (OpenCV's DNN module: its importers stop at the Shape and integer Clip nodes that a symbolic
    pad-to-stride needs); the client resizes or pads to it.

    `meta` is stored in the file's metadata (merged over a model file's own meta). With `verify`, the file is
    checked against PyTorch before it replaces anything at `output`; a failed check raises FasttxError. An existing
    `output` is replaced only with `overwrite`, and never when it is the input model.
    """
    output = Path(output)
    if output.suffix.lower() != ".onnx":
        raise FasttxError(f"-o {output}: an exported model is written as a .onnx file")
    check_output(output, overwrite, [] if isinstance(model, StyleNet) else [model])
    newest = onnx.defs.onnx_opset_version()
    if not DEFAULT_OPSET <= opset <= newest:  # older: the version converter fails on Pad and quietly keeps 18
        raise FasttxError(
            f"--opset must be {DEFAULT_OPSET} (the default) to {newest}, what this onnx knows (got {opset})"
        )
    if fp16 and int8_calibration is not None:
        raise FasttxError("choose one of fp16 and int8, not both")
    if isinstance(model, StyleNet):
        net, stored_meta = model, {}
    else:
        if Path(model).suffix.lower() == ".onnx":
            raise FasttxError(f"{model} is already an ONNX file; export from the model.pth it came from")
        net, stored_meta = load_model(model)
    net = copy.deepcopy(net).to(device="cpu", dtype=torch.float32, memory_format=torch.contiguous_format).eval()
    variant = "fp16" if fp16 else "int8" if int8_calibration is not None else "fp32"
    photos = _calibration_photos(int8_calibration) if int8_calibration is not None else []

    if style_map and net.styles == 1:
        raise FasttxError("--style-map-input is for multi-style models; this one has one style")
    if fixed_size is not None and min(fixed_size) < net.min_size:
        raise FasttxError(f"--fixed-size must be at least {net.min_size} px on each side for this network")
    proto = _trace(net, uint8_io, opset, style_map, fixed_size)
    if variant == "fp16":
        proto = _to_fp16(proto)
    elif variant == "int8":
        proto = _quantize_int8(proto, photos, uint8_io)
    _set_metadata(proto, {**stored_meta, **(meta or {})}, net, variant, uint8_io, opset, style_map, fixed_size)

    with atomic_write(output) as tmp:
        onnx.save(proto, tmp)
        diffs: dict[str, float] = {}
        psnrs: dict[str, float] = {}
        if verify:
            diffs, psnrs = _verify(tmp, net, uint8_io, variant, photos, style_map, fixed_size)
        size = tmp.stat().st_size
    criterion, tolerance = _criterion(variant, uint8_io)
    return ExportReport(
        output, opset, variant, "uint8" if uint8_io else "float", diffs, tolerance, size, psnrs, criterion
    )


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The metadata_props of an ONNX file (style, training config, I/O convention, variant, quality figures)."""
    return {p.key: p.value for p in _load_onnx(path).metadata_props}


def describe_model(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Everything a person wants to know about a model file: ONNX metadata and I/O, or a model.pth's recipe and meta."""
    path = find_model(path)
    if path.suffix.lower() == ".onnx":
        proto = _load_onnx(path)
        return {
            "path": str(path),
            "format": "onnx",
            "size_bytes": path.stat().st_size,
            "opset": _opset(proto),
            "inputs": [_value_info(v) for v in proto.graph.input],
            "outputs": [_value_info(v) for v in proto.graph.output],
            **_styles({p.key: p.value for p in proto.metadata_props}.get("styles")),
            "metadata": {p.key: p.value for p in proto.metadata_props},
        }
    net, meta = load_model(path)
    return {
        "path": str(path),
        "format": "fasttx-model",
        "size_bytes": path.stat().st_size,
        "net": net.config.to_dict(),
        "parameters": net.parameter_count(),
        **_styles(meta.get("styles")),
        "meta": meta,
    }


def _styles(names: str | list[str] | None) -> dict[str, str]:
    """A multi-style model's style names, for `fasttx info` (the names --style-mix takes)."""
    if not names:
        return {}
    return {"styles": ", ".join(json.loads(names) if isinstance(names, str) else names)}


# --- the exported graph ---------------------------------------------------------------------------


class _ExportGraph(nn.Module):
    """What goes into the file: the StyleNet's own forward, a clamp, optional uint8 NHWC I/O."""

    def __init__(self, net: StyleNet, uint8_io: bool, style_map: bool = False):
        super().__init__()
        self.net = net
        self.uint8_io = uint8_io
        self.style_map = style_map

    def forward(self, image: torch.Tensor, style_weights: torch.Tensor | None = None) -> torch.Tensor:
        style = style_weights
        if style is not None and not self.style_map:
            style = style.reshape(1, -1)
        y = self.net(frames_to_images(image) if self.uint8_io else image, style)
        return images_to_frames(y) if self.uint8_io else y.clamp(0.0, 1.0)


def _trace(
    net: StyleNet, uint8_io: bool, opset: int, style_map: bool = False, fixed_size: tuple[int, int] | None = None
) -> onnx.ModelProto:
    """The image network's graph: its inputs, their symbolic sizes, the style input's default."""
    batch, height, width = EXAMPLE_SHAPE if fixed_size is None else (1, *fixed_size)
    if uint8_io:
        example = torch.randint(0, 256, (batch, height, width, 3), dtype=torch.uint8)
        axes = {0: "batch", 1: "height", 2: "width"}
    else:
        example = torch.rand(batch, 3, height, width)
        axes = {0: "batch", 2: "height", 3: "width"}
    dims = {axis: torch.export.Dim(name) for axis, name in axes.items()} if fixed_size is None else None
    inputs, names, shapes = (example,), [INPUT_NAME], {INPUT_NAME: dims}
    axes = axes if fixed_size is None else {}  # a static graph: every size is a number
    map_axes = {2: "map_height", 3: "map_width"}
    if net.styles > 1:
        # a map's example is not 1x1, so its sizes stay symbolic
        style = _default_style(net, style_map).expand(1, -1, 3, 5) if style_map else _default_style(net)
        map_dims = {axis: torch.export.Dim(name) for axis, name in map_axes.items()} if style_map else None
        inputs, names, shapes = (example, style), [*names, STYLE_INPUT], {**shapes, STYLE_INPUT: map_dims}
    dynamic = shapes if fixed_size is None or style_map else None
    proto = onnx_graph(_ExportGraph(net, uint8_io, style_map), inputs, names, dynamic, opset)
    for value in (proto.graph.input[0], *proto.graph.output):  # name the output's dims like the input's
        for axis, name in axes.items():
            value.type.tensor_type.shape.dim[axis].dim_param = name
    for axis, name in map_axes.items() if style_map else ():
        proto.graph.input[1].type.tensor_type.shape.dim[axis].dim_param = name
    if net.styles > 1:  # an initializer named like an input is that input's default (onnxruntime, IR >= 4)
        default = _default_style(net, style_map).numpy()
        proto.graph.initializer.append(onnx.numpy_helper.from_array(default, STYLE_INPUT))
    return proto


def onnx_graph(
    module: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    names: list[str],
    shapes: dict[str, Any] | tuple[Any, ...] | None,
    opset: int,
) -> onnx.ModelProto:
    """`module` traced by the torch.export-based exporter (the maintained one; the TorchScript exporter is
    deprecated) into a graph with one output, OUTPUT_NAME, at exactly `opset`, without the exporter's annotations."""
    # the exporter reports progress on stdout and warns about its own internals: keep stdout for --json results
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                module,
                inputs,
                input_names=names,
                output_names=[OUTPUT_NAME],
                opset_version=opset,
                dynamic_shapes=shapes,
                dynamo=True,
                verbose=False,
            )
        except Exception as e:  # the exporter raises many types; an unsupported opset is the usual user-side cause
            raise FasttxError(
                f"ONNX export at opset {opset} failed ({type(e).__name__}: {e}); try --opset {DEFAULT_OPSET}"
            ) from e
    proto = program.model_proto
    if _opset(proto) != opset:  # the exporter may fall back to its own opset without a word
        raise FasttxError(
            f"the exporter wrote opset {_opset(proto)} when asked for {opset}; use --opset {_opset(proto)}"
        )
    # the exporter annotates every node with its Python stack trace and module path: local paths in a file meant
    # to be shared, and most of the file for the small networks
    graph = proto.graph
    for item in (*graph.node, *graph.initializer, *graph.input, *graph.output, *graph.value_info):
        del item.metadata_props[:]
    return proto


# --- variants -------------------------------------------------------------------------------------


def _to_fp16(proto: onnx.ModelProto) -> onnx.ModelProto:
    """float16 weights and activations, float32 I/O (clients stay unchanged).

    InstanceNormalization stays float32: its variance squares activations, which overflows float16 above ~256.
    """
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the converter warns about every value it clips to the float16 range
        converted = convert_float_to_float16(
            proto, keep_io_types=True, op_block_list=[*DEFAULT_OP_BLOCK_LIST, "InstanceNormalization"]
        )
    # The converter casts a constant shared by several Resize nodes once per use, all under one output name,
    # appends the input's cast at the end of the graph and leaves float32 types in value_info: keep one of each
    # cast, restore topological order and drop the stale type hints (onnxruntime infers them again).
    produced: set[str] = set()
    unique = []
    for node in converted.graph.node:
        if not produced.intersection(node.output):
            unique.append(node)
            produced.update(node.output)
    del converted.graph.node[:]
    converted.graph.node.extend(unique)
    OnnxModel.graph_topological_sort(converted.graph)
    del converted.graph.value_info[:]
    return converted


def _quantize_int8(proto: onnx.ModelProto, photos: list[torch.Tensor], uint8_io: bool) -> onnx.ModelProto:
    """Static QDQ quantization: per-channel int8 weights, uint8 activations with ranges seen on `photos`."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class PhotoReader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter([{INPUT_NAME: _feed(photo.unsqueeze(0), uint8_io)} for photo in photos])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory(prefix="fasttx-int8-") as tmp:
        quantized = Path(tmp) / "int8.onnx"
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr), _quiet_logging():
            warnings.simplefilter("ignore")
            quantize_static(
                proto,
                quantized,
                PhotoReader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibration_providers=["CPUExecutionProvider"],
            )
        return onnx.load(quantized)


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    """Mute the advice onnxruntime.quantization logs on the root logger: it suggests a pre-processing step whose
    symbolic shape inference cannot follow the dynamic pad indices, and notes InstanceNorm scales falling back to
    per-tensor ranges (harmless: they are 1-D)."""
    previous = logging.root.manager.disable
    logging.disable(max(previous, logging.WARNING))
    try:
        yield
    finally:
        logging.disable(previous)


def _calibration_photos(folder: str | Path) -> list[torch.Tensor]:
    photos = []
    for path in find_images(folder):  # unreadable photos are skipped, as in training
        try:
            photos.append(pil_to_tensor(resize_long_side(open_rgb(path), CALIBRATION_SIZE)))
        except FasttxError as e:
            warnings.warn(f"skipping {e}", stacklevel=2)
        if len(photos) == CALIBRATION_PHOTOS:
            break
    if not photos:
        raise FasttxError(f"no readable photos in {folder} to calibrate int8 quantization (.jpg, .png, .webp, .bmp)")
    return photos


# --- metadata ---------------------------------------------------------------------------------------


def _set_metadata(
    proto: onnx.ModelProto,
    meta: dict[str, Any],
    net: StyleNet,
    variant: str,
    uint8_io: bool,
    opset: int,
    style_map: bool = False,
    fixed_size: tuple[int, int] | None = None,
) -> None:
    """Model meta (style, its sha256, train_config, quality_* figures, ...) plus how to call the graph; the file
    is shipped, so the paths in it keep their file names only (config.shareable_meta)."""
    meta = shareable_meta(meta)
    props: dict[str, str] = {
        key: value if isinstance(value, str) else json.dumps(value, default=str) for key, value in meta.items()
    }
    props.update(
        fasttx_version=__version__,
        variant=variant,
        io="uint8" if uint8_io else "float",
        io_convention=_io_convention(uint8_io, net.styles, style_map, fixed_size),
        net=json.dumps(net.config.to_dict()),
        stride=str(net.stride),
        opset=str(opset),
        **({"fixed_size": f"{fixed_size[0]}x{fixed_size[1]}"} if fixed_size else {}),
    )
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)
    proto.doc_string = f"fasttx style network ({variant}): {props['io_convention']}"


def _default_style(net: StyleNet, style_map: bool = False) -> torch.Tensor:
    """The first style alone: [styles], or a 1x1 map [1, styles, 1, 1]."""
    return one_style(0, net.styles)[:, :, None, None] if style_map else one_style(0, net.styles)[0]


def _io_convention(
    uint8_io: bool, styles: int = 1, style_map: bool = False, fixed_size: tuple[int, int] | None = None
) -> str:
    sizes = "any batch, H and W" if fixed_size is None else f"one image of exactly H={fixed_size[0]}, W={fixed_size[1]}"
    if uint8_io:
        text = (
            f"input '{INPUT_NAME}': uint8 NHWC RGB in [0, 255], {sizes}; "
            f"output '{OUTPUT_NAME}': uint8 NHWC RGB, same shape"
        )
    else:
        text = (
            f"input '{INPUT_NAME}': float32 NCHW RGB in [0, 1], {sizes}; "
            f"output '{OUTPUT_NAME}': float32 NCHW RGB in [0, 1], same shape"
        )
    if styles > 1:
        shape = (
            f"[1, {styles}, map_height, map_width], a mix per pixel stretched over the image"
            if style_map
            else (f"[{styles}]")
        )
        text += (
            f"; optional input '{STYLE_INPUT}': float32 {shape}, one weight per style (the metadata's 'styles'), "
            "summing to 1 to blend them; default: the first style"
        )
    return text


def _load_onnx(path: str | os.PathLike[str]) -> onnx.ModelProto:
    path = Path(path)
    if not path.is_file():
        raise FasttxError(f"no such file: {path}")
    try:
        return onnx.load(path, load_external_data=False)
    except Exception as e:  # protobuf raises its own DecodeError and friends
        raise FasttxError(f"{path} is not an ONNX file ({e})") from e


def _opset(proto: onnx.ModelProto) -> int | None:
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)


def _value_info(value: onnx.ValueInfoProto) -> dict[str, Any]:
    tensor = value.type.tensor_type
    return {
        "name": value.name,
        "dtype": onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name,
        "shape": [d.dim_param or d.dim_value for d in tensor.shape.dim],
    }


# --- self-check ---------------------------------------------------------------------------------------


def _verify(
    path: Path,
    net: StyleNet,
    uint8_io: bool,
    variant: str,
    photos: list[torch.Tensor],
    style_map: bool = False,
    fixed_size: tuple[int, int] | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """onnx.checker, then onnxruntime (CPU) against PyTorch fp32 on batches of two at each of VERIFY_SIZES (one
    image at the fixed size of a static graph)."""
    try:
        onnx.checker.check_model(str(path), full_check=True)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # checker and onnxruntime raise their own types
        raise FasttxError(f"the exported {variant} graph does not load ({e}); try another --opset or variant") from e
    diffs: dict[str, float] = {}
    psnrs: dict[str, float] = {}
    sizes = VERIFY_SIZES if fixed_size is None else (fixed_size,)
    mixes = _verification_mixes(net.styles, style_map)[: len(sizes)]
    for (height, width), style in zip(sizes, mixes, strict=True):
        images = _verification_images(height, width, photos)[: 1 if fixed_size else None]
        if uint8_io:
            images = quantize(images)  # what a uint8 client can feed
        with torch.no_grad():
            expected = net(images, style).clamp(0, 1)
        feed = {INPUT_NAME: _feed(images, uint8_io)}
        if style is not None and height != VERIFY_SIZES[0][0]:  # the first size checks the default
            feed[STYLE_INPUT] = (style if style_map else style[0]).numpy()
        got = torch.from_numpy(session.run([OUTPUT_NAME], feed)[0])
        if uint8_io:
            got = frames_to_images(got)
            if variant == "fp32":
                expected = quantize(expected)
        if got.shape != expected.shape:
            raise FasttxError(
                f"the exported graph returns {tuple(got.shape)} for a {height}x{width} input; please report this"
            )
        key = f"{height}x{width}"
        diffs[key] = float((got - expected).abs().max())
        mse = float((got - expected).pow(2).mean())
        psnrs[key] = min(PSNR_CAP_DB, 10 * math.log10(1 / mse)) if mse > 0 else PSNR_CAP_DB
    _check(diffs, psnrs, *_criterion(variant, uint8_io), variant)
    return diffs, psnrs


def _criterion(variant: str, uint8_io: bool) -> tuple[str, float]:
    """Which figure the self-check bounds, and the bound (see MIN_PSNR_DB for why fp16/int8 use PSNR)."""
    if variant in MIN_PSNR_DB:
        return "psnr_db", MIN_PSNR_DB[variant]
    return "max_abs_diff", UINT8_TOLERANCE if uint8_io else FP32_TOLERANCE


def _check(diffs: dict[str, float], psnrs: dict[str, float], criterion: str, tolerance: float, variant: str) -> None:
    if criterion == "psnr_db":
        worst = min(psnrs, key=psnrs.__getitem__)
        if psnrs[worst] < tolerance:
            raise FasttxError(
                f"the {variant} export is too far from PyTorch at {worst}: PSNR {psnrs[worst]:.1f} dB "
                f"< {tolerance:g} dB; use the fp32 export for this model"
            )
        return
    worst = max(diffs, key=diffs.__getitem__)
    if diffs[worst] > tolerance:
        raise FasttxError(
            f"the ONNX export differs from PyTorch by {diffs[worst]:.2e} at {worst} (tolerance {tolerance:.1e}); "
            "please report this with the model file"
        )


def _verification_mixes(styles: int, style_map: bool = False) -> list[torch.Tensor | None]:
    """The style weights checked at each of VERIFY_SIZES: the default (first style), the last style, an equal blend
    at 80 % strength;
    for a map graph, the default, the last style as a 1x1 map and a map of a different mix at every pixel."""
    if styles == 1:
        return [None] * len(VERIFY_SIZES)
    if style_map:
        varied = torch.softmax(torch.randn(1, styles, 5, 7, generator=torch.Generator().manual_seed(0)) * 3, dim=1)
        return [one_style(0, styles)[:, :, None, None], one_style(styles - 1, styles)[:, :, None, None], varied]
    return [one_style(0, styles), one_style(styles - 1, styles), torch.full((1, styles), 0.8 / styles)]


def _verification_images(height: int, width: int, photos: list[torch.Tensor]) -> torch.Tensor:
    """Two images of the given size: calibration photos resized when there are any (int8), else test cards."""
    if photos:
        picked = [photos[i % len(photos)] for i in range(2)]
        return torch.stack([_resize(p, height, width) for p in picked])
    return torch.stack([_test_card(height, width, seed) for seed in range(2)])


def _resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return pil_to_tensor(tensor_to_pil(image).resize((width, height), Image.Resampling.BILINEAR))


def _test_card(height: int, width: int, seed: int) -> torch.Tensor:
    """Smooth colour waves plus fine noise, in [0, 1]: photo-like statistics, deterministic, no files needed."""
    gen = torch.Generator().manual_seed(seed)
    yy = torch.linspace(0, 1, height)[:, None]
    xx = torch.linspace(0, 1, width)[None, :]
    freq = torch.rand(3, 2, 1, 1, generator=gen) * 12
    phase = torch.rand(3, 1, 1, generator=gen) * 6.3
    waves = 0.5 + 0.4 * torch.sin(freq[:, 0] * yy + freq[:, 1] * xx + phase)
    return (waves + 0.1 * (torch.rand(3, height, width, generator=gen) - 0.5)).clamp(0, 1)


def _feed(images: torch.Tensor, uint8_io: bool) -> np.ndarray:
    """NCHW float [0, 1] -> what the graph's input expects."""
    if uint8_io:
        return images_to_frames(images).numpy()
    return images.contiguous().numpy()
