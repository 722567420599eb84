"""Training a style network: the loop, checkpoints and resume, previews, metrics.

Read top to bottom: config, set-up, the loop, the side outputs. A run writes into its output folder:
  model.pth        weights + the recipe to rebuild the net (fasttx.modelfile.load_model)
  model.onnx       the same network for onnxruntime, checked against PyTorch (fasttx.export)
  checkpoint.pt    everything needed to continue exactly where it stopped (--resume)
  train.jsonl      one JSON line of metrics every `log_every` steps
  previews/        grids of fixed photos (top) and their stylisation (bottom) every `preview_every` steps
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import math
import os
import random
import signal
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel
from torch.profiler import record_function
from torchvision.utils import make_grid

from fasttx import __version__, distributed
from fasttx.config import TrainConfig, shareable_meta, style_long_side
from fasttx.data import PhotoFolder, SkipReport, mix_seed, photo_batches
from fasttx.device import amp_dtype, autocast, pick_device
from fasttx.distributed import Processes
from fasttx.errors import FasttxError
from fasttx.io import (
    check_output_folder,
    file_sha256,
    find_images,
    load_image,
    open_rgb,
    pil_to_tensor,
    resize_long_side,
    save_image,
    write_bytes,
)
from fasttx.losses import PerceptualLoss, measure_layer_scales, resize_style
from fasttx.modelfile import CHECKPOINT_FORMAT, FORMAT_VERSION, load_model, load_torch, save_model, save_torch
from fasttx.nets.transformer import (
    StyleNet,
    build_net,
    mean_style,
    one_style,
    same_kind,
    start_from,
    train_only_style,
    with_new_style,
)
from fasttx.nets.vgg import VGGFeatures, default_weights_source
from fasttx.optim import MuonAdam, hidden_convs
from fasttx.progress import progress_bar, stderr_console
from fasttx.temporal import consistency_loss

BASES = Path(__file__).parent / "bases"  # the networks --init base starts from, <arch>.pth (bench/base.py)


@dataclass
class TrainResult:
    out: Path
    model: Path
    steps: int
    interrupted: bool
    last_metrics: dict[str, float]
    skipped_files: int


class Interrupted(Exception):
    """Raised after Ctrl-C or SIGTERM once the checkpoint is safely on disk."""

    def __init__(self, checkpoint: Path, step: int, signum: int = signal.SIGINT):
        super().__init__(f"interrupted at step {step}; checkpoint saved to {checkpoint} (continue with --resume)")
        self.checkpoint = checkpoint
        self.step = step
        self.exit_code = 128 + int(signum)  # the shell's convention: 130 for Ctrl-C, 143 for SIGTERM


def train(
    cfg: TrainConfig, overwrite: bool = False, progress: bool = True, console: Console | None = None
) -> TrainResult:
    """Train `cfg.net` on `cfg.dataset` for the style(s) in `cfg.style`, from scratch.

    A folder that holds a previous run is only started afresh with `overwrite` (else: `resume` it).
    """
    out = Path(cfg.out)
    init = cfg.init if cfg.init not in ("base", "scratch") else None
    check_output_folder(out, [*cfg.style, cfg.dataset, cfg.val, *cfg.preview, cfg.teacher, cfg.add_to, init])
    if not overwrite and (out / "checkpoint.pt").exists():
        raise FasttxError(
            f"{out} holds a previous run; continue it with `fasttx resume {out}` or start afresh with --overwrite"
        )
    return _run(cfg, None, progress, console)


def resume(
    path: str | Path,
    steps: int | None = None,
    device: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> TrainResult:
    """Continue the run whose checkpoint is `path` (a checkpoint file or a run folder) exactly where it stopped,
    with its own recipe; only the total `steps` and where it runs (`device`, `workers`) may change, when given."""
    path = Path(path)
    checkpoint = load_torch(path / "checkpoint.pt" if path.is_dir() else path, CHECKPOINT_FORMAT)
    cfg = TrainConfig.from_dict(checkpoint["config"])
    cfg.out = str(path if path.is_dir() else path.parent)
    cfg.steps = steps if steps is not None else cfg.steps
    cfg.device = device if device is not None else cfg.device
    cfg.workers = workers if workers is not None else cfg.workers
    return _run(cfg, checkpoint, progress, console)


def _run(cfg: TrainConfig, checkpoint: dict[str, Any] | None, progress: bool, console: Console | None) -> TrainResult:
    """The loop, from scratch or from `checkpoint` (which `cfg` is the recipe of); under torchrun, this process's
    part of it (fasttx.distributed)."""
    try:
        return _loop(cfg, checkpoint, progress, console)
    finally:
        distributed.stop()


def _loop(cfg: TrainConfig, checkpoint: dict[str, Any] | None, progress: bool, console: Console | None) -> TrainResult:
    cfg.validate()
    for path in cfg.style:
        if not Path(path).is_file():
            raise FasttxError(f"no such style image: {path}")
    console = console or stderr_console()
    out = Path(cfg.out)
    processes, device = distributed.start(pick_device(cfg.device))
    local_batch = distributed.local_batch(cfg.batch_size, processes)
    main = processes.main  # the one process that writes files and prints progress
    dtype = amp_dtype(device, cfg.amp)
    checkpoint_path = out / "checkpoint.pt"
    _seed_everything(cfg.seed)

    dataset = PhotoFolder(cfg.dataset, cfg.image_size)
    photos = _folder_identity(dataset.paths, cfg.dataset)
    if checkpoint is not None and checkpoint["photos"] != photos:
        raise FasttxError(
            f"the photos in {cfg.dataset} changed since the checkpoint ({checkpoint['photos']['count']} then, "
            f"{photos['count']} now): the run would not continue exactly; restore them, or start afresh with "
            "train --overwrite"
        )
    # fixed once, in steps, and saved so: a resumed --epochs run keeps its length if the folder changes
    cfg.steps = total = cfg.total_steps(len(dataset))
    vgg = VGGFeatures(cfg.loss.layers, arch=cfg.vgg_arch, weights=cfg.vgg_weights or default_weights_source())
    styles = [_load_style(path, style_long_side(cfg.loss.style_size, cfg.image_size)) for path in cfg.style]
    new_style = cfg.net.styles - 1 if cfg.add_to else None  # --add-style: the one style that trains
    objective = PerceptualLoss(vgg, styles, cfg.loss, separate=cfg.net.styles > 1 and new_style is None).to(device)
    # a fresh run's yardstick: the style layers' balance and the style each of its styles starts from
    balance = cfg.loss.balance and cfg.loss.layer_scales is None  # measured once, then saved with the recipe
    crops = calibration_crops(dataset, cfg.seed).to(device) if checkpoint is None or balance else None
    if balance and crops is not None:
        scales = measure_layer_scales(objective, crops)
        cfg.loss.layer_scales = distributed.broadcast(scales, processes)  # bit for bit process 0's
    # under torchrun every process starts from process 0's weights: DistributedDataParallel broadcasts them
    if checkpoint is not None:
        net = build_net(cfg.net)
    else:
        net, cfg.started_from = initial_network(cfg, objective, crops)
        if main and cfg.started_from:
            names = cfg.style_names if cfg.net.styles > 1 else ["+".join(cfg.style_names)]  # --blend: one style
            starts = ", ".join(f"{name} from {start}" for name, start in zip(names, cfg.started_from, strict=True))
            console.print(f"starting from {cfg.init}: {starts}")
    if cfg.image_size < net.min_size:
        raise FasttxError(f"--image-size {cfg.image_size} is below the {cfg.net.arch} network's {net.min_size} px")
    net = net.to(device)
    teacher = load_model(cfg.teacher)[0].to(device).requires_grad_(False) if cfg.teacher else None
    if new_style is not None:
        groups = [{"params": train_only_style(net, new_style), "lr_scale": 1.0, "kind": "adam"}]
    else:
        groups = _param_groups(net, cfg.head_lr, cfg.muon_lr / cfg.lr)
    if any(group["kind"] == "muon" for group in groups):
        optimizer: torch.optim.Optimizer = MuonAdam(groups, lr=cfg.lr)
    else:
        optimizer = torch.optim.Adam(groups, lr=cfg.lr)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
        objective = objective.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    average = _ema(net, cfg.ema)
    content_target = ContentTarget(cfg.loss.content_target, cfg.net.styles if new_style is None else 1, device)
    # torch.compile fuses kernels: a minute or two of compiling, then faster steps (worth it on GPUs, for long
    # runs). The eager `net` is what the moving average (saved, previewed, validated) follows.
    model = distributed.wrap(net, device, processes)  # DistributedDataParallel under torchrun
    forward = torch.compile(model) if cfg.compile else model
    if cfg.compile:
        objective.vgg = torch.compile(objective.vgg)

    start = 0
    if checkpoint is not None:
        net.load_state_dict(checkpoint["model"])
        average.load_state_dict(checkpoint["ema"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        content_target.load_state_dict(checkpoint["content_target"])
        if checkpoint["scaler"]:  # a run without fp16 (CPU, bf16) saved a disabled scaler's empty state
            scaler.load_state_dict(checkpoint["scaler"])
        _set_rng_state(checkpoint["rng"])
        start = int(checkpoint["step"])
    if main:
        out.mkdir(parents=True, exist_ok=True)
    metrics_log = MetricsLog(out / "train.jsonl", keep_until=start) if main else None
    previews = _centre_crops([p for spec in cfg.preview for p in find_images(spec)] or dataset.paths, cfg.image_size, 4)
    previews = previews.to(device)
    val_photos = _centre_crops(find_images(cfg.val), cfg.image_size, limit=16).to(device) if cfg.val else None
    best_val = _best_val(out, checkpoint)
    meta = _model_meta(cfg, vgg)
    skips = SkipReport()

    def save_checkpoint(step: int) -> Path:
        nonlocal saved_step
        check_finite(step)
        saved_step = step
        if not main:
            return checkpoint_path
        return save_torch(
            {
                "format": CHECKPOINT_FORMAT,
                "format_version": FORMAT_VERSION,
                "config": cfg.to_dict(),
                "step": step,
                "model": net.state_dict(),
                "ema": average.state_dict(),
                "content_target": content_target.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict(),
                "rng": _get_rng_state(),
                "best_val": best_val,
                "photos": photos,
            },
            checkpoint_path,
        )

    finite = torch.ones((), dtype=torch.bool, device=device)  # every loss so far finite (read back only to check)

    def check_finite(step: int) -> None:
        """Stop a run whose loss or weights became NaN or infinite, before it replaces a good checkpoint or writes a
        model of NaNs (a rate far too high, say)."""
        if not (bool(finite) and all(bool(torch.isfinite(p).all()) for p in net.parameters())):
            kept = f"{checkpoint_path} (step {saved_step}) is intact" if saved_step else "nothing was saved"
            raise FasttxError(f"training diverged by step {step}: the loss became NaN or infinite; {kept}. Lower --lr")

    saved_step = start
    # Training on the CPU, decoding in worker processes only steals cores from the compute threads (measured:
    # 1.2 vs 6.9 img/s at 128 px on 2 cores); on an accelerator the workers keep it fed.
    workers = cfg.workers if cfg.workers is not None else (0 if device.type == "cpu" else None)
    batches = photo_batches(
        dataset,
        cfg.batch_size,
        cfg.seed,
        start_batch=start,
        workers=workers,
        pin_memory=device.type == "cuda",
        rank=processes.rank,
        world=processes.world,
    )
    if processes.distributed and main:
        console.print(
            f"{processes.world} processes: global batch {cfg.batch_size}, {local_batch} photos per process and step"
        )
    stop = _StopFlag()
    last: dict[str, float] = {}
    step = start
    window_start, window_images = time.perf_counter(), 0
    bar = progress_bar(console, enabled=progress and main)
    stopping = False  # agreed by all processes: one that got Ctrl-C or SIGTERM stops them all at the same step
    with stop, bar:
        task = bar.add_task("training", total=total, completed=start, unit="steps")
        while step < total and not (stopping := distributed.any_true(stop.requested, device, processes)):
            # record_function labels the phases for bench/train_speed.py --profile (no cost without a profiler)
            with record_function("data"):
                try:
                    images, skipped = next(batches)
                except RuntimeError:
                    if stop.requested:  # Ctrl-C reached the DataLoader workers first
                        break
                    raise
                for path in skips.add(skipped):
                    warnings.warn(f"skipping unreadable image {path}", stacklevel=1)
                images = images.to(device, non_blocking=True)
                if device.type == "cuda":
                    images = images.contiguous(memory_format=torch.channels_last)

            for group in optimizer.param_groups:
                group["lr"] = _lr_at(cfg, step) * group["lr_scale"]
            with autocast(device, dtype):
                with record_function("vgg_content_targets"):
                    content_features = objective.content_targets(images)
                index = batch_styles(step, images.shape[0], cfg.net.styles, device, new_style, processes)
                weights = None if index is None else F.one_hot(index, cfg.net.styles).float()
                index = None if new_style is not None else index  # its objective holds the new style alone
                with record_function("transformer_forward"):
                    stylised = forward(images, weights)
                with record_function("vgg_loss_forward"):
                    terms = objective(stylised, content_features, content_target.scales(index), index)
                if teacher is not None:
                    with record_function("teacher_forward"):
                        target = teacher(images, weights).float()
                    terms["distill"] = cfg.distill_weight * (stylised.float() - target).abs().mean()
                    terms["total"] = terms["total"] + terms["distill"]
                if cfg.temporal_weight > 0:
                    with record_function("temporal_consistency"):
                        draws = torch.Generator().manual_seed(mix_seed(cfg.seed, step))  # the same on resume
                        moved = consistency_loss(functools.partial(forward, style=weights), images, stylised, draws)
                    terms["temporal"] = cfg.temporal_weight * moved
                    terms["total"] = terms["total"] + terms["temporal"]
            with record_function("backward"):
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(terms["total"]).backward()
                finite &= torch.isfinite(terms["total"].detach())
            with record_function("optimizer"):
                scaler.step(optimizer)
                scaler.update()
                average.update_parameters(net)
                content_target.update_styles(objective.content_errors(), index, processes)
            step += 1
            window_images += images.shape[0] * processes.world

            if step % cfg.log_every == 0 or step == total:
                check_finite(step)
                elapsed = time.perf_counter() - window_start
                last = {name: float(distributed.mean(value, processes)) for name, value in terms.items()}
                if cfg.loss.content_target is not None:
                    last.update(_content_scales(content_target, cfg))
                last.update(step=step, lr=_lr_at(cfg, step - 1), images_per_s=window_images / max(elapsed, 1e-9))
                if metrics_log is not None:
                    metrics_log.write(last)
                bar.update(task, metrics=_format_metrics(last))
                window_start, window_images = time.perf_counter(), 0
            if main and (step % cfg.preview_every == 0 or step == total):
                _write_preview(average.module, previews, out / "previews" / f"step_{step:06d}.jpg")
            if metrics_log is not None and val_photos is not None and (step % cfg.val_every == 0 or step == total):
                record = _validate(
                    average.module, objective, val_photos, cfg, out / "previews" / f"val_step_{step:06d}.jpg", new_style
                )
                metrics_log.write({"step": step, **record})
                if record["val_total"] < best_val:
                    best_val = record["val_total"]
                    save_model(average.module, out / "best.pth", {**meta, "steps": step, "val": record})
            if step % cfg.checkpoint_every == 0 and step < total:
                save_checkpoint(step)
            bar.update(task, completed=step)

    if stopping and step < total:
        saved = save_checkpoint(step)
        distributed.barrier(processes)  # the others report it once it is on disk
        raise Interrupted(saved, step, stop.signal)
    save_checkpoint(step)
    if not main:
        return TrainResult(out, out / "model.pth", step, False, last, skips.count)
    final_meta = {**meta, "steps": step, "final_metrics": last}
    model_path = save_model(average.module, out / "model.pth", final_meta)
    if cfg.onnx:
        from fasttx.export import export_onnx  # onnx and onnxruntime load only when a run writes model.onnx

        export_onnx(average.module, out / "model.onnx", meta=final_meta, overwrite=True)  # the run's own file
    return TrainResult(out, model_path, step, False, last, skips.count)


def add_style_config(
    base: str | Path,
    style: str | Path,
    out: str | Path | None = None,
    *,
    steps: int | None = None,
    dataset: str | Path | None = None,
    device: str | None = None,
    workers: int | None = None,
) -> TrainConfig:
    """The recipe that adds `style` to the trained network `base` (a model.pth of one or several styles): the
    base's own recipe, the network grown by one style, and only that style's vectors trained (the convolutions
    frozen), so it takes a fraction of a full training. The keyword arguments given replace the base's."""
    net, meta = load_model(base)
    if "train_config" not in meta:
        raise FasttxError(f"{base} does not record how it was trained; cannot add a style to it")
    cfg = TrainConfig.from_dict(meta["train_config"])
    names = meta.get("styles") or [meta.get("style_name", "style0")]
    if Path(style).stem in names:
        raise FasttxError(f"{base} already has a style named {Path(style).stem!r}; rename the image")
    cfg.net = replace(net.config, styles=net.styles + 1)
    cfg.style, cfg.base_styles, cfg.add_to, cfg.blend = [str(style)], list(names), str(base), False
    cfg.teacher, cfg.val = None, None
    cfg.loss = replace(cfg.loss, layer_scales=None)  # measured again, for the new style
    cfg.out = str(out or Path(base).parent.with_name(f"{Path(base).parent.name}+{Path(style).stem}"))
    _override(cfg, steps, dataset, device, workers)
    if not Path(cfg.dataset).exists():
        raise FasttxError(f"the base model names its dataset {cfg.dataset!r} without its folder; give --dataset")
    return cfg


