"""InstanceNorm statistics taken from elsewhere than the feature map itself: the whole image, or the clip so far.

A style network normalises every feature map by its own per-channel mean and variance. That is what makes it
work on any photo, and what goes wrong in two places: tiles of one image each get their own statistics (seams;
fasttx.runtime.tiling gives them the whole image's), and the frames of a video each get their own, so colours
and contrast pulse from frame to frame when noise, compression or motion nudge them (`clip_statistics` makes
each frame use a running average over the frames so far). Both work by forward hooks on every nn.InstanceNorm2d
(the conditional norms of multi-style networks hold a plain one), so they run on the PyTorch backend.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator

import torch
from torch import nn

Statistics = tuple[torch.Tensor, torch.Tensor]  # per-channel mean and variance, [N, C, 1, 1]
DEFAULT_MOMENTUM = 0.9  # clip_statistics: the weight of the frames before; ~10 frames' memory (a third of a second)


def statistics(x: torch.Tensor) -> Statistics:
    x = x.float()
    return x.mean(dim=(2, 3), keepdim=True), x.var(dim=(2, 3), unbiased=False, keepdim=True)


def instance_norm_statistics(
    net: nn.Module, image: torch.Tensor, style: torch.Tensor | None = None
) -> list[Statistics]:
    """Per-layer (mean, variance) of every InstanceNorm2d's input for `image` [1, 3, h, w], in call order."""
    stats: list[Statistics] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        stats.append(statistics(inputs[0]))

    with _hooks(net, record), torch.inference_mode():
        net(image, style)
    return stats


@contextlib.contextmanager
def use_statistics(net: nn.Module, stats: list[Statistics]) -> Iterator[None]:
    """Make every InstanceNorm2d normalise with the given statistics (in call order) instead of its input's."""
    calls = itertools.count()
    with _hooks(net, lambda module, inputs, output: _normalise(module, inputs[0], stats[next(calls) % len(stats)])):
        yield


@contextlib.contextmanager
def clip_statistics(net: nn.Module, momentum: float = DEFAULT_MOMENTUM) -> Iterator[None]:
    """Within the block, successive frames (across calls, and in order within a batch) share statistics: each
    layer normalises frame t with m_t = momentum * m_(t-1) + (1 - momentum) * (frame t's own), the same for the
    variance, starting from the first frame's own. Flow-free: a pan or a zoom changes the statistics slowly, so
    they follow it; noise and compression change them from frame to frame, and the average smooths that away.
    One block per clip: leaving it forgets the clip."""
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    running: dict[nn.Module, Statistics] = {}

    def normalise(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor:
        mean, var = statistics(inputs[0])
        means, variances = [], []
        previous = running.get(module)
        for frame_mean, frame_var in zip(mean, var, strict=True):
            if previous is not None:
                frame_mean = momentum * previous[0] + (1 - momentum) * frame_mean
                frame_var = momentum * previous[1] + (1 - momentum) * frame_var
            previous = (frame_mean, frame_var)
            means.append(frame_mean)
            variances.append(frame_var)
        assert previous is not None
        running[module] = previous
        return _normalise(module, inputs[0], (torch.stack(means), torch.stack(variances))).to(output.dtype)

    with _hooks(net, normalise):
        yield


def _normalise(module: nn.Module, x: torch.Tensor, stats: Statistics) -> torch.Tensor:
    assert isinstance(module, nn.InstanceNorm2d)
    mean, var = stats
    y = (x.float() - mean) * torch.rsqrt(var + module.eps)
    if module.affine:
        y = y * module.weight[:, None, None] + module.bias[:, None, None]
    return y.to(x.dtype)


@contextlib.contextmanager
def _hooks(net: nn.Module, hook: Callable[..., torch.Tensor | None]) -> Iterator[None]:
    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
