"""The loss networks for sound: frozen random 1-D convolutions over time (Ulyanov & Lebedev 2016; Grinstein et al.
2018 found such random shallow networks as good as trained ones for audio style). Nothing is trained or stored:
the filters are drawn from a seed kept in the recipe, on the CPU, so every machine draws the same.

Two views of the frames:
- `RandomEncoder` sees every bin: what is played (pitch, rhythm). The content term compares its features.
- `TimbreEncoder` sees the spectral envelope only: MFCC-like coefficients 1-13 of a 40-band mel spectrum (no c0,
  the level; nothing above order 13, the harmonics' ripple, which is the pitch). Its Gram matrices say which
  envelopes occur together over 35, 100 and 300 ms: the instrument's timbre and texture, not the notes or how loud.
  The style term compares them. Measured on Bach melodies rendered on several instruments (bench/sound_data.py):
  the style distance to a cello clip is 2.70x larger for the piano render of a held-out melody than for its cello
  render (every bin seen, as RandomEncoder does: 1.76x; 128 bands, order 30: 2.57x but a 12 % pitch shift of a
  tone then moves it more than a change of its brightness; Gram divided by its trace: 1.1x).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from fasttx.sound.config import Spectrum


class RandomEncoder(nn.Module):
    """Rectified random convolutions of `channels` filters per width over [N, inputs, T]."""

    def __init__(self, inputs: int, widths: tuple[int, ...] = (3, 9, 27), channels: int = 512, seed: int = 0) -> None:
        super().__init__()
        draws = torch.Generator().manual_seed(seed)
        self.widths = widths
        for width in widths:  # He-scaled normal filters
            weight = torch.randn(channels, inputs, width, generator=draws) * math.sqrt(2.0 / (inputs * width))
            self.register_buffer(f"w{width}", weight)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """[N, inputs, T] -> {'w3': [N, channels, T], ...}: the rectified responses at each width."""
        return {
            f"w{width}": F.relu(F.conv1d(x, getattr(self, f"w{width}").to(x.dtype), padding=width // 2))
            for width in self.widths
        }


class TimbreEncoder(RandomEncoder):
    """RandomEncoder over cepstral coefficients 1..`order` of a `mels`-band mel spectrum of the frames."""

    def __init__(
        self,
        spectrum: Spectrum,
        widths: tuple[int, ...] = (3, 9, 27),
        channels: int = 256,
        seed: int = 0,
        mels: int = 40,
        order: int = 13,
    ) -> None:
        super().__init__(order, widths, channels, seed)
        band = np.arange(mels)
        dct = np.cos(np.pi * np.arange(1, order + 1)[:, None] * (band + 0.5) / mels) * math.sqrt(2 / mels)
        self.register_buffer("projection", torch.from_numpy((dct @ mel_filters(spectrum, mels)).astype(np.float32)))

    def forward(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        return super().forward(torch.einsum("cb,nbt->nct", self.projection.to(frames.dtype), frames))


def mel_filters(spectrum: Spectrum, mels: int) -> np.ndarray:
    """[mels, bins] triangular filters evenly spaced on the mel scale (HTK's formula) from 0 Hz to Nyquist, each
    averaging the log-magnitudes under it (rows sum to 1)."""

    def mel(hz: np.ndarray) -> np.ndarray:
        return 2595 * np.log10(1 + hz / 700)

    freqs = np.linspace(0, spectrum.rate / 2, spectrum.bins)
    edges = 700 * (10 ** (np.linspace(0, mel(np.array(spectrum.rate / 2)), mels + 2) / 2595) - 1)
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    filters = np.maximum(0, np.minimum((freqs - low) / (centre - low), (high - freqs) / (high - centre)))
    nearest = np.abs(freqs[None] - centre).argmin(axis=1)  # a band narrower than a bin takes the nearest bin
    filters[np.arange(mels), nearest] = np.maximum(filters[np.arange(mels), nearest], 1e-3)
    return filters / filters.sum(axis=1, keepdims=True)
