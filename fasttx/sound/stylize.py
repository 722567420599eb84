"""Stylising sound: a file in, a WAV of the same length and sample rate out, through a model.pth (PyTorch) or an
exported model.onnx (onnxruntime).

Long recordings go through in pieces of CHUNK_SECONDS that overlap by OVERLAP_SECONDS and are cross-faded
linearly there: memory stays bounded whatever the length, and each piece's edges (where its STFT and its instance
norms see only part of the sound) are faded out under its neighbour's middle, so no seam is heard. Each channel
is stylised on its own. The model works at its own rate (22 050 Hz by default): the result is resampled back to
the input's rate, so what lay above half the model's rate is not in it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fasttx.config import check_strength
from fasttx.errors import FasttxError
from fasttx.io import check_output
from fasttx.runtime.session import load_onnx_session
from fasttx.sound.audio import read_audio, resample, sound_rate, write_wav
from fasttx.sound.config import Spectrum
from fasttx.sound.net import MIN_FRAMES
from fasttx.sound.spectrum import analyse, synthesise

CHUNK_SECONDS = 60.0
OVERLAP_SECONDS = 2.0
MAX_ROUNDS = 1000  # Griffin-Lim rounds: each costs one STFT and its inverse


class SoundModel:
    """A sound network on PyTorch or onnxruntime: log-magnitude frames [N, bins, T] in, the same shape out."""

    def __init__(self, path: str | os.PathLike[str], device: str = "auto") -> None:
        path = Path(path)
        if path.suffix.lower() == ".onnx":
            self.session, meta = load_onnx_session(path, device)
            if meta.get("kind") != "sound":
                raise FasttxError(f"{path} is an image model, not a sound model")
            self.spectrum, self.net = Spectrum(**meta["spectrum"]), None
        else:
            from fasttx.modelfile import load_sound_model

            self.net, self.spectrum, meta = load_sound_model(path)
        self.meta: dict[str, Any] = meta

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        short = MIN_FRAMES - frames.shape[-1]
        padded = torch.nn.functional.pad(frames, (0, short), mode="replicate") if short > 0 else frames
        if self.net is not None:
            with torch.no_grad():
                out = self.net(padded)
        else:
            out = torch.from_numpy(self.session.run(None, {"log_magnitude": padded.numpy()})[0])
        return out[..., : frames.shape[-1]]


def stylize_wave(
    model: SoundModel, wave: np.ndarray, strength: float = 1.0, chunk: float = CHUNK_SECONDS, rounds: int = 0
) -> np.ndarray:
    """[channels, n] at the model's rate -> its stylisation, [channels, n], piece by overlapping piece; `rounds` of
    Griffin-Lim refine the input's phase (fasttx.sound.spectrum)."""
    spectrum = model.spectrum
    size = max(int(chunk * spectrum.rate), 4 * spectrum.n_fft)
    overlap = min(int(OVERLAP_SECONDS * spectrum.rate), size // 4)
    out = np.zeros_like(wave)
    start, n = 0, wave.shape[1]
    while True:
        end = min(start + size, n)
        piece = torch.from_numpy(wave[:, start:end])
        frames, phase = analyse(spectrum, piece)
        styled = frames + strength * (model(frames) - frames)
        sound = synthesise(spectrum, styled, phase, end - start, rounds).numpy()
        if start > 0:  # fade this piece in over the overlap, the previous one out
            ramp = np.linspace(0.0, 1.0, overlap, dtype=np.float32)
            sound[:, :overlap] = ramp * sound[:, :overlap] + (1 - ramp) * out[:, start : start + overlap]
        out[:, start:end] = sound
        if end == n:
            return out
        start = end - overlap


def stylize_sound(
    model: SoundModel,
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    strength: float = 1.0,
    overwrite: bool = False,
    rounds: int = 0,
) -> Path:
    """Stylise the sound of `source` (any file FFmpeg reads, a video's soundtrack too) into the WAV `output`: the
    same number of samples at the same rate."""
    check_strength(strength)
    if not 0 <= rounds <= MAX_ROUNDS:
        raise FasttxError(f"--griffin-lim must be 0 to {MAX_ROUNDS} rounds (got {rounds})")
    output = Path(output)
    if output.suffix.lower() != ".wav":
        raise FasttxError(f"-o {output}: stylised sound is written as a .wav file")
    check_output(output, overwrite, [source])
    rate, source_rate = model.spectrum.rate, sound_rate(source)
    native = read_audio(source, source_rate)
    wave = resample(native, source_rate, rate, round(native.shape[1] * rate / source_rate))
    styled = stylize_wave(model, wave, strength, rounds=rounds)
    return write_wav(output, resample(styled, rate, source_rate, native.shape[1]), source_rate)
