"""Inference sessions: one small interface over onnxruntime (`.onnx`) and PyTorch (`.pth`).

Callers hand a session either float32 NCHW RGB batches in [0, 1] (images) or uint8 NHWC RGB batches (decoded video
frames, as PyAV gives them) and get the same layout back. Each backend takes the cheap route for what it holds:
an ONNX graph exported with uint8 I/O eats frames as they are, a float graph gets them converted once.
A session is built once per run (graph optimisation and provider start-up cost more than a frame).
"""

from __future__ import annotations

import json
import os
import warnings
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fasttx.config import STYLE_INPUT, parse_style_mix
from fasttx.device import pick_device
from fasttx.errors import FasttxError
from fasttx.io import load_image
from fasttx.modelfile import find_model, load_model
from fasttx.nets.transformer import StyleNet
from fasttx.pixels import frames_tensor, frames_to_images, images_to_frames

ORT_DEVICES = ("auto", "cpu", "cuda", "tensorrt")


class Session(ABC):
    """A loaded style network, ready to run batches; a multi-style one runs the mix `use_style` chose."""

    backend: str  # "torch" | "onnxruntime"
    device: str  # where it runs, for people: "cpu", "cuda", "CUDAExecutionProvider", ...
    styles: list[str] = []  # a multi-style network's style names, in the order of its weights; [] for one style
    # the mix in use: [styles], or a map [1, styles, h, w] stretched over every image (None: the first style)
    style: np.ndarray | None = None
    takes_style_map = True  # whether the network takes a per-pixel map (an ONNX graph only if exported for it)
    meta: dict[str, Any] = {}  # what the model file says of itself (train_config, styles, ...), JSON values parsed

    def use_style(self, spec: str | None, style_map: str | os.PathLike[str] | None = None) -> None:
        """Run the styles `spec` names from now on ('starry=0.7,wave=0.3', one name, or indices; see
        fasttx.config.parse_style_mix); None keeps the default. With `style_map`, a greyscale image that mixes the
        two styles `spec` names per pixel: black the first, white the second."""
        if style_map is None:
            self.style = np.float32(parse_style_mix(spec, self.styles)) if spec is not None else None
            return
        names = [part.partition("=")[0] for part in (spec or "").split(",") if part.strip()]
        if len(names) != 2:
            raise FasttxError("--style-map needs --style-mix with the two styles it mixes, e.g. --style-mix sky,sea")
        if not self.takes_style_map:
            raise FasttxError("this ONNX model takes one mix per image; export it with --style-map-input")
        first, second = (np.float32(parse_style_mix(name, self.styles)) for name in names)
        white = load_image(style_map).mean(dim=0).numpy()  # [h, w] in [0, 1]
        self.style = (first[:, None, None] * (1 - white) + second[:, None, None] * white)[None].astype(np.float32)

    @abstractmethod
    def run(self, images: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] float32 RGB in [0, 1] (any device) -> stylised, same shape, float32 on the CPU."""

    def run_frames(self, frames: np.ndarray) -> np.ndarray:
        """[N, H, W, 3] uint8 RGB -> stylised, same shape and dtype."""
        return images_to_frames(self.run(frames_to_images(frames))).numpy()


def finite(images: torch.Tensor) -> torch.Tensor:
    """`images`, refused when a pixel is NaN or infinite: clamped and saved, they would be a black picture written
    as a success (a damaged model, or one trained to NaN)."""
    if not torch.isfinite(images).all():
        raise FasttxError("the model gave NaN or infinite pixels: it is damaged or was trained to NaN")
    return images


class TorchSession(Session):
    """PyTorch eager on any device; also what tiling needs (hooks into the network's InstanceNorm layers)."""

    backend = "torch"

    def __init__(self, net: StyleNet, device: torch.device, meta: dict[str, Any] | None = None):
        self.torch_device = device
        self.device = str(device)
        self.meta = meta or {}
        self.styles = (self.meta.get("styles") or [f"style{i}" for i in range(net.styles)]) if net.styles > 1 else []
        self.net = net.to(device).eval()
        if device.type == "cuda":
            self.net = self.net.to(memory_format=torch.channels_last)
            torch.backends.cudnn.benchmark = True  # frames of one video share a size: autotune once

    def run(self, images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self._forward(images.to(self.torch_device, torch.float32, non_blocking=True)).float().cpu()

    def run_frames(self, frames: np.ndarray) -> np.ndarray:
        # upload uint8 (a quarter of the bytes) and convert on the device
        with torch.inference_mode():
            x = frames_to_images(frames_tensor(frames).to(self.torch_device, non_blocking=True))
            return images_to_frames(self._forward(x)).cpu().numpy()

    @property
    def style_tensor(self) -> torch.Tensor | None:
        """The mix as the network takes it, [1, styles] or [1, styles, h, w] (None: the default)."""
        if self.style is None:
            return None
        style = torch.from_numpy(self.style)
        return style if style.dim() == 4 else style[None]

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.torch_device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        return finite(self.net(x, self.style_tensor)).clamp_(0.0, 1.0)


class OrtSession(Session):
    """onnxruntime with the graph optimised once; the I/O convention is read from the graph's input type."""

    backend = "onnxruntime"

    def __init__(self, path: str | os.PathLike[str], device: str = "auto"):
        path = Path(path)
        self.session, self.meta = load_onnx_session(path, device)
        metadata = self.session.get_modelmeta().custom_metadata_map
        if self.meta.get("kind") == "sound":
            raise FasttxError(f"{path} is a sound model; give it a sound file")
        self.device = self.session.get_providers()[0]
        self.output_device = "cpu" if self.device == "CPUExecutionProvider" else "cuda"
        inputs, out = self.session.get_inputs(), self.session.get_outputs()[0]
        if len(inputs) != 1:
            raise FasttxError(f"{path}: expected one image input, found {len(inputs)} inputs")
        inp = inputs[0]
        self.input_name, self.output_name = inp.name, out.name
        kinds = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}
        if inp.type not in kinds or len(inp.shape) != 4:
            raise FasttxError(f"{path}: expected a 4-D float32 or uint8 image input, found {inp.type} {inp.shape}")
        self.input_dtype = kinds[inp.type]
        # the export convention: uint8 graphs take NHWC (decoded frames), float graphs NCHW in [0, 1]
        self.uint8_io = self.input_dtype == np.uint8
        channels = inp.shape[3] if self.uint8_io else inp.shape[1]
        if isinstance(channels, int) and channels != 3:
            raise FasttxError(f"{path}: input {inp.name} {inp.shape} is not {'NHWC' if self.uint8_io else 'NCHW'} RGB")
        out_channels = out.shape[3 if self.uint8_io else 1] if len(out.shape) == 4 else None
        if len(out.shape) != 4 or (isinstance(out_channels, int) and out_channels != 3):
            raise FasttxError(f"{path}: output {out.name} {out.shape} is not an RGB image batch like its input")
        # a multi-style export's mix is an input with a default (an overridable initializer), see fasttx.export
        mix = {i.name: i for i in self.session.get_overridable_initializers()}.get(STYLE_INPUT)
        if mix is not None:
            self.styles = json.loads(metadata.get("styles", "[]")) or [f"style{i}" for i in range(_styles(metadata))]
        self.takes_style_map = mix is not None and len(mix.shape) == 4

    def run(self, images: torch.Tensor) -> torch.Tensor:
        images = images.detach().float().cpu()
        if self.uint8_io:
            return frames_to_images(self.run_frames(images_to_frames(images).numpy()))
        result = self._run(images.numpy().astype(self.input_dtype, copy=False))
        return finite(torch.from_numpy(result.astype(np.float32, copy=False))).clamp_(0.0, 1.0)

    def run_frames(self, frames: np.ndarray) -> np.ndarray:
        if self.uint8_io:
            return self._run(frames)
        return super().run_frames(frames)

    def _run(self, feed: np.ndarray) -> Any:
        # IO binding: the input is copied to the provider's device once and the output is allocated there by
        # onnxruntime, then copied back in one go (on CUDA this skips run()'s extra staging copies). On the CPU the
        # same path costs what run() does, so the CPU tests exercise the code the GPU runs.
        binding = self.session.io_binding()
        binding.bind_cpu_input(self.input_name, np.ascontiguousarray(feed))
        if self.style is not None:  # bind_cpu_input finds graph inputs only, not an input with a default
            import onnxruntime as ort

            style = self.style
            if self.takes_style_map and style.ndim == 1:  # one mix for a --style-map-input graph: a 1x1 map
                style = style[None, :, None, None]
            weights = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(style))
            binding.bind_ortvalue_input(STYLE_INPUT, weights)
        binding.bind_output(self.output_name, self.output_device)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]


