"""Training a style network: the loop, checkpoints and resume, previews, metrics.

Read top to bottom: config, set-up, the loop, the side outputs. A run writes into its output folder:
  model.pth        weights + the recipe to rebuild the net (fasttx.modelfile.load_model)
  model.onnx       the same network for onnxruntime, checked against PyTorch (fasttx.export)
  checkpoint.pt    everything needed to continue exactly where it stopped (fasttx resume)
  train.jsonl      one JSON line of metrics every `log_every` steps
  previews/        grids of fixed photos (top) and their stylisation (bottom) every `preview_every` steps
"""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch.nn import functional as F
from torch.profiler import record_function

from fasttx import distributed
from fasttx.config import TrainConfig, style_long_side
from fasttx.data import PhotoFolder, SkipReport, photo_batches
from fasttx.device import amp_dtype, autocast, pick_device
from fasttx.errors import FasttxError
from fasttx.io import check_output_folder, find_images
from fasttx.losses import PerceptualLoss
from fasttx.modelfile import CHECKPOINT_FORMAT, FORMAT_VERSION, load_model, load_torch, save_model, save_torch
from fasttx.nets.transformer import build_net
from fasttx.nets.vgg import VGGFeatures, default_weights_source
from fasttx.progress import progress_bar, stderr_console
from fasttx.train.content_target import ContentTarget, content_scales
from fasttx.train.optimizer import build_optimizer, lr_at, moving_average
from fasttx.train.outputs import (
    SetupStatus,
    batch_styles,
    centre_crops,
    format_metrics,
    model_meta,
    validate,
    write_preview,
)
from fasttx.train.start import initial_network, load_style
from fasttx.train.state import (
    Interrupted,
    MetricsLog,
    StopFlag,
    best_val_to_beat,
    get_rng_state,
    photos_identity,
    seed_everything,
    set_rng_state,
)


@dataclass
class TrainResult:
    out: Path
    model: Path
    steps: int
    interrupted: bool
    last_metrics: dict[str, float]
    skipped_files: int
    files: list[Path] = field(default_factory=list)  # everything the run wrote, for the closing summary
    content_distance: float | None = None  # the training photos' (followed by the content target), at the end


def train(
    cfg: TrainConfig, overwrite: bool = False, progress: bool = True, console: Console | None = None
) -> TrainResult:
    """Train `cfg.net` on `cfg.dataset` for the style(s) in `cfg.style`, from scratch.

    A folder that holds a previous run is only started afresh with `overwrite` (else: `resume` it).
    """
    out = Path(cfg.out)
    init = cfg.init if cfg.init not in ("base", "scratch") else None
    check_output_folder(out, [*cfg.style, cfg.dataset, cfg.val, cfg.teacher, cfg.add_to, init])
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
    with contextlib.ExitStack() as stack:
        try:
            return _loop(cfg, checkpoint, progress, console or stderr_console(), stack)
        finally:
            distributed.stop()


