"""Measuring sound models, and the reference they are measured against.

`evaluate_sounds`: content and style distances of a model's outputs on held-out sounds, next to the unstyled input's
(content 0, style: how far the sound already is from the style clip), judged by encoders the model was not trained
with (another seed, other widths), so the score is not the training objective. With `vs_optimize`, each sound is
also optimised directly on the training objective (`optimize_frames`, the per-clip method every published audio
style transfer uses): the ceiling a feed-forward model is compared with.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fasttx.config import check_strength
from fasttx.errors import FasttxError
from fasttx.io import check_output
from fasttx.sound.audio import find_sounds, read_audio, resample, sound_rate, write_wav
from fasttx.sound.config import Spectrum
from fasttx.sound.loss import SoundLoss, sound_objective
from fasttx.sound.spectrum import analyse, synthesise
from fasttx.sound.stylize import SoundModel

OPTIMIZE_STEPS, OPTIMIZE_LR = 200, 0.05  # Adam on the log-magnitudes: the training objective has levelled by then


def _frames(path: str | os.PathLike[str], spectrum: Spectrum) -> torch.Tensor:
    """A sound file's log-magnitudes [bins, T], mono at the spectrum's rate."""
    return analyse(spectrum, torch.from_numpy(read_audio(path, spectrum.rate, mono=True)[0]))[0]


def optimize_frames(
    frames: torch.Tensor,
    loss: SoundLoss,
    steps: int = OPTIMIZE_STEPS,
    lr: float = OPTIMIZE_LR,
    on_step: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Log-magnitudes [bins, T] optimised from `frames` on `loss` by Adam (per-clip style transfer)."""
    content = loss.content_targets(frames[None])
    x = frames[None].clone().requires_grad_(True)
    adam = torch.optim.Adam([x], lr=lr)
    for step in range(steps):
        total = loss(x.clamp_min(0), content)["total"]
        adam.zero_grad(set_to_none=True)
        total.backward()
        adam.step()
        if on_step is not None:
            on_step(step + 1)
    return x.detach().clamp_min(0)[0]


def optimize_sound(
    content: str | os.PathLike[str],
    style: str | os.PathLike[str],
    output: str | os.PathLike[str],
    steps: int = OPTIMIZE_STEPS,
    lr: float = OPTIMIZE_LR,
    overwrite: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> Path:
    """Stylise one sound by optimising its spectrogram on the training objective (mono, the content's rate and
    length), written as a WAV."""
    output = Path(output)
    if output.suffix.lower() != ".wav":
        raise FasttxError(f"-o {output}: stylised sound is written as a .wav file")
    if steps < 1 or not np.isfinite(lr) or lr <= 0:
        raise FasttxError(f"--steps must be 1 or more and --lr above 0 (got {steps}, {lr})")
    check_output(output, overwrite, [content, style])
    spectrum, rate = Spectrum(), sound_rate(content)
    native = read_audio(content, rate, mono=True)
    wave = torch.from_numpy(resample(native, rate, spectrum.rate, round(native.shape[1] * spectrum.rate / rate)))
    frames, phase = analyse(spectrum, wave[0])
    style_frames = _frames(style, spectrum)
    styled = optimize_frames(frames, sound_objective(spectrum, style_frames), steps, lr, on_step)
    sound = synthesise(spectrum, styled, phase, wave.shape[1]).numpy()[None]
    return write_wav(output, resample(sound, spectrum.rate, rate, native.shape[1]), rate)


@dataclass
class SoundScores:
    """One sound's distances: the input's own style distance, the model's output's content and style distances,
    and the optimised reference's where asked."""

    sound: str
    input_style: float
    content: float
    style: float
    optimized: dict[str, float] = field(default_factory=dict)


def evaluate_sounds(
    model: str | os.PathLike[str],
    style: str | os.PathLike[str],
    sounds: str | os.PathLike[str],
    strength: float = 1.0,
    vs_optimize: int = 0,
    on_sound: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The model's outputs on `sounds` (a file or a folder), scored by the judges; means over the sounds."""
    check_strength(strength)
    session = SoundModel(model, "cpu")
    spectrum = session.spectrum
    paths = find_sounds(sounds)
    if not paths:
        raise FasttxError(f"no sound files in {sounds}")
    style_frames = _frames(style, spectrum)
    judge = sound_objective(spectrum, style_frames, judge=True)
    training = sound_objective(spectrum, style_frames) if vs_optimize else None
    rows = []
    for path in paths:
        if on_sound is not None:
            on_sound(path.name)
        frames = _frames(path, spectrum)
        styled = frames + strength * (session(frames[None])[0] - frames)
        with torch.no_grad():
            reference = judge.content_targets(frames[None])
            _, input_style = judge.distances(frames[None], reference)
            content, style_d = judge.distances(styled[None], reference)
        row = SoundScores(path.name, float(input_style), float(content), float(style_d))
        if training is not None:
            optimized = optimize_frames(frames, training, vs_optimize)
            with torch.no_grad():
                oc, os_ = judge.distances(optimized[None], reference)
            row.optimized = {"content": float(oc), "style": float(os_)}
        rows.append(row)
    keys = ("input_style", "content", "style")
    means: dict[str, Any] = {k: float(np.mean([getattr(r, k) for r in rows])) for k in keys}
    if vs_optimize:
        means["optimized"] = {k: float(np.mean([r.optimized[k] for r in rows])) for k in ("content", "style")}
    rows_ = [asdict(r) for r in rows]
    return {"model": Path(model).name, "style": Path(style).name, "strength": strength, "rows": rows_, "means": means}