def initial_network(
    cfg: TrainConfig, objective: PerceptualLoss | None = None, photos: torch.Tensor | None = None
) -> tuple[StyleNet, list[str]]:
    """The network a fresh run starts from, and what each of its styles started from (TrainConfig.started_from):
    --from's grown by the new style (--add-style), else a new one set to --init's weights (train.start_from), if
    any: each style at the trained style (or their mean) nearest to it on `photos` by `objective`
    (nearest_styles), or at their mean without them."""
    if cfg.add_to is not None:
        return with_new_style(_base(cfg)), []
    net = build_net(cfg.net)
    init = _init_network(cfg)
    if init is None:
        return net, []
    trained, names = init
    mixes = None if objective is None or photos is None else nearest_styles(trained, objective, photos)
    mixes = start_from(net, trained, mixes)
    return net, [names[int(mix.argmax())] if mix.max() == 1 else "mean" for mix in mixes]


def nearest_styles(trained: StyleNet, objective: PerceptualLoss, photos: torch.Tensor) -> torch.Tensor:
    """For each style of `objective`, the one of `trained`'s styles, or their mean, whose outputs on `photos`
    score the lowest style term against it: [objective.styles, trained.styles] mixes for start_from.

    Why: the trained styles are far apart as starts. On the 5 held-out Kodak photos (hed VGG16, 256 px), the
    shipped base's Candy scores 62 % of the photos' style distance to Rain Princess, the base's mean 80 %; its
    La Muse 60 % to Composition VII, the mean 67 %; its Udnie 84 % to Great Wave, the mean 109 % (worse than the
    photos). A run started nearer has less of the way to go. On the same device as `objective`; the mean is kept
    on a tie."""
    device = photos.device
    candidates = torch.cat([mean_style(trained.styles), torch.eye(trained.styles)]).to(device)
    trained = trained.to(device).eval()
    scores = torch.empty(objective.styles, len(candidates))
    with torch.no_grad():
        content = objective.content_targets(photos)
        for c, mix in enumerate(candidates):
            output = trained(photos, mix.expand(len(photos), -1))
            for style in range(objective.styles):
                index = None if objective.styles == 1 else torch.full((len(photos),), style, device=device)
                scores[style, c] = objective(output, content, style_index=index)["style"]
    return candidates[scores.argmin(dim=1)].cpu()


