"""Training a sound model: set-up, then one loop, on the image trainer's parts (checkpoints and exact resume, the
Ctrl-C / SIGTERM flag, train.jsonl, progress, model files).

A run writes into its output folder:
  model.pth        weights + the recipe to rebuild the network (fasttx.modelfile.load_sound_model)
  model.onnx       the same network for onnxruntime, checked against PyTorch (fasttx.sound.export)
  checkpoint.pt    everything needed to continue exactly (resume_sound)
  train.jsonl      one JSON line of metrics every `log_every` steps
  previews/        step_N.png (spectrograms: input over output) and step_N.wav (input, then output) of fixed crops
"""

from __future__ import annotations

import io
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from fasttx.device import pick_device
from fasttx.errors import FasttxError
from fasttx.io import check_output_folder, write_bytes
from fasttx.modelfile import CHECKPOINT_FORMAT, FORMAT_VERSION, load_torch, save_sound_model, save_torch
from fasttx.progress import progress_bar, stderr_console
from fasttx.sound.audio import read_audio, write_wav
from fasttx.sound.config import SoundTrainConfig
from fasttx.sound.data import ClipFolder
from fasttx.sound.loss import sound_objective
from fasttx.sound.net import SoundNet
from fasttx.sound.picture import spectrogram_picture
from fasttx.sound.spectrum import analyse, synthesise
from fasttx.train.loop import TrainResult
from fasttx.train.state import Interrupted, MetricsLog, StopFlag, get_rng_state, seed_everything, set_rng_state
from fasttx.train.state import photos_identity as clips_identity


def train_sound(cfg: SoundTrainConfig, overwrite: bool = False, progress: bool = True) -> TrainResult:
    """Train a sound model from scratch."""
    out = Path(cfg.out)
    check_output_folder(out, [cfg.style, cfg.dataset])
    if not overwrite and (out / "checkpoint.pt").exists():
        raise FasttxError(f"{out} holds a previous run; continue it with resume or start afresh with --overwrite")
    return _loop(cfg, None, progress)


def is_sound_run(path: str | Path) -> bool:
    """Whether the run folder (or checkpoint) `path` holds a sound run."""
    path = Path(path)
    checkpoint = load_torch(path / "checkpoint.pt" if path.is_dir() else path, CHECKPOINT_FORMAT)
    return "spectrum" in checkpoint["config"]


def resume_sound(path: str | Path, steps: int | None = None, progress: bool = True) -> TrainResult:
    """Continue the run in folder `path` exactly where it stopped (only the total `steps` may change)."""
    path = Path(path) if Path(path).is_dir() else Path(path).parent
    checkpoint = load_torch(path / "checkpoint.pt", CHECKPOINT_FORMAT)
    cfg = SoundTrainConfig.from_dict(checkpoint["config"])
    cfg.out, cfg.steps = str(path), steps if steps is not None else cfg.steps
    return _loop(cfg, checkpoint, progress)


