"""`fasttx bench`: latency and throughput of style models per backend, provider and resolution.

Several models (trained files, or untrained architectures from the registry: speed does not depend on the weights)
go into one run, so their ratios come from the same machine state. Every backend is measured through the same
`Session` interface stylize uses, so the numbers are what stylize gets
(host<->device copies included). Warm-up runs (graph optimisation, cuDNN autotuning, TensorRT engine builds) are
excluded; each figure is the median of `repeat` timed runs.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from fasttx.config import BENCH, MAX_BATCH, Size
from fasttx.errors import FasttxError
from fasttx.modelfile import load_model, save_model
from fasttx.nets.transformer import ARCHITECTURES, NetConfig, StyleNet, build_net, count_macs
from fasttx.pixels import images_to_frames
from fasttx.runtime.session import OrtSession, Session, TorchSession

BACKENDS = ("torch", "ort", "ort-fp16", "ort-int8")
VARIANT_OF = {"ort": "fp32", "ort-fp16": "fp16", "ort-int8": "int8"}


@dataclass
class ModelInfo:
    name: str  # as given: a path, or an architecture name for an untrained one
    arch: str
    params: int | None  # None: unknown (an ONNX file from elsewhere)
    gmacs_720p: float | None  # convolution multiply-accumulates per 1280x720 frame, in billions


@dataclass
class BenchRow:
    model: str  # ModelInfo.name
    backend: str  # torch | ort | ort-fp16 | ort-int8
    device: str  # torch device, or the onnxruntime execution provider that ran it
    size: str
    width: int
    height: int
    batch: int
    latency_ms: float | None = None  # median of the timed runs, per batch
    min_ms: float | None = None
    fps: float | None = None  # images per second: batch / median latency
    megapixels_per_s: float | None = None
    speedup: float | None = None  # the first measured row of this size (first model, first backend) / this row
    error: str | None = None  # why this combination has no numbers


@dataclass
class BenchReport:
    models: list[ModelInfo]
    repeat: int
    warmup: int
    rows: list[BenchRow] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # backends that could not run here, and why

    def to_dict(self) -> dict[str, Any]:
        return {
            "models": [asdict(m) for m in self.models],
            "repeat": self.repeat,
            "warmup": self.warmup,
            "rows": [asdict(r) for r in self.rows],
            "skipped": self.skipped,
        }


def parse_archs(text: str) -> list[str]:
    """'small,tiny' -> those registry names; 'all' -> every registered architecture."""
    names = sorted(ARCHITECTURES) if text.strip() == "all" else [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in names if a not in ARCHITECTURES]
    if unknown:
        raise FasttxError(f"unknown architecture {unknown[0]!r}; choose from all, {', '.join(sorted(ARCHITECTURES))}")
    return names


def model_info(name: str, net: StyleNet) -> ModelInfo:
    """Parameters and 720p MACs: what an architecture costs, independent of the machine."""
    params = sum(p.numel() for p in net.parameters())
    return ModelInfo(name, net.config.arch, params, count_macs(net, 720, 1280) / 1e9)


def bench(
    models: Sequence[str | os.PathLike[str]],
    sizes: Sequence[Size],
    backends: Sequence[str] | None = None,
    *,
    archs: Sequence[str] = (),
    repeat: int = BENCH.repeat,
    warmup: int = BENCH.warmup,
    batch: int = BENCH.batch,
    calibration: str | os.PathLike[str] | None = None,
    on_row: Callable[[BenchRow], None] | None = None,
) -> BenchReport:
    """Time each of `models`, then each untrained architecture in `archs`, on each backend x provider x size.

    `backends` None: PyTorch and ORT fp32 everywhere, fp16 on GPU providers, int8 on the CPU when a file or
    `calibration` photos exist. ORT variants of a `.pth` model come from `<stem>.onnx`, `<stem>.fp16.onnx`,
    `<stem>.int8.onnx` beside it when present, else are exported into a temporary folder. Each row's `speedup`
    compares it with the first row measured at its size.
    """
    if not (1 <= repeat <= 1000 and 0 <= warmup <= 1000 and 1 <= batch <= MAX_BATCH):
        raise FasttxError(f"--repeat must be 1 to 1000, --warmup 0 to 1000 and --batch 1 to {MAX_BATCH}")
    if not models and not archs:
        raise FasttxError("nothing to measure: give --model files and/or --arch names")
    paths = [Path(m) for m in models]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise FasttxError(f"no such model: {missing[0]}")
    unknown = [b for b in backends or () if b not in BACKENDS]
    if unknown:
        raise FasttxError(f"unknown backend {unknown[0]!r}; choose from {', '.join(BACKENDS)}")
    report = BenchReport([], repeat, warmup)
    baseline: dict[str, float] = {}
    with ExitStack() as stack:
        named = [(str(p), p) for p in paths] + [(a, _untrained(a, stack)) for a in archs]
        for name, path in named:
            report.models.append(_describe(name, path))
            for backend, device, open_session in _targets(path, backends, calibration, report.skipped, stack):
                try:
                    session = open_session()
                except FasttxError as e:
                    report.skipped.append(f"{name}: {backend} on {device}: {e}")
                    continue
                for size in sizes:
                    row = _measure(session, name, backend, size, batch, repeat, warmup)
                    if row.latency_ms is not None:
                        baseline.setdefault(size.label, row.latency_ms)
                        row.speedup = baseline[size.label] / row.latency_ms
                    report.rows.append(row)
                    if on_row is not None:
                        on_row(row)
                del session
    return report


def _untrained(arch: str, stack: ExitStack) -> Path:
    """A model file of freshly initialised `arch` weights in a temporary folder (timing needs no training)."""
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fasttx-bench-")))
    torch.manual_seed(0)
    return save_model(build_net(NetConfig(arch=arch)), folder / f"{arch}.pth", {"untrained": True})


def _describe(name: str, path: Path) -> ModelInfo:
    """Size and cost of a model file; an ONNX file's architecture is rebuilt from its `net` metadata."""
    if path.suffix.lower() == ".onnx":
        from fasttx.export import read_metadata

        net_config = read_metadata(path).get("net")
        if net_config is None:  # not exported by fasttx
            return ModelInfo(name, "?", None, None)
        return model_info(name, build_net(NetConfig.from_dict(json.loads(net_config))))
    net, _ = load_model(path)
    return model_info(name, net)