def _init_network(cfg: TrainConfig) -> tuple[StyleNet, list[str]] | None:
    """--init's trained network and its styles' names: a model.pth, or the base fasttx ships for this kind of
    network, if it has one."""
    if cfg.init == "scratch":
        return None
    path = Path(cfg.init) if cfg.init != "base" else BASES / f"{cfg.net.arch}.pth"
    if cfg.init == "base" and not path.exists():
        return None
    trained, meta = load_model(path)
    if cfg.init == "base" and not same_kind(trained.config, cfg.net):
        return None
    return trained, meta.get("styles") or [meta.get("style_name") or path.parent.name]


def _base(cfg: TrainConfig) -> StyleNet:
    assert cfg.add_to is not None
    net, _ = load_model(cfg.add_to)
    if net.styles + 1 != cfg.net.styles:
        raise FasttxError(f"{cfg.add_to} has {net.styles} style(s); this run adds one to {cfg.net.styles - 1}")
    return net


def distill_config(
    teacher: str | Path,
    arch: str,
    out: str | Path | None = None,
    *,
    steps: int | None = None,
    dataset: str | Path | None = None,
    style: Sequence[str | Path] | None = None,
    distill_weight: float | None = None,
    device: str | None = None,
    workers: int | None = None,
) -> TrainConfig:
    """The teacher's own training recipe, retargeted at a `arch` student that also learns from the teacher's outputs;
    the keyword arguments given (not None) replace the teacher's."""
    _, meta = load_model(teacher)
    if "train_config" not in meta:
        raise FasttxError(f"{teacher} does not record how it was trained; cannot derive a distillation recipe")
    cfg = TrainConfig.from_dict(meta["train_config"])
    cfg.net = replace(cfg.net, arch=arch)
    cfg.teacher = str(teacher)
    cfg.val = None
    cfg.out = str(out or Path(teacher).parent.with_name(f"{Path(teacher).parent.name}-{arch}"))
    _override(cfg, steps, dataset, device, workers)
    cfg.style = [str(p) for p in style] if style else cfg.style
    cfg.distill_weight = distill_weight if distill_weight is not None else cfg.distill_weight
    missing = [p for p in [*cfg.style, cfg.dataset] if not Path(p).exists()]
    if missing:
        raise FasttxError(f"the teacher names {missing[0]!r} without its folder; give --style and --dataset")
    return cfg


