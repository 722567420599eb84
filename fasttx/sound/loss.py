"""The sound objective: content as the relative feature distance to the input in a view of every bin, style as the
relative Gram error to the style clip in a view of the spectral envelope (fasttx.sound.encoder), with the image
losses' own functions (fasttx.losses): 0 is a perfect match, 1 as far as silence."""

from __future__ import annotations

import torch
from torch import nn

from fasttx.losses import gram_matrix, relative_error
from fasttx.sound.encoder import RandomEncoder


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
