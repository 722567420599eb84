"""The signal path: a wave to log-magnitude spectrogram frames and back.

A sound model works on log(1 + |STFT|) (bins as channels, frames as time) and changes magnitudes only; the sound
is rebuilt with the input's own phase (one inverse STFT: fast, and the timing of every onset is the input's). New
magnitudes and the old phase need not fit together, so what is heard drifts from what the model made; Griffin-Lim
rounds started from the input's phase bring them together, at one STFT and its inverse a round
(bench/sound_phase.py measures both).
The exported ONNX graph sees the same frames; the Spectrum (fasttx.sound.config) is in its metadata, so any
runtime can do the STFT and its inverse with numpy.
"""

from __future__ import annotations

import torch

from fasttx.sound.config import Spectrum


def analyse(spectrum: Spectrum, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[..., samples] -> log-magnitude [..., bins, frames] and the phase (unit complex), for `synthesise`."""
    spec = _forward(spectrum, wave)
    magnitude = spec.abs()
    return torch.log1p(magnitude), _phase(spec, magnitude)


def synthesise(
    spectrum: Spectrum, log_magnitude: torch.Tensor, phase: torch.Tensor, samples: int, rounds: int = 0
) -> torch.Tensor:
    """The wave of `log_magnitude` [..., bins, frames] with `phase`, exactly `samples` long; with `rounds`, the
    phase first refined by that many rounds of Griffin-Lim (keep the phase of the STFT of the inverse STFT)."""
    magnitude = torch.expm1(log_magnitude.float().clamp_min(0))
    for _ in range(rounds):
        spec = _forward(spectrum, _inverse(spectrum, magnitude, phase, samples))
        phase = _phase(spec, spec.abs())
    return _inverse(spectrum, magnitude, phase, samples)


def _forward(spectrum: Spectrum, wave: torch.Tensor) -> torch.Tensor:
    spec = torch.stft(
        wave.reshape(-1, wave.shape[-1]).float(),
        spectrum.n_fft,
        spectrum.hop,
        window=torch.hann_window(spectrum.n_fft, device=wave.device),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    return spec.reshape(*wave.shape[:-1], *spec.shape[-2:])


def _phase(spec: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    return torch.where(magnitude > 0, spec / magnitude.clamp_min(1e-12), torch.ones_like(spec))


def _inverse(spectrum: Spectrum, magnitude: torch.Tensor, phase: torch.Tensor, samples: int) -> torch.Tensor:
    spec = (magnitude * phase).reshape(-1, *phase.shape[-2:])
    wave = torch.istft(
        spec,
        spectrum.n_fft,
        spectrum.hop,
        window=torch.hann_window(spectrum.n_fft, device=spec.device),
        center=True,
        length=samples,
    )
    return wave.reshape(*phase.shape[:-2], samples)
