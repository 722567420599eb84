"""The content weight as a multiplier that holds the content distance near a target (GECO-style)."""

from __future__ import annotations

import math

import torch

from fasttx import distributed
from fasttx.config import TrainConfig
from fasttx.distributed import Processes


class ContentTarget:
    """The content weight as a Lagrange multiplier: grown while the content distance is above `target`, shrunk
    while below (GECO-style, Rezende & Viola 2018), so training minimises style at a chosen content distance.

    A fixed weight gives each painting its own content distance (colourful ones lose far more) and lets it drift
    up as training goes on; the target holds it, so longer training buys style, not lost content. The distance is
    followed as a moving average of the batches' (they are noisy); the scale moves by at most RATE in log space per
    step and stays within exp(+-LIMIT). Without a target the scale stays 1.

    A multi-style network has one multiplier per style, each fed by its own photos' distances, so every style is held
    at the target as its own single-style network would be. One shared multiplier held only the styles' average:
    the four-style benchmark network left La Muse at 0.26 (its single network: 0.215) and Udnie at 0.16 (0.38) on
    held-out photos; one each, 0.253 and 0.268.

    The state lives on the training device and every update is tensor arithmetic: nothing waits for the GPU
    between steps (the log reads the multipliers every log_every steps).
    """

    RATE, DECAY, LIMIT = 0.02, 0.95, 4.0

    def __init__(self, target: float | None, styles: int = 1, device: torch.device | str = "cpu"):
        self.target = target
        self.log_scales = torch.zeros(styles, device=device)
        self.averages = torch.full((styles,), math.nan, device=device)  # NaN: no distance seen yet

    def scales(self, index: torch.Tensor | None = None) -> torch.Tensor:
        """Each photo's multiplier, [B], for the styles `index` [B] names; the first style's without an index."""
        scales = self.log_scales.exp()
        return scales[0] if index is None else scales[index]

    def update_styles(self, distances: torch.Tensor, index: torch.Tensor | None, processes: Processes) -> None:
        """Follow a batch's per-photo content distances [B] (`index` [B]: their styles), over all processes."""
        if self.target is None:
            return
        index = torch.zeros(len(distances), dtype=torch.long, device=distances.device) if index is None else index
        styles = len(self.log_scales)
        sums = torch.zeros(styles, device=distances.device).index_add_(0, index, distances.float())
        counts = torch.bincount(index, minlength=styles).float()
        sums, counts = distributed.mean(sums, processes), distributed.mean(counts, processes)
        seen = counts > 0
        distance = sums / counts.clamp_min(1)
        decayed = self.DECAY * self.averages + (1 - self.DECAY) * distance
        followed = torch.where(self.averages.isnan(), distance, decayed)
        followed = torch.where(seen, followed, self.averages)
        step = self.RATE * ((followed - self.target) / self.target).clamp(-1, 1)
        moved = (self.log_scales + step).clamp(-self.LIMIT, self.LIMIT)
        self.log_scales, self.averages = torch.where(seen, moved, self.log_scales), followed

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"log_scales": self.log_scales.cpu(), "averages": self.averages.cpu()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        device = self.log_scales.device
        self.log_scales, self.averages = state["log_scales"].to(device), state["averages"].to(device)


def content_scales(target: ContentTarget, cfg: TrainConfig) -> dict[str, float]:
    """The content multipliers for train.jsonl: `content_scale`, or one `content_scale_<style>` per style."""
    scales = target.log_scales.exp().tolist()
    if len(scales) == 1:
        return {"content_scale": scales[0]}
    return {f"content_scale_{name}": scale for name, scale in zip(cfg.style_names, scales, strict=True)}