def _loop(
    cfg: TrainConfig, checkpoint: dict[str, Any] | None, progress: bool, console: Console, stack: contextlib.ExitStack
) -> TrainResult:
    cfg.validate()
    for path in cfg.style:
        if not Path(path).is_file():
            raise FasttxError(f"no such style image: {path}")
    out = Path(cfg.out)
    processes, device = distributed.start(pick_device(cfg.device))
    local_batch = distributed.local_batch(cfg.batch_size, processes)
    main = processes.main  # the one process that writes files and prints progress
    dtype = amp_dtype(device, cfg.amp)
    checkpoint_path = out / "checkpoint.pt"
    seed_everything(cfg.seed)
    # a status line through the set-up (a minute on a CPU before the first step), in plain words
    setup = stack.enter_context(SetupStatus(console, enabled=progress and main))
    say = setup.say

    dataset = PhotoFolder(cfg.dataset, cfg.image_size)
    photos = photos_identity(dataset.paths, cfg.dataset)
    if checkpoint is not None and checkpoint["photos"] != photos:
        raise FasttxError(
            f"the photos in {cfg.dataset} changed since the checkpoint ({checkpoint['photos']['count']} then, "
            f"{photos['count']} now): the run would not continue exactly; restore them, or start afresh with "
            "train --overwrite"
        )
    # fixed once, in steps, and saved so: a resumed run keeps its length if the folder changes
    cfg.steps = total = cfg.total_steps(len(dataset))
    say(f"loading the loss network ({cfg.vgg_arch}, {cfg.vgg_weights or default_weights_source()} weights)")
    vgg = VGGFeatures(cfg.loss.layers, arch=cfg.vgg_arch, weights=cfg.vgg_weights or default_weights_source())
    say("measuring the painting's statistics")
    styles = [load_style(path, style_long_side(cfg.loss.style_size, cfg.image_size)) for path in cfg.style]
    new_style = cfg.net.styles - 1 if cfg.add_to else None  # --add-style: the one style that trains
    objective = PerceptualLoss(vgg, styles, cfg.loss, separate=cfg.net.styles > 1 and new_style is None).to(device)
    # under torchrun every process starts from process 0's weights: DistributedDataParallel broadcasts them
    if checkpoint is not None:
        net = build_net(cfg.net)
    else:
        say("choosing where the network starts")
        net, cfg.started_from = initial_network(cfg, objective, dataset)
        if main and cfg.started_from:
            names = cfg.style_names if cfg.net.styles > 1 else ["+".join(cfg.style_names)]  # --blend: one style
            source = "the network fasttx ships" if cfg.init == "base" else Path(cfg.init).name
            starts = ", ".join(
                f"{name} from its {start} style" if start != "mean" else f"{name} from the mean of its styles"
                for name, start in zip(names, cfg.started_from, strict=True)
            )
            console.print(f"starting from {source} (the nearest to each painting): {starts}")
    if cfg.image_size < net.min_size:
        raise FasttxError(f"--image-size {cfg.image_size} is below the {cfg.net.arch} network's {net.min_size} px")
    net = net.to(device)
    teacher = load_model(cfg.teacher)[0].to(device).requires_grad_(False) if cfg.teacher else None
    optimizer = build_optimizer(net, cfg, new_style)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
        objective = objective.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    average = moving_average(net, cfg.ema)
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
        set_rng_state(checkpoint["rng"])
        start = int(checkpoint["step"])
    if main:
        out.mkdir(parents=True, exist_ok=True)
    metrics_log = MetricsLog(out / "train.jsonl", keep_until=start) if main else None
    val_paths = find_images(cfg.val) if cfg.val else []
    previews = centre_crops(val_paths or dataset.paths, cfg.image_size, 4).to(device)  # held-out photos show most
    val_photos = centre_crops(val_paths, cfg.image_size, limit=16).to(device) if val_paths else None
    best_val = best_val_to_beat(out, checkpoint)
    meta = model_meta(cfg, vgg)
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
                "rng": get_rng_state(),
                "best_val": best_val,
                "photos": photos,
            },
            checkpoint_path,
        )

    finite = torch.ones((), dtype=torch.bool, device=device)  # every loss so far finite (read back only to check)

    def check_finite(step: int) -> None:
        """Stop a run whose loss or weights became NaN or infinite, before it replaces a good checkpoint or writes a
        model of NaNs (a rate far too high, say)."""
        weights = torch.stack([torch.isfinite(p).all() for p in net.parameters()]).all()
        if not bool(finite & weights):  # one read back of the device, at log steps and checkpoints only
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
    stop = StopFlag()
    last: dict[str, float] = {}
    step = start
    window_start, window_images = time.perf_counter(), 0
    setup.done()
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
                group["lr"] = lr_at(cfg, step) * group["lr_scale"]
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
                    last.update(content_scales(content_target, cfg))
                last.update(step=step, lr=lr_at(cfg, step - 1), images_per_s=window_images / max(elapsed, 1e-9))
                if metrics_log is not None:
                    metrics_log.write(last)
                bar.update(task, metrics=format_metrics(last))
                window_start, window_images = time.perf_counter(), 0
            if main and (step % cfg.preview_every == 0 or step == total):
                write_preview(average.module, previews, out / "previews" / f"step_{step:06d}.jpg")
            if metrics_log is not None and val_photos is not None and (step % cfg.val_every == 0 or step == total):
                record = validate(
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
    files = [model_path]
    if cfg.onnx:
        from fasttx.export import export_onnx  # onnx and onnxruntime load only when a run writes model.onnx

        with (
            console.status("writing model.onnx and checking it against PyTorch")
            if progress
            else contextlib.nullcontext()
        ):
            files.append(export_onnx(average.module, out / "model.onnx", meta=final_meta, overwrite=True).path)
    files += [checkpoint_path, out / "train.jsonl", out / "previews"] + [out / "best.pth"] * (val_photos is not None)
    distances = content_target.averages[~content_target.averages.isnan()]
    distance = float(distances.mean()) if len(distances) else None
    return TrainResult(out, model_path, step, False, last, skips.count, files, distance)