def _override(
    cfg: TrainConfig, steps: int | None, dataset: str | Path | None, device: str | None, workers: int | None
) -> None:
    """A derived recipe (a grown or distilled network) with the options the user gave in place of the source's:
    a step count replaces the source's budget (steps or epochs)."""
    if steps is not None:
        cfg.steps, cfg.epochs = steps, None
    cfg.dataset = str(dataset) if dataset is not None else cfg.dataset
    cfg.device = device if device is not None else cfg.device
    cfg.workers = workers if workers is not None else cfg.workers


# --- pieces of the loop ---------------------------------------------------------------------------


def _param_groups(net: StyleNet, head_lr: float | None, muon_scale: float = 0.0) -> list[dict[str, Any]]:
    """The output conv's weights in a group of their own, with a rate scaled down by their fan-in.

    Adam moves every weight by about lr per step whatever its gradient, so a conv's output moves by about
    lr x fan-in per step when its inputs agree. Every other conv is followed by an instance norm, which undoes
    such a change of scale; the output conv is not: Johnson's 9x9x32 head (fan-in 2592) would swing the edit by
    ~2.6 per step at lr 1e-3 and saturate the image within a few steps (the early blow-ups in the training logs).
    1/sqrt(fan-in / 16) keeps the 1x1 heads of the compact nets (fan-in 16) at the full rate. The head's bias
    moves the edit by lr per step, like any other parameter, and keeps the full rate: scaled, a global change of
    brightness or colour (Starry Night is darker and bluer than every photo) took thousands of steps.
    With `muon_scale` > 0 the hidden convs (fasttx.optim.hidden_convs) are a third group, for Muon, at
    lr x muon_scale.
    """
    head = net.body.head
    if head_lr is None:
        head_lr = min(1.0, 1.0 / math.sqrt(head.weight[0].numel() / 16))
    hidden = hidden_convs(net, head.weight) if muon_scale > 0 else []
    apart = {id(p) for p in hidden} | ({id(head.weight)} if head_lr != 1.0 else set())
    # head_lr 1: the head in the first group, as in checkpoints saved before it had its own rate
    groups = [{"params": [p for p in net.parameters() if id(p) not in apart], "lr_scale": 1.0, "kind": "adam"}]
    if head_lr != 1.0:
        groups.append({"params": [head.weight], "lr_scale": head_lr, "kind": "adam"})
    if hidden:
        groups.append({"params": hidden, "lr_scale": muon_scale, "kind": "muon"})
    return groups