def _loop(cfg: SoundTrainConfig, checkpoint: dict[str, Any] | None, progress: bool) -> TrainResult:
    cfg.validate()
    console: Console = stderr_console()
    out, spectrum = Path(cfg.out), cfg.spectrum
    device = pick_device(cfg.device)
    seed_everything(cfg.seed)
    with console.status(f"reading the sounds in {cfg.dataset}") if progress else nullcontext():
        clips = ClipFolder(cfg.dataset, spectrum.rate, cfg.crop_samples)
    identity = clips_identity(clips.paths, cfg.dataset)
    if checkpoint is not None and checkpoint["clips"] != identity:
        raise FasttxError(
            f"the sounds in {cfg.dataset} changed since the checkpoint: the run would not continue exactly"
        )
    style_wave = torch.from_numpy(read_audio(cfg.style, spectrum.rate, mono=True)[0])
    if len(style_wave) < cfg.crop_samples:
        raise FasttxError(f"{cfg.style} is shorter than one training crop ({cfg.crop_samples / spectrum.rate:.2f} s)")
    objective = sound_objective(spectrum, analyse(spectrum, style_wave)[0], cfg).to(device)
    net = SoundNet(cfg.net).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    start = 0
    if checkpoint is not None:
        net.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        set_rng_state(checkpoint["rng"])
        start = int(checkpoint["step"])
    out.mkdir(parents=True, exist_ok=True)
    metrics_log = MetricsLog(out / "train.jsonl", keep_until=start)
    preview = torch.from_numpy(clips.batch(2, cfg.seed, -1)).to(device)  # fixed crops, the same every preview
    meta = {"style": Path(cfg.style).name, "dataset": Path(cfg.dataset).name, "steps": cfg.steps}

    def save_checkpoint(step: int) -> Path:
        state = {"model": net.state_dict(), "optimizer": optimizer.state_dict(), "rng": get_rng_state()}
        record = {"format": CHECKPOINT_FORMAT, "format_version": FORMAT_VERSION, "config": cfg.to_dict()}
        return save_torch({**record, **state, "step": step, "clips": identity}, out / "checkpoint.pt")

    stop, bar = StopFlag(), progress_bar(console, enabled=progress)
    step, window, last = start, time.perf_counter(), {}
    with stop, bar:
        task = bar.add_task("training", total=cfg.steps, completed=start, unit="steps")
        while step < cfg.steps and not stop.requested:
            frames = analyse(spectrum, torch.from_numpy(clips.batch(cfg.batch_size, cfg.seed, step)).to(device))[0]
            terms = objective(net(frames), objective.content_targets(frames))
            optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            optimizer.step()
            step += 1
            if step % cfg.log_every == 0 or step == cfg.steps:
                last = {name: float(value.detach()) for name, value in terms.items()}
                if not np.isfinite(last["total"]):
                    raise FasttxError(f"training diverged by step {step}: the loss became NaN or infinite; lower --lr")
                clips_per_s = cfg.log_every * cfg.batch_size / max(time.perf_counter() - window, 1e-9)
                metrics_log.write({**last, "step": step, "clips_per_s": clips_per_s})
                bar.update(task, metrics=f"style {last['style']:.3f} content {last['content']:.3f}")
                window = time.perf_counter()
            if step % cfg.preview_every == 0 or step == cfg.steps:
                write_preview(net, preview, cfg, out / "previews" / f"step_{step:06d}")
            if step % cfg.checkpoint_every == 0 and step < cfg.steps:
                save_checkpoint(step)
            bar.update(task, completed=step)
    saved = save_checkpoint(step)
    if step < cfg.steps:
        raise Interrupted(saved, step, stop.signal)
    files = [save_sound_model(net.eval(), out / "model.pth", spectrum, meta)]
    if cfg.onnx:
        from fasttx.sound.export import export_sound  # onnx and onnxruntime load only when a run writes model.onnx

        with console.status("writing model.onnx and checking it against PyTorch") if progress else nullcontext():
            files.append(export_sound(files[0], out / "model.onnx", overwrite=True))
    files += [saved, out / "train.jsonl", out / "previews"]
    return TrainResult(out, files[0], step, False, last, 0, files)


@torch.no_grad()
def write_preview(net: SoundNet, waves: torch.Tensor, cfg: SoundTrainConfig, stem: Path) -> None:
    """What a person looks at and listens to: each crop's spectrogram beside its stylisation's as PNG, and each
    crop then its stylisation as WAV."""
    net.eval()
    frames, phase = analyse(cfg.spectrum, waves)
    styled = net(frames)
    net.train()
    panels = [
        (f"{kind} {i + 1}", f[i]) for i in range(len(frames)) for kind, f in (("input", frames), ("output", styled))
    ]
    stem.parent.mkdir(parents=True, exist_ok=True)
    encoded = io.BytesIO()
    spectrogram_picture(cfg.spectrum, panels).save(encoded, format="PNG")
    write_bytes(stem.with_suffix(".png"), encoded.getbuffer())
    sound = synthesise(cfg.spectrum, styled, phase, waves.shape[-1])
    write_wav(
        stem.with_suffix(".wav"), torch.cat([waves, sound], dim=-1).reshape(1, -1).cpu().numpy(), cfg.spectrum.rate
    )