def _targets(
    model: Path,
    backends: Sequence[str] | None,
    calibration: str | os.PathLike[str] | None,
    skipped: list[str],
    stack: ExitStack,
) -> Iterator[tuple[str, str, Callable[[], Session]]]:
    """(backend, device, session factory) for everything that can run here; what cannot is noted in `skipped`."""
    from fasttx.runtime.session import ort_providers

    gpu = torch.cuda.is_available()
    ort_devices = ["cpu"]
    for device in ("cuda", "tensorrt"):
        try:
            ort_providers(device)
            ort_devices.append(device)
        except FasttxError:
            pass
    if model.suffix.lower() == ".onnx":
        from fasttx.export import read_metadata

        backend = next((b for b, v in VARIANT_OF.items() if v == read_metadata(model).get("variant", "fp32")), "ort")
        if backends and backend not in backends:
            raise FasttxError(f"{model} is an {backend} model; benchmark other backends from the .pth it came from")
        for device in ort_devices:
            yield backend, device, lambda device=device: OrtSession(model, device)  # type: ignore[misc]
        return
    wanted = list(backends) if backends else ["torch", "ort", "ort-fp16", "ort-int8"]
    if "torch" in wanted:
        net, _ = load_model(model)
        for device in ["cpu", *(["cuda"] if gpu else [])]:
            # a copy per device: moving a network to a device moves it in place
            yield "torch", device, lambda device=device: TorchSession(copy.deepcopy(net), torch.device(device))  # type: ignore[misc]
    for backend in (b for b in wanted if b != "torch"):
        variant = VARIANT_OF[backend]
        devices = ort_devices
        if backends is None:  # the defaults: each variant where it is meant to run
            devices = (
                [d for d in ort_devices if d != "cpu"]
                if variant == "fp16"
                else ["cpu"]
                if variant == "int8"
                else ort_devices
            )
        if not devices:
            skipped.append(f"{backend}: no GPU provider here")
            continue
        path = _onnx_file(model, variant, calibration, skipped, stack, required=backends is not None)
        if path is None:
            continue
        for device in devices:
            yield backend, device, lambda device=device, path=path: OrtSession(path, device)  # type: ignore[misc]


def _onnx_file(
    model: Path,
    variant: str,
    calibration: str | os.PathLike[str] | None,
    skipped: list[str],
    stack: ExitStack,
    required: bool,
) -> Path | None:
    """The model's ONNX `variant` beside it, or exported on the fly into a temporary folder."""
    from fasttx.export import export_onnx, read_metadata

    beside = model.with_suffix(".onnx" if variant == "fp32" else f".{variant}.onnx")
    if beside.is_file() and read_metadata(beside).get("variant", "fp32") == variant:
        return beside
    if variant == "int8" and calibration is None:
        if required:
            skipped.append(f"ort-int8: no {beside.name} beside the model; pass --calibration PHOTOS to export one")
        return None
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fasttx-bench-")))
    path = folder / beside.name
    try:
        export_onnx(
            model,
            path,
            fp16=variant == "fp16",
            int8_calibration=calibration if variant == "int8" else None,
            verify=False,
        )
    except FasttxError as e:
        skipped.append(f"ort-{variant}: export failed ({e})")
        return None
    return path


def _measure(session: Session, model: str, backend: str, size: Size, batch: int, repeat: int, warmup: int) -> BenchRow:
    row = BenchRow(model, backend, session.device, size.label, size.width, size.height, batch)
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 3, size.height, size.width, generator=gen)
    frames = images_to_frames(images).numpy()
    uint8_graph = isinstance(session, OrtSession) and session.uint8_io

    def once() -> None:
        if uint8_graph:
            session.run_frames(frames)
        else:
            session.run(images)  # returns on the CPU, so GPU work is finished when it returns

    times = []
    try:
        for _ in range(warmup):
            once()
        for _ in range(repeat):
            start = time.perf_counter()
            once()
            times.append(time.perf_counter() - start)
    except Exception as e:  # noqa: BLE001 - out of memory and provider failures come in many types; other rows still count
        row.error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]
        return row
    median = statistics.median(times)
    row.latency_ms = median * 1e3
    row.min_ms = min(times) * 1e3
    row.fps = batch / median
    row.megapixels_per_s = batch * size.width * size.height / median / 1e6
    return row