class ContentTarget:
    """The content weight as a Lagrange multiplier: grown while the content distance is above `target`, shrunk
    while below (GECO-style, Rezende & Viola 2018), so training minimises style at a chosen content distance.

    A fixed weight gives each painting its own content distance (colourful ones lose far more) and lets it drift
    up as training goes on; the target holds it, so longer training buys style, not lost content. The distance is
    followed as a moving average of the batches' (they are noisy); the scale moves by at most RATE in log space per
    step and stays within exp(+-LIMIT). Without a target the scale stays 1.

    A multi-style network has one multiplier per style, each fed by its own photos' distances, so every style is held
    at the target as its own single-style network would be. One shared multiplier held only the styles' average:
    the four-style benchmark network left La Muse at 0.26 (its single network: 0.215) and Udnie at 0.16 (0.38) on
    held-out photos; one each, 0.253 and 0.268.

    The state lives on the training device and every update is tensor arithmetic: nothing waits for the GPU
    between steps (the log reads the multipliers every log_every steps).
    """

    RATE, DECAY, LIMIT = 0.02, 0.95, 4.0

    def __init__(self, target: float | None, styles: int = 1, device: torch.device | str = "cpu"):
        self.target = target
        self.log_scales = torch.zeros(styles, device=device)
        self.averages = torch.full((styles,), math.nan, device=device)  # NaN: no distance seen yet

    def scales(self, index: torch.Tensor | None = None) -> torch.Tensor:
        """Each photo's multiplier, [B], for the styles `index` [B] names; the first style's without an index."""
        scales = self.log_scales.exp()
        return scales[0] if index is None else scales[index]

    def update_styles(self, distances: torch.Tensor, index: torch.Tensor | None, processes: Processes) -> None:
        """Follow a batch's per-photo content distances [B] (`index` [B]: their styles), over all processes."""
        if self.target is None:
            return
        index = torch.zeros(len(distances), dtype=torch.long, device=distances.device) if index is None else index
        styles = len(self.log_scales)
        sums = torch.zeros(styles, device=distances.device).index_add_(0, index, distances.float())
        counts = torch.bincount(index, minlength=styles).float()
        sums, counts = distributed.mean(sums, processes), distributed.mean(counts, processes)
        seen = counts > 0
        distance = sums / counts.clamp_min(1)
        decayed = self.DECAY * self.averages + (1 - self.DECAY) * distance
        followed = torch.where(self.averages.isnan(), distance, decayed)
        followed = torch.where(seen, followed, self.averages)
        step = self.RATE * ((followed - self.target) / self.target).clamp(-1, 1)
        moved = (self.log_scales + step).clamp(-self.LIMIT, self.LIMIT)
        self.log_scales, self.averages = torch.where(seen, moved, self.log_scales), followed

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"log_scales": self.log_scales.cpu(), "averages": self.averages.cpu()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        device = self.log_scales.device
        self.log_scales, self.averages = state["log_scales"].to(device), state["averages"].to(device)


