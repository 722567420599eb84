"""Perceptual losses (Gatys et al. 2016; Johnson et al. 2016): content, Gram style, total variation.

The terms are *relative* errors: squared error divided by the target's squared magnitude. That makes a weight
mean the same thing whatever VGG weights (ImageNet/torchvision, caffe/Keras, ...) produced the features, and makes
the numbers readable: 0 is a perfect match, 1 is as far as an all-zero answer. `fasttx evaluate` reports the same
quantities as content and style distances.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fasttx.errors import FasttxError
from fasttx.nets.vgg import VGGFeatures

_EPS = 1e-8
MAX_LAYER_SCALE = 4.0  # bound of the style-layer balance factors (measure_layer_scales)


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """[B, C, H, W] features -> [B, C, C] fp32 Gram matrices, normalised by C*H*W so image size does not matter.

    Autocast is switched off around the product: it would run the bmm in bf16/fp16 again (3 significant digits,
    and an H*W sum that overflows fp16), whatever the input's dtype.
    """
    b, c, h, w = features.shape
    with torch.autocast(features.device.type, enabled=False):
        flat = features.reshape(b, c, h * w).float()
        return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)


def relative_error(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample ||output - target||^2 / ||target||^2 over all but the batch dimension (target not differentiated)."""
    target = target.detach().float()
    dims = tuple(range(1, target.dim()))
    num = (output.float() - target).pow(2).sum(dim=dims)
    return num / target.pow(2).sum(dim=dims).clamp_min(_EPS)


