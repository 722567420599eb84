"""Perceptual losses (Gatys et al. 2016; Johnson et al. 2016): content, Gram style, total variation.

The terms are *relative* errors: squared error divided by the target's squared magnitude. That makes a weight
mean the same thing whatever VGG weights (ImageNet/torchvision, caffe/Keras, ...) produced the features, and makes
the numbers readable: 0 is a perfect match, 1 is as far as an all-zero answer. `fasttx evaluate` reports the same
quantities as content and style distances.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from fasttx.config import LossConfig
from fasttx.errors import FasttxError
from fasttx.nets.vgg import VGGFeatures
from fasttx.pixels import scale

_EPS = 1e-8


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] (or [B, C, T] for sound) features -> [B, C, C] fp32 Gram matrices, normalised by C*H*W so the
    image's size (the clip's length) does not matter.

    Autocast is switched off around the product: it would run the bmm in bf16/fp16 again (3 significant digits,
    and an H*W sum that overflows fp16), whatever the input's dtype.
    """
    b, c = features.shape[:2]
    with torch.autocast(features.device.type, enabled=False):
        flat = features.reshape(b, c, -1).float()
        return torch.bmm(flat, flat.transpose(1, 2)) / flat[0].numel()


def relative_error(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample ||output - target||^2 / ||target||^2 over all but the batch dimension (target not differentiated)."""
    target = target.detach().float()
    dims = tuple(range(1, target.dim()))
    num = (output.float() - target).pow(2).sum(dim=dims)
    return num / target.pow(2).sum(dim=dims).clamp_min(_EPS)


def style_loss(
    output_features: Mapping[str, torch.Tensor],
    style_grams: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float],
) -> torch.Tensor:
    """Weighted sum over layers of the relative Gram error, averaged over the batch. `style_grams[layer]` is
    [1, C, C] (one style) or [B, C, C]; it broadcasts over the batch."""
    total = output_features[next(iter(layer_weights))].new_zeros((), dtype=torch.float32)
    for layer, weight in layer_weights.items():
        total = total + weight * gram_errors(output_features[layer], style_grams[layer]).mean()
    return total


def gram_errors(features: torch.Tensor, style_gram: torch.Tensor) -> torch.Tensor:
    """Per-photo relative Gram error [B] of one layer's [B, C, H, W] features against a [1 or B, C, C] style Gram."""
    gram = gram_matrix(features)
    return relative_error(gram, style_gram.expand_as(gram))


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (anisotropic total variation) of [B, 3, H, W] in [0, 1]."""
    dh = (image[..., 1:, :] - image[..., :-1, :]).abs().mean()
    dw = (image[..., :, 1:] - image[..., :, :-1]).abs().mean()
    return dh + dw


class PerceptualLoss(nn.Module):
    """Content + style + TV objective against fixed style Gram targets (computed once, at construction).

    Several style images mix as a weighted sum of their Gram targets (Gatys et al.'s style interpolation), or, with
    `separate`, stay apart: targets [S, C, C], and each output is scored against the style its index names (the
    training of a multi-style network).
    """

    def __init__(
        self,
        vgg: VGGFeatures,
        styles: Sequence[torch.Tensor],
        config: LossConfig,
        style_mix: Sequence[float] | None = None,
        separate: bool = False,
    ):
        super().__init__()
        self.vgg = vgg
        self.config = config
        mix = list(style_mix) if style_mix is not None else [1.0] * len(styles)
        if len(mix) != len(styles) or sum(mix) <= 0:
            raise FasttxError("need one positive weight per style image")
        with torch.no_grad():
            per_style = [vgg(style.unsqueeze(0) if style.dim() == 3 else style) for style in styles]
            for layer in config.style_layers:
                grams = torch.cat([gram_matrix(feats[layer]) for feats in per_style])  # [S, C, C]
                if not separate:
                    weights = torch.tensor(mix, device=grams.device) / sum(mix)
                    grams = (grams * weights[:, None, None]).sum(dim=0, keepdim=True)
                self.register_buffer(f"gram_{layer}", grams)
        self.styles = len(styles) if separate else 1
        self._content_errors: torch.Tensor | None = None

    @property
    def style_grams(self) -> dict[str, torch.Tensor]:
        """Per style layer the Gram targets, [1, C, C] (one style) or [S, C, C] (separate styles)."""
        return {layer: getattr(self, f"gram_{layer}") for layer in self.config.style_layers}

    def targets(self, style_index: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """The Gram targets of a batch: [B, C, C] for the styles `style_index` [B] names, or all."""
        grams = self.style_grams
        return grams if style_index is None else {layer: g[style_index] for layer, g in grams.items()}

    def content_targets(self, content: torch.Tensor) -> torch.Tensor:
        """Features of the content images at the content layer; no graph is kept."""
        with torch.no_grad():
            return self.vgg(content, stop_after=self.config.content_layer)[self.config.content_layer]

    def distances(
        self, output: torch.Tensor, content_features: torch.Tensor, style_index: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Unweighted content and style errors of a batch of outputs [B, 3, H, W] in [0, 1] (against
        the styles `style_index` names, for separate styles): what `fasttx evaluate` reports."""
        cfg = self.config
        feats = self.vgg(output)
        return {
            "content": relative_error(feats[cfg.content_layer], content_features).mean(),
            "style": style_loss(feats, self.targets(style_index), cfg.style_layers),
        }

    def forward(
        self,
        output: torch.Tensor,
        content_features: torch.Tensor,
        content_scale: float | torch.Tensor = 1.0,
        style_index: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """The weighted loss terms and their sum (`total`) for a batch of outputs [B, 3, H, W] in [0, 1]; the
        content term's weight is `content_scale` (one, or [B]: one per photo) x content_weight (see
        train.ContentTarget). With separate styles, `style_index` [B] names each output's."""
        cfg = self.config
        features = self.vgg(output)
        content = relative_error(features[cfg.content_layer], content_features)
        self._content_errors = content.detach()
        style = style_loss(features, self.targets(style_index), cfg.style_layers)
        terms = {"content": cfg.content_weight * (content_scale * content).mean(), "style": cfg.style_weight * style}
        if cfg.tv_weight > 0:
            terms["tv"] = cfg.tv_weight * tv_loss(output.float())
        terms["total"] = sum(terms.values())  # type: ignore[assignment]
        return terms

    def content_errors(self) -> torch.Tensor:
        """The unweighted content error of each photo of the last batch, [B], detached and where it was computed
        (no sync): what the content target follows."""
        if self._content_errors is None:
            raise RuntimeError("content_errors() follows a forward() call")
        return self._content_errors


def resize_style(style: torch.Tensor, long_side: int) -> torch.Tensor:
    """[3, H, W] style image resized (antialiased) so its long side is `long_side`."""
    return scale(style, long_side / max(style.shape[-2:]))