def _content_scales(target: ContentTarget, cfg: TrainConfig) -> dict[str, float]:
    """The content multipliers for train.jsonl: `content_scale`, or one `content_scale_<style>` per style."""
    scales = target.log_scales.exp().tolist()
    if len(scales) == 1:
        return {"content_scale": scales[0]}
    return {f"content_scale_{name}": scale for name, scale in zip(cfg.style_names, scales, strict=True)}


def _ema(net: StyleNet, decay: float) -> AveragedModel:
    """An exponential moving average of `net`'s weights: what previews, validation and the saved model use.

    With batches of 4 photos each step pulls the network towards those photos, so the weights wander around the
    solution (held-out distances jump by +-0.3 between checks 20 steps apart); their average is the solution. The
    decay ramps up as min(decay, (1 + n) / (10 + n)) after n updates, so the average spans the last ~10 % of a
    short run and 1 / (1 - decay) steps of a long one; decay 0 keeps the last weights.
    """

    def average(averaged: list[torch.Tensor], current: list[torch.Tensor], updates: torch.Tensor | int) -> None:
        n = int(updates)
        torch._foreach_lerp_(averaged, current, 1 - min(decay, (1 + n) / (10 + n)))

    return AveragedModel(net, multi_avg_fn=average, use_buffers=True)