def mean_squared_error(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample mean squared error (the absolute errors of pytorch/examples, kept to reproduce its recipe)."""
    return (output.float() - target.detach().float()).pow(2).flatten(1).mean(dim=1)


def content_loss(output_features: torch.Tensor, content_features: torch.Tensor, relative: bool = True) -> torch.Tensor:
    """Feature reconstruction error (relative by default), averaged over the batch."""
    error = relative_error if relative else mean_squared_error
    return error(output_features, content_features).mean()


def style_loss(
    output_features: Mapping[str, torch.Tensor],
    style_grams: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float],
    relative: bool = True,
    robust: bool = False,
) -> torch.Tensor:
    """Weighted sum over layers of the Gram error (relative by default), averaged over the batch.

    `style_grams[layer]` is [1, C, C] (one style) or [B, C, C]; it broadcasts over the batch. With `robust`, each
    photo's error at each layer counts as log(1 + error): the same minimum, and the same slope near it, but a photo
    whose Gram matrix is ten times the style's (its error ~80 rather than ~1) no longer drowns the rest of the batch.
    """
    total = output_features[next(iter(layer_weights))].new_zeros((), dtype=torch.float32)
    for layer, weight in layer_weights.items():
        total = total + weight * gram_errors(output_features[layer], style_grams[layer], relative, robust).mean()
    return total


def gram_errors(features: torch.Tensor, style_gram: torch.Tensor, relative: bool = True, robust: bool = False) -> torch.Tensor:
    """Per-photo Gram error of one layer's [B, C, H, W] features against a [1 or B, C, C] style Gram."""
    gram = gram_matrix(features)
    per_photo = (relative_error if relative else mean_squared_error)(gram, style_gram.expand_as(gram))
    return torch.log1p(per_photo) if robust else per_photo


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (anisotropic total variation) of [B, 3, H, W] in [0, 1]."""
    dh = (image[..., 1:, :] - image[..., :-1, :]).abs().mean()
    dw = (image[..., :, 1:] - image[..., :, :-1]).abs().mean()
    return dh + dw


def parse_layer_weights(spec: str) -> dict[str, float]:
    """'relu1_2:0.5,relu2_2,relu3_3:2' -> {'relu1_2': 0.5, 'relu2_2': 1.0, 'relu3_3': 2.0} (CLI format)."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, value = item.partition(":")
        try:
            weights[name.strip()] = float(value) if value else 1.0
        except ValueError as e:
            raise FasttxError(f"bad layer weight {item!r}; expected NAME or NAME:WEIGHT, e.g. relu3_3:2") from e
    if not weights:
        raise FasttxError("no style layers given")
    return weights


@dataclass
class LossConfig:
    """Which layers and how much of each term. Saved with every model so results can be reproduced."""

    content_layer: str = "relu2_2"
    style_layers: dict[str, float] = field(
        default_factory=lambda: {"relu1_2": 1.0, "relu2_2": 1.0, "relu3_3": 1.0, "relu4_3": 1.0}
    )
    content_weight: float = 1.0
    style_weight: float = 1.0
    tv_weight: float = 0.0
    style_size: int | None = None  # long side of the style image for its Gram targets; None: 2x the training size
    relative: bool = True  # relative errors (weights independent of the VGG source); False: plain MSE as pytorch/examples
    robust: bool = False  # train on log(1 + style error) per photo and layer (see style_loss); distances stay plain
    # Balance the style layers by their pull on the pixels (see PerceptualLoss.measure_layer_scales): measured once
    # on the training photos at the start of a run and stored in `layer_scales`, which multiply `style_layers`.
    balance: bool = True
    layer_scales: dict[str, float] | None = None

    @property
    def layers(self) -> list[str]:
        return [self.content_layer, *self.style_layers]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LossConfig:
        """The recipe saved in a model or checkpoint; one saved before `robust` (or `balance`) existed used the
        plain style term (or unbalanced layers)."""
        return cls(**{"robust": False, "balance": False, **data})

    @property
    def effective_style_layers(self) -> dict[str, float]:
        """Style layer weights as trained: the given weights times the measured balance scales, if any."""
        scales = self.layer_scales or {}
        return {layer: weight * scales.get(layer, 1.0) for layer, weight in self.style_layers.items()}


class PerceptualLoss(nn.Module):
    """Content + style + TV objective against fixed style Gram targets (computed once, at construction).

    Several style images mix as a weighted sum of their Gram targets (Gatys et al.'s style interpolation).
    """

    def __init__(
        self,
        vgg: VGGFeatures,
        styles: Sequence[torch.Tensor],
        config: LossConfig,
        style_mix: Sequence[float] | None = None,
    ):
        super().__init__()
        self.vgg = vgg
        self.config = config
        mix = list(style_mix) if style_mix is not None else [1.0] * len(styles)
        if len(mix) != len(styles) or sum(mix) <= 0:
            raise FasttxError("need one positive weight per style image")
        with torch.no_grad():
            grams: dict[str, torch.Tensor] = {}
            for style, weight in zip(styles, mix):
                feats = vgg(style.unsqueeze(0) if style.dim() == 3 else style)
                for layer in config.style_layers:
                    g = gram_matrix(feats[layer]) * (weight / sum(mix))
                    grams[layer] = grams[layer] + g if layer in grams else g
        for layer, gram in grams.items():
            self.register_buffer(f"gram_{layer}", gram)

    @property
    def style_grams(self) -> dict[str, torch.Tensor]:
        return {layer: getattr(self, f"gram_{layer}") for layer in self.config.style_layers}

    def content_targets(self, content: torch.Tensor) -> torch.Tensor:
        """Features of the content images at the content layer; no graph is kept."""
        with torch.no_grad():
            return self.vgg(content, stop_after=self.config.content_layer)[self.config.content_layer]

    def distances(self, output: torch.Tensor, content_features: torch.Tensor) -> dict[str, torch.Tensor]:
        """Unweighted content and (plain, unbalanced) style errors of a batch of outputs [B, 3, H, W] in [0, 1]."""
        return self._errors(self.vgg(output), content_features, self.config.style_layers, robust=False)

    def forward(self, output: torch.Tensor, content_features: torch.Tensor) -> dict[str, torch.Tensor]:
        """Weighted loss terms and their sum (`total`) for a batch of outputs [B, 3, H, W] in [0, 1]."""
        cfg = self.config
        errors = self._errors(self.vgg(output), content_features, cfg.effective_style_layers, cfg.robust)
        terms = {"content": cfg.content_weight * errors["content"], "style": cfg.style_weight * errors["style"]}
        if cfg.tv_weight > 0:
            terms["tv"] = cfg.tv_weight * tv_loss(output.float())
        terms["total"] = sum(terms.values())  # type: ignore[assignment]
        return terms

    def _errors(
        self, feats: dict[str, torch.Tensor], content_features: torch.Tensor, layers: Mapping[str, float], robust: bool
    ) -> dict[str, torch.Tensor]:
        relative = self.config.relative
        return {
            "content": content_loss(feats[self.config.content_layer], content_features, relative),
            "style": style_loss(feats, self.style_grams, layers, relative, robust),
        }


def measure_layer_scales(objective: PerceptualLoss, photos: torch.Tensor) -> dict[str, float]:
    """Per style layer, the factor that makes its pull on the pixels of `photos` [B, 3, H, W] the layers' average.

    Equal loss weights do not mean equal influence: on unstyled photos the gradient of a deep layer's Gram error
    with respect to the pixels is far larger than a shallow one's (hed VGG16, Starry Night, 16 crops of 128 px,
    bench/layer_pull.py: relu4_3 3.56, relu3_3 1.47, relu2_2 0.27, relu1_2 0.33), so the deep layers' edge texture
    sets every update and relu1_2, mostly the palette on this VGG, is left unmatched (0.91 after 500 steps against
    the photos' 0.96).
    The factor is mean_k(g_k) / g_l for g_l the mean per-photo gradient norm of layer l's term as trained (robust
    or not); the average pull, and so the balance against the content term, stays what it was. Factors are clipped
    to [1/MAX_LAYER_SCALE, MAX_LAYER_SCALE]: a layer already close to the style pulls weakly because it has little
    left to gain, and an unbounded factor forced it (Mosaic's relu2_2 got x32.7: diagonal streaks, content 0.95).
    """
    cfg = objective.config
    pixels = photos.detach().float().clone().requires_grad_(True)
    features = objective.vgg(pixels)
    norms: dict[str, float] = {}
    for layer in cfg.style_layers:
        errors = gram_errors(features[layer], objective.style_grams[layer], cfg.relative, cfg.robust)
        (grad,) = torch.autograd.grad(errors.sum(), pixels, retain_graph=True)
        norms[layer] = float(grad.flatten(1).norm(dim=1).mean())
    mean = sum(norms.values()) / len(norms)
    return {layer: min(MAX_LAYER_SCALE, max(1 / MAX_LAYER_SCALE, mean / max(norm, _EPS))) for layer, norm in norms.items()}


def resize_style(style: torch.Tensor, long_side: int) -> torch.Tensor:
    """[3, H, W] style image resized (antialiased) so its long side is `long_side`."""
    h, w = style.shape[-2:]
    scale = long_side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    return F.interpolate(style.unsqueeze(0), size=size, mode="bilinear", antialias=True, align_corners=False)[0]
