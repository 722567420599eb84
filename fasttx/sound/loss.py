"""The sound objective: content as the relative feature distance to the input in a view of every bin, style as the
relative Gram error to the style clip in a view of the spectral envelope (fasttx.sound.encoder), with the image
losses' own functions (fasttx.losses): 0 is a perfect match, 1 as far as silence."""

from __future__ import annotations

import torch
from torch import nn

from fasttx.losses import gram_matrix, relative_error
from fasttx.sound.config import SoundTrainConfig, Spectrum
from fasttx.sound.encoder import RandomEncoder, TimbreEncoder

JUDGE_WIDTHS, JUDGE_SEED = (5, 11, 21), 1  # the judges' filters: not the training encoders' (3, 9, 27; seed 0)


class SoundLoss(nn.Module):
    def __init__(
        self,
        content: RandomEncoder,
        style: RandomEncoder,
        style_frames: torch.Tensor,
        content_weight: float,
        style_weight: float,
    ) -> None:
        """`style_frames`: the style clip's log-magnitudes [bins, T]; its Gram matrices are the targets."""
        super().__init__()
        self.content_encoder = content.requires_grad_(False)
        self.style_encoder = style.requires_grad_(False)
        self.content_weight, self.style_weight = content_weight, style_weight
        with torch.no_grad():
            for name, features in style(style_frames[None]).items():
                self.register_buffer(f"gram_{name}", gram_matrix(features))

    def content_targets(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return self.content_encoder(frames)

    def distances(self, output: torch.Tensor, content: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-clip content and style distances [N], each the mean over its encoder's widths."""
        features = self.content_encoder(output)
        content_d = torch.stack([relative_error(features[k], content[k]) for k in features]).mean(0)
        style_d = torch.stack(
            [
                relative_error(gram_matrix(f), getattr(self, f"gram_{k}").expand(len(f), -1, -1))
                for k, f in self.style_encoder(output).items()
            ]
        ).mean(0)
        return content_d, style_d

    def forward(self, output: torch.Tensor, content: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        content_d, style_d = self.distances(output, content)
        terms = {"content": self.content_weight * content_d.mean(), "style": self.style_weight * style_d.mean()}
        terms["total"] = terms["content"] + terms["style"]
        return terms


def sound_objective(
    spectrum: Spectrum, style: torch.Tensor, cfg: SoundTrainConfig | None = None, judge: bool = False
) -> SoundLoss:
    """The objective of the recipe `cfg` (default: the default recipe) for the style clip's frames `style`; with
    `judge`, the independent one that scores models (other seed and widths, equal weights)."""
    cfg = cfg or SoundTrainConfig(style="", dataset="")
    if judge:
        content = RandomEncoder(spectrum.bins, JUDGE_WIDTHS, 384, JUDGE_SEED)
        return SoundLoss(content, TimbreEncoder(spectrum, JUDGE_WIDTHS, 192, JUDGE_SEED), style, 1.0, 1.0)
    content, timbre = (
        RandomEncoder(spectrum.bins, seed=cfg.encoder_seed),
        TimbreEncoder(spectrum, seed=cfg.encoder_seed),
    )
    return SoundLoss(content, timbre, style, cfg.content_weight, cfg.style_weight)
