"""The sound objective: content as the relative feature distance to the input, style as the relative Gram error
to the style clip, in the random encoder's features (fasttx.sound.encoder), with the image losses' own functions
(fasttx.losses): 0 is a perfect match, 1 as far as silence."""

from __future__ import annotations

import torch
from torch import nn

from fasttx.losses import gram_matrix, relative_error
from fasttx.sound.encoder import RandomEncoder


def timbre(features: torch.Tensor) -> torch.Tensor:
    """The Gram matrices [N, C, C] of [N, C, T] features divided by their trace: which spectral shapes occur
    together, whatever the recording's level (a quiet cello is still a cello)."""
    gram = gram_matrix(features)
    return gram / gram.diagonal(dim1=-2, dim2=-1).sum(-1).clamp_min(1e-12)[:, None, None]


class SoundLoss(nn.Module):
    def __init__(self, encoder: RandomEncoder, style: torch.Tensor, content_weight: float, style_weight: float):
        """`style`: the style clip's log-magnitudes [bins, T]; its Gram matrices are the targets."""
        super().__init__()
        self.encoder = encoder.requires_grad_(False)
        self.content_weight, self.style_weight = content_weight, style_weight
        with torch.no_grad():
            for name, features in encoder(style[None]).items():
                self.register_buffer(f"gram_{name}", timbre(features))

    def content_targets(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return self.encoder(frames)

    def distances(self, output: torch.Tensor, content: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-clip content and style distances [N], each the mean over the encoder's widths."""
        features = self.encoder(output)
        content_d = torch.stack([relative_error(features[k], content[k]) for k in features]).mean(0)
        style_d = torch.stack(
            [relative_error(timbre(f), getattr(self, f"gram_{k}").expand(len(f), -1, -1)) for k, f in features.items()]
        ).mean(0)
        return content_d, style_d

    def forward(self, output: torch.Tensor, content: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        content_d, style_d = self.distances(output, content)
        terms = {"content": self.content_weight * content_d.mean(), "style": self.style_weight * style_d.mean()}
        terms["total"] = terms["content"] + terms["style"]
        return terms
