"""InstanceNorm statistics taken from the whole image instead of each tile (fasttx.runtime.tiling).

A style network normalises every feature map by its own per-channel mean and variance. Tiles of one image would
each get their own statistics, which shows as seams; these hooks on every nn.InstanceNorm2d (the conditional norms
of multi-style networks hold a plain one) give them the whole image's, so tiling runs on the PyTorch backend.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator

import torch
from torch import nn

Statistics = tuple[torch.Tensor, torch.Tensor]  # per-channel mean and variance, [N, C, 1, 1]


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
