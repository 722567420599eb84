"""The signal path: a wave to log-magnitude spectrogram frames and back.

A sound model works on log(1 + |STFT|) (bins as channels, frames as time) and changes magnitudes only; the sound
is rebuilt with the input's own phase (one inverse STFT: fast, and the timing of every onset is the input's).
The exported ONNX graph sees the same frames; `Spectrum` is stored in its metadata so any runtime can do the
STFT and the inverse with numpy (docs/sound.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Spectrum:
    """How sound becomes frames: saved with every sound model."""

    rate: int = 22050  # Hz; files are resampled to it on reading
    n_fft: int = 1024  # 46 ms windows (Hann): 513 bins, 21.5 Hz apart
    hop: int = 256  # 11.6 ms between frames

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def frames(self, samples: int) -> int:
        """How many frames `samples` samples make (centred windows)."""
        return samples // self.hop + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def analyse(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[..., samples] -> log-magnitude [..., bins, frames] and the phase (unit complex), for `synthesise`."""
        spec = torch.stft(
            wave.reshape(-1, wave.shape[-1]).float(),
            self.n_fft,
            self.hop,
            window=torch.hann_window(self.n_fft, device=wave.device),
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        magnitude = spec.abs()
        phase = torch.where(magnitude > 0, spec / magnitude.clamp_min(1e-12), torch.ones_like(spec))
        shape = (*wave.shape[:-1], *spec.shape[-2:])
        return torch.log1p(magnitude).reshape(shape), phase.reshape(shape)

    def synthesise(self, log_magnitude: torch.Tensor, phase: torch.Tensor, samples: int) -> torch.Tensor:
        """The wave of `log_magnitude` [..., bins, frames] with `phase`, exactly `samples` long."""
        magnitude = torch.expm1(log_magnitude.float().clamp_min(0))
        spec = (magnitude * phase).reshape(-1, *phase.shape[-2:])
        wave = torch.istft(
            spec,
            self.n_fft,
            self.hop,
            window=torch.hann_window(self.n_fft, device=spec.device),
            center=True,
            length=samples,
        )
        return wave.reshape(*phase.shape[:-2], samples)
