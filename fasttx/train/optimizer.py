"""How the weights move: the parameter groups (Muon for the hidden convolutions, the head's own rate), the
learning-rate warm-up and the moving average that is saved."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.optim.swa_utils import AveragedModel

from fasttx.config import TrainConfig
from fasttx.nets.transformer import StyleNet, train_only_style
from fasttx.optim import MuonAdam, hidden_convs


def param_groups(net: StyleNet, head_lr: float | None, muon_scale: float = 0.0) -> list[dict[str, Any]]:
    """The output conv's weights in a group of their own, with a rate scaled down by their fan-in.

    Adam moves every weight by about lr per step whatever its gradient, so a conv's output moves by about
    lr x fan-in per step when its inputs agree. Every other conv is followed by an instance norm, which undoes
    such a change of scale; the output conv is not: Johnson's 9x9x32 head (fan-in 2592) would swing the edit by
    ~2.6 per step at lr 1e-3 and saturate the image within a few steps (the early blow-ups in the training logs).
    1/sqrt(fan-in / 16) keeps the 1x1 heads of the compact nets (fan-in 16) at the full rate. The head's bias
    moves the edit by lr per step, like any other parameter, and keeps the full rate: scaled, a global change of
    brightness or colour (Starry Night is darker and bluer than every photo) took thousands of steps.
    With `muon_scale` > 0 the hidden convs (fasttx.optim.hidden_convs) are a third group, for Muon, at
    lr x muon_scale.
    """
    head = net.body.head
    if head_lr is None:
        head_lr = min(1.0, 1.0 / math.sqrt(head.weight[0].numel() / 16))
    hidden = hidden_convs(net, head.weight) if muon_scale > 0 else []
    apart = {id(p) for p in hidden} | ({id(head.weight)} if head_lr != 1.0 else set())
    # head_lr 1: the head in the first group, as in checkpoints saved before it had its own rate
    groups = [{"params": [p for p in net.parameters() if id(p) not in apart], "lr_scale": 1.0, "kind": "adam"}]
    if head_lr != 1.0:
        groups.append({"params": [head.weight], "lr_scale": head_lr, "kind": "adam"})
    if hidden:
        groups.append({"params": hidden, "lr_scale": muon_scale, "kind": "muon"})
    return groups


def moving_average(net: StyleNet, decay: float) -> AveragedModel:
    """An exponential moving average of `net`'s weights: what previews, validation and the saved model use.

    With batches of 4 photos each step pulls the network towards those photos, so the weights wander around the
    solution (held-out distances jump by +-0.3 between checks 20 steps apart); their average is the solution. The
    decay ramps up as min(decay, (1 + n) / (10 + n)) after n updates, so the average spans the last ~10 % of a
    short run and 1 / (1 - decay) steps of a long one; decay 0 keeps the last weights.
    """

    def average(averaged: list[torch.Tensor], current: list[torch.Tensor], updates: torch.Tensor | int) -> None:
        n = int(updates)
        torch._foreach_lerp_(averaged, current, 1 - min(decay, (1 + n) / (10 + n)))

    return AveragedModel(net, multi_avg_fn=average, use_buffers=True)


def lr_at(cfg: TrainConfig, step: int) -> float:
    """A linear warm-up, then constant: budgets nest (a run resumed to more steps is the longer run)."""
    return cfg.lr * (min(1.0, (step + 1) / cfg.warmup) if cfg.warmup > 0 else 1.0)


def build_optimizer(net: StyleNet, cfg: TrainConfig, only_style: int | None = None) -> torch.optim.Optimizer:
    """Muon for the hidden convolutions and Adam for the rest (cfg.muon_lr 0: Adam for all); with `only_style`
    (--add-style), Adam for that style's vectors alone, the rest frozen."""
    if only_style is not None:
        groups = [{"params": train_only_style(net, only_style), "lr_scale": 1.0, "kind": "adam"}]
    else:
        groups = param_groups(net, cfg.head_lr, cfg.muon_lr / cfg.lr)
    if any(group["kind"] == "muon" for group in groups):
        return MuonAdam(groups, lr=cfg.lr)
    return torch.optim.Adam(groups, lr=cfg.lr)
