"""The loss network for sound: frozen random 1-D convolutions over log-magnitude frames (Ulyanov & Lebedev 2016;
Grinstein et al. 2018 found such random shallow networks as good as trained ones for audio style).

Each width is one time scale (3, 9 and 27 frames: 35, 100 and 300 ms at the default hop); the filters span all
bins, so their Gram matrices hold which spectral shapes occur together: timbre and texture, not the order of
events. Nothing is trained or stored: the filters are drawn from a seed, kept in the recipe. A second encoder with
another seed and other widths judges models (fasttx.sound.evaluate), so the score is not the training objective.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class RandomEncoder(nn.Module):
    def __init__(self, bins: int, widths: tuple[int, ...] = (3, 9, 27), channels: int = 512, seed: int = 0) -> None:
        super().__init__()
        draws = torch.Generator().manual_seed(seed)
        self.widths = widths
        for width in widths:  # He-scaled normal filters, drawn on the CPU so every machine draws the same
            weight = torch.randn(channels, bins, width, generator=draws) * math.sqrt(2.0 / (bins * width))
            self.register_buffer(f"w{width}", weight)

    def forward(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        """[N, bins, T] -> {'w3': [N, channels, T], ...}: the rectified responses at each width."""
        return {
            f"w{width}": F.relu(F.conv1d(frames, getattr(self, f"w{width}").to(frames.dtype), padding=width // 2))
            for width in self.widths
        }
