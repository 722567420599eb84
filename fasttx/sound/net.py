"""The sound network: a 1-D convolutional residual network over spectrogram frames (bins as channels, time as the
one axis), predicting an additive edit of the log-magnitudes, so an untrained network is the identity.

Dilated residual blocks (1, 2, 4, 8, 1 frames apart) see about 0.75 s before each frame, enough for a note's attack
and decay, and nothing after it: causal convolutions put nothing of a note ahead of its onset (the two-sided network
smeared a haze ahead of each note; docs/sound.md has both measured). Instance norm over the whole sound makes the
edit independent of the recording's level, silence included: ungated, a model trained on sound (never on silence)
raised a quiet passage at -80 dBFS to a -50 dBFS band of noise. So the edit is faded out where the frame's loudest
bin falls from SILENCE_DB[1] to SILENCE_DB[0] below a full-scale sine's: silence stays silent, and everything one
can hear clearly is edited in full. Any number of frames (at least MIN_FRAMES) goes in; the same number comes out.
"""

from __future__ import annotations

import torch
from torch import nn

from fasttx.sound.config import SoundNetConfig

MIN_FRAMES = 16  # 0.19 s: over fewer frames instance norm divides by a variance of almost nothing (onnxruntime and
# PyTorch then differ by 0.05 at 2 frames); fasttx.sound.stylize pads shorter sounds by repeating their last frame
SILENCE_DB = (-70.0, -50.0)  # dB below a full-scale sine's peak bin: no edit at the first, all of it from the 2nd


def _causal(width_in: int, width_out: int, dilation: int) -> nn.Sequential:
    """A 3-tap convolution over this frame and earlier ones only: a note reaches no frame before it through it."""
    return nn.Sequential(nn.ConstantPad1d((2 * dilation, 0), 0.0), nn.Conv1d(width_in, width_out, 3, dilation=dilation))


class _Block(nn.Module):
    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _causal(width, width, dilation),
            nn.InstanceNorm1d(width, affine=True),
            nn.ReLU(),
            _causal(width, width, dilation),
            nn.InstanceNorm1d(width, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SoundNet(nn.Module):
    """[N, bins, frames] log-magnitudes -> the stylised log-magnitudes, same shape, never below 0."""

    def __init__(self, config: SoundNetConfig) -> None:
        super().__init__()
        self.config = config
        self.inp = nn.Sequential(
            _causal(config.bins, config.width, 1),
            nn.InstanceNorm1d(config.width, affine=True),
            nn.ReLU(),
        )
        self.blocks = nn.Sequential(*(_Block(config.width, d) for d in config.dilations))
        self.head = nn.Conv1d(config.width, config.bins, 1)
        nn.init.zeros_(self.head.weight)  # exactly the identity at the start; the body learns from the 2nd step
        nn.init.zeros_(self.head.bias)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        edit = self.head(self.blocks(self.inp(frames)))
        return (frames + audible(frames, self.config.bins) * edit).clamp_min(0.0)


def audible(frames: torch.Tensor, bins: int) -> torch.Tensor:
    """[N, bins, T] log-magnitudes -> [N, 1, T] in [0, 1]: 0 for a frame whose loudest bin is at or below
    SILENCE_DB[0], 1 from SILENCE_DB[1], linear in dB between."""
    full_scale = (bins - 1) / 2  # a sine of amplitude 1 under a Hann window of 2 (bins - 1) samples: its peak bin
    peak = torch.expm1(frames.amax(dim=1, keepdim=True)).clamp_min(1e-12) / full_scale
    decibels = 20 * torch.log10(peak)
    low, high = SILENCE_DB
    return ((decibels - low) / (high - low)).clamp(0.0, 1.0)