def load_onnx_session(path: Path, device: str = "auto") -> tuple[Any, dict[str, Any]]:
    """An onnxruntime session for a fasttx export (images or sound) on `device`, and its metadata, parsed."""
    import onnxruntime as ort

    if not path.is_file():
        raise FasttxError(f"no such model: {path}")
    providers = ort_providers(device)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = os.cpu_count() or 0  # 0 lets onnxruntime pick
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL  # a chain of convs: nothing to run in parallel
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), options, providers=providers)
    except Exception as e:  # onnxruntime raises its own types for foreign, corrupt or unsupported files
        raise FasttxError(f"cannot load {path} with onnxruntime: {e}") from e
    metadata = session.get_modelmeta().custom_metadata_map
    if "fasttx_version" not in metadata:
        warnings.warn(
            f"{path} has no fasttx metadata: not a fasttx export, it may not be a style network", stacklevel=2
        )
    wanted = providers[0] if isinstance(providers[0], str) else providers[0][0]
    if device != "auto" and session.get_providers()[0] != wanted:
        raise FasttxError(
            f"onnxruntime could not start {wanted} for {path} (it fell back to {session.get_providers()[0]})"
        )
    return session, {key: _parsed(value) for key, value in metadata.items()}


def ort_providers(device: str = "auto") -> list[str | tuple[str, dict[str, str]]]:
    """onnxruntime execution providers for `device`: auto takes CUDA when it can really run, else the CPU.

    onnxruntime-gpu lists CUDA even where no GPU (or no CUDA library) is present and then fails at session start,
    so CUDA is asked for only when PyTorch sees a GPU too; `preload_dlls` first lets onnxruntime use the CUDA and
    cuDNN libraries that PyTorch's wheels installed. TensorRT builds an engine per input shape (seconds to
    minutes), which pays off for long videos only, so it is used when asked for by name; its engines are cached in
    $XDG_CACHE_HOME/fasttx/tensorrt (~/.cache/...) so the next run at the same size starts at once.
    """
    import onnxruntime as ort

    if device not in ORT_DEVICES:
        raise FasttxError(f"--device {device} is not for ONNX models; choose from {', '.join(ORT_DEVICES)}")
    available = ort.get_available_providers()
    gpu = torch.cuda.is_available()
    wanted = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}.get(device)
    if wanted is not None and (wanted not in available or not gpu):
        raise FasttxError(
            f"--device {device} asked for, but {'no GPU is visible' if not gpu else f'onnxruntime lacks {wanted}'} here"
        )
    use_cuda = device in ("cuda", "tensorrt") or (device == "auto" and gpu and "CUDAExecutionProvider" in available)
    if not use_cuda:
        return ["CPUExecutionProvider"]
    if hasattr(ort, "preload_dlls"):
        ort.preload_dlls()
    gpu_providers: list[str | tuple[str, dict[str, str]]] = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "tensorrt":
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fasttx" / "tensorrt"
        cache.mkdir(parents=True, exist_ok=True)
        options = {
            "trt_engine_cache_enable": "True",
            "trt_engine_cache_path": str(cache),
            "trt_timing_cache_enable": "True",
        }
        return [("TensorrtExecutionProvider", options), *gpu_providers]
    return gpu_providers


def open_session(
    model: str | os.PathLike[str],
    device: str = "auto",
    style: str | None = None,
    style_map: str | os.PathLike[str] | None = None,
) -> Session:
    """`.onnx` -> onnxruntime, anything else -> a fasttx model file on PyTorch; `device` as for the CLI; `style`
    and `style_map` the mix of a multi-style model (Session.use_style)."""
    model = find_model(model)
    session: Session
    if model.suffix.lower() == ".onnx":
        session = OrtSession(model, device)
    elif device == "tensorrt":
        raise FasttxError("--device tensorrt needs an exported .onnx model (fasttx export)")
    else:
        net, meta = load_model(model)
        session = TorchSession(net, pick_device(device), meta)
    session.use_style(style, style_map)
    return session


def _parsed(value: str) -> Any:
    """An ONNX metadata value as the model file had it: JSON where it is JSON (train_config, styles), else text."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _styles(metadata: dict[str, str]) -> int:
    return int(json.loads(metadata.get("net", "{}")).get("styles", 1))