def _lr_at(cfg: TrainConfig, step: int) -> float:
    """A linear warm-up, then constant: budgets nest (a run resumed to more steps is the longer run)."""
    return cfg.lr * (min(1.0, (step + 1) / cfg.warmup) if cfg.warmup > 0 else 1.0)


def _load_style(path: str, long_side: int) -> torch.Tensor:
    return resize_style(load_image(path), long_side)


def calibration_crops(dataset: PhotoFolder, seed: int, count: int = 16) -> torch.Tensor:
    """Training crops spread over the folder, the same for a given folder and seed (to balance the style layers)."""
    step = max(1, len(dataset) // count)
    return torch.stack([dataset[(i, seed + i)][0] for i in range(0, step * count, step)][: len(dataset)])


def _best_val(out: Path, checkpoint: dict[str, Any] | None) -> float:
    """The validation total best.pth must beat: the checkpoint's, or best.pth's own if it was written after the
    checkpoint (a crash between the two), so a resumed run never replaces a better best.pth."""
    if checkpoint is None:
        return math.inf
    best = float(checkpoint.get("best_val", math.inf))
    if (out / "best.pth").is_file():
        with contextlib.suppress(FasttxError, KeyError, TypeError):
            best = min(best, float(load_model(out / "best.pth")[1]["val"]["val_total"]))
    return best


def _centre_crops(paths: list[Path], size: int, limit: int = 8) -> torch.Tensor:
    """Fixed photos for previews and validation: square centre crops at the training size; unreadable photos
    are skipped (with a warning), as in training."""
    crops = []
    for path in paths:
        if len(crops) == limit:
            break
        try:
            img = open_rgb(path)
        except FasttxError as e:
            warnings.warn(f"skipping {e}", stacklevel=2)
            continue
        side = min(img.size)
        left, top = (img.width - side) // 2, (img.height - side) // 2
        crops.append(pil_to_tensor(resize_long_side(img.crop((left, top, left + side, top + side)), size)))
    if not crops:
        raise FasttxError("no readable photos for the preview / validation set")
    return torch.stack(crops)


def batch_styles(
    step: int,
    batch: int,
    styles: int,
    device: torch.device,
    only: int | None = None,
    processes: Processes = Processes(),  # noqa: B008  (frozen: one shared default is safe)
) -> torch.Tensor | None:
    """The style each photo of a batch trains, [batch] (None for a one-style network): the styles in turn across
    photos and steps, so each gets the same number of photos whatever the batch size; style `only` if given.
    Under distributed training `batch` is this process's share of the global batch: the styles are those its
    photos have in the global batch."""
    if only is not None:
        return torch.full((batch,), only, device=device)
    if styles == 1:
        return None
    first = step * batch * processes.world + processes.rank * batch
    return (torch.arange(batch, device=device) + first) % styles


@torch.no_grad()
def _write_preview(net: StyleNet, photos: torch.Tensor, path: Path) -> torch.Tensor:
    """Save photos (top row) over their stylisation in each style (a row each); return the stylised batches,
    [styles, N, 3, H, W]."""
    stylised = torch.stack(
        [
            torch.cat([net(photo.unsqueeze(0), one_style(s, net.styles)) for photo in photos]).float().clamp(0, 1)
            for s in range(net.styles)
        ]
    )
    rows = torch.cat([photos.float()[None], stylised]).flatten(0, 1)
    save_image(make_grid(rows.cpu(), nrow=len(photos), padding=2, pad_value=1.0), path)
    return stylised


@torch.no_grad()
def _validate(
    net: StyleNet,
    objective: PerceptualLoss,
    photos: torch.Tensor,
    cfg: TrainConfig,
    preview: Path,
    new_style: int | None = None,
) -> dict[str, Any]:
    """Held-out content/style distances (unweighted relative errors, averaged over the styles) and their weighted
    sum; per style too for a multi-style network (only the new one's with --add-style); writes a preview."""
    stylised = _write_preview(net, photos, preview)
    targets = objective.content_targets(photos)
    separate = objective.styles > 1
    if new_style is not None:
        stylised = stylised[new_style:]
    per_style = [
        objective.distances(batch, targets, torch.full((len(photos),), s, device=photos.device) if separate else None)
        for s, batch in enumerate(stylised)
    ]
    content = float(torch.stack([d["content"] for d in per_style]).mean())
    styles = [float(d["style"]) for d in per_style]
    style = sum(styles) / len(styles)
    total = cfg.loss.content_weight * content + cfg.loss.style_weight * style
    record: dict[str, Any] = {"val_content": content, "val_style": style, "val_total": total}
    if separate or new_style is not None:
        record["val_style_by_style"] = dict(zip(cfg.style_names[-len(styles) :], styles, strict=True))
    return record


def _model_meta(cfg: TrainConfig, vgg: VGGFeatures) -> dict[str, Any]:
    """What model.pth and best.pth say of their training: shareable, so file names without folders."""
    names = cfg.style_names
    return shareable_meta(
        {
            "style_name": names[0] if len(names) == 1 else "+".join(names),
            **({"styles": names} if cfg.net.styles > 1 else {}),  # the network's styles, in the order of its weights
            "style_sha256": [file_sha256(s) for s in cfg.style],
            "vgg": vgg.weights_source,
            "train_config": cfg.to_dict(),
            "fasttx_version": __version__,
        }
    )


def _format_metrics(m: dict[str, float]) -> str:
    terms = " ".join(f"{k}={m[k]:.3g}" for k in ("content", "style", "tv", "distill", "total") if k in m)
    return f"{terms} {m['images_per_s']:.1f} img/s"


class MetricsLog:
    """train.jsonl: append-only; on resume, lines past the checkpoint's step are dropped so the log stays exact."""

    def __init__(self, path: Path, keep_until: int):
        self.path, self.keep_until = path, keep_until
        self.trimmed = False  # done at the first write: a run that fails before it leaves the old log as it was

    def write(self, record: dict[str, float]) -> None:
        if not self.trimmed and self.path.exists():
            kept = [line for line in self.path.read_text().splitlines() if _step_of(line) <= self.keep_until]
            write_bytes(self.path, "".join(line + "\n" for line in kept).encode())
        self.trimmed = True
        try:
            with self.path.open("a") as f:
                f.write(json.dumps({"time": time.time(), **record}) + "\n")
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise FasttxError(f"disk full while writing {self.path}; the last checkpoint is intact") from e
            raise


def _step_of(line: str) -> float:
    """The step of a train.jsonl line; a line cut short by a hard kill (or blank) counts as past every step."""
    try:
        return float(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return math.inf


class _StopFlag:
    """Ctrl-C or SIGTERM (schedulers, `timeout`, container stops) asks the loop to stop at the end of the current
    step, which then checkpoints; a second Ctrl-C kills. `signal` is the number of the first one (for the exit code)."""

    requested = False
    signal: int = signal.SIGINT

    def __enter__(self) -> _StopFlag:
        self._previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: keep the default behaviour
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested, self.signal = True, signal.Signals(signum)

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def _folder_identity(paths: Sequence[Path], root: str) -> dict[str, Any]:
    """What a run's batches depend on in its dataset: which photos, in order (their paths under the folder)."""
    names = "\n".join(os.path.relpath(p, root) for p in paths)
    return {"count": len(paths), "sha256": hashlib.sha256(names.encode()).hexdigest()}


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _get_rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": list(random.getstate()[1]),
        "numpy": _numpy_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _numpy_state() -> tuple[torch.Tensor, int, int, float]:
    _, keys, pos, has_gauss, cached = np.random.get_state()
    return torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))
    keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
