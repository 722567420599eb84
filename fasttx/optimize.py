"""Gatys et al. (2016) style transfer by image optimisation, on the same perceptual objective as training.

No network is trained: the pixels of one image are optimised until its VGG features match the photo's (content)
and its Gram matrices match the style's. It is slow, but it is the best the objective can do for one photo, which
makes it the reference `fasttx evaluate --vs-optimize` measures a trained model against.

Parameterisation: the optimised variable is the *logit* of the image, `image = sigmoid(z)`, not the pixels
clamped after each step. L-BFGS builds its curvature estimate from the steps it takes; clamping would silently
change those steps (and zero the gradient of every clamped pixel), corrupting its history. In logit space the
problem is unconstrained, every value of `z` is a valid image, and L-BFGS and Adam run exactly as designed
(the networks' `--output residual` edits photos in the same space). The price: a pixel near 0 or 1 moves slowly,
so the initial image is clamped to [0.01, 0.99] before taking its logit.

Coarse-to-fine (`scales`): optimise at 1/2^(scales-1) of the size first, upsample the result as the start of the
next scale, up to the full size. Style images shrink by the same factor, so the brush strokes keep their size
relative to the picture at every scale. Each scale runs `steps` steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from fasttx.config import MAX_STEPS, MIN_SIZE, OPTIMIZE, check_side, style_long_side
from fasttx.device import pick_device
from fasttx.errors import FasttxError
from fasttx.io import check_output, load_image, open_rgb, pil_to_tensor, resize_long_side, save_image
from fasttx.losses import LossConfig, PerceptualLoss, resize_style
from fasttx.nets.vgg import VGGFeatures
from fasttx.pixels import resize, scale

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise")
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.05}  # adam: ~0.0125 per step in pixel terms at mid-grey (sigmoid' = 1/4)
_EDGE = 0.01  # init clamp, keeps sigmoid' >= ~0.01 so saturated pixels can still move


@dataclass
class OptimizeResult:
    image: Tensor  # [1, 3, H, W] in [0, 1], at the content's size
    history: list[float]  # the objective at the start of every step, all scales in order (`steps` per scale)


# step (1-based, counted over all scales), objective at the start of that step, image after it ([1, 3, h, w])
StepCallback = Callable[[int, float, Tensor], None]


def optimize_image(
    content: Tensor,
    styles: Sequence[Tensor],
    vgg: VGGFeatures,
    loss: LossConfig,
    *,
    steps: int = OPTIMIZE.steps,
    optimizer: str = OPTIMIZE.optimizer,
    lr: float | None = None,
    init: str = OPTIMIZE.init,
    scales: int = OPTIMIZE.scales,
    style_mix: Sequence[float] | None = None,
    callback: StepCallback | None = None,
    seed: int = OPTIMIZE.seed,
) -> OptimizeResult:
    """Optimise an image of `content`'s size to minimise `loss`'s weighted content + style (+ TV) objective.

    `content`: [3, H, W] or [1, 3, H, W] in [0, 1]. `styles`: [3, h, w] images at the size whose Grams are the
    target at full resolution (training uses 2x the image size). `style_mix` weights the styles' Gram targets.
    `lr`: None takes DEFAULT_LR[optimizer]. Runs on `vgg`'s device.
    """
    if optimizer not in OPTIMIZERS:
        raise FasttxError(f"unknown optimizer {optimizer!r}; choose {' or '.join(OPTIMIZERS)}")
    if init not in INITS:
        raise FasttxError(f"unknown init {init!r}; choose {' or '.join(INITS)}")
    if not (1 <= steps <= MAX_STEPS and 1 <= scales <= 8):
        raise FasttxError(f"--steps must be 1 to {MAX_STEPS:g} and --scales 1 to 8 (got {steps}, {scales})")
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise FasttxError(f"--lr must be a positive finite number (got {lr})")
    if style_mix is not None and not (all(math.isfinite(w) and w >= 0 for w in style_mix) and sum(style_mix) > 0):
        raise FasttxError(f"--style-mix weights must be finite, 0 or more, with a positive sum (got {style_mix})")
    if not all(math.isfinite(w) and w >= 0 for w in (loss.content_weight, loss.style_weight, loss.tv_weight)):
        raise FasttxError("--content-weight, --style-weight and --tv-weight must be finite and 0 or more")
    if not styles:
        raise FasttxError("give at least one style image")
    device = next(vgg.parameters()).device
    content = (content.unsqueeze(0) if content.dim() == 3 else content).to(device, torch.float32)
    height, width = content.shape[-2:]
    factors = [0.5 ** (scales - 1 - i) for i in range(scales)]
    if min(height, width) * factors[0] < MIN_SIZE:
        raise FasttxError(
            f"{width}x{height} at 1/{2 ** (scales - 1)} scale is under {MIN_SIZE} px; use a larger size or fewer scales"
        )
    sizes = [(round(height * f), round(width * f)) for f in factors]
    if init == "content":
        image = resize(content, sizes[0])
    else:
        image = torch.rand((1, 3, *sizes[0]), generator=torch.Generator().manual_seed(seed)).to(device)
    history: list[float] = []
    for factor, size in zip(factors, sizes, strict=True):
        target = resize(content, size)
        objective = PerceptualLoss(vgg, [scale(s.to(device), factor) for s in styles], loss, style_mix)
        start = resize(image, size)
        image = _run(objective, objective.content_targets(target), start, steps, optimizer, lr, history, callback)
    return OptimizeResult(image, history)


def optimize_photo(
    content: Path,
    styles: Sequence[Path],
    output: Path,
    loss: LossConfig,
    *,
    size: int = OPTIMIZE.size,
    vgg_arch: str = "vgg16",
    vgg_weights: str | None = None,
    device: str = "auto",
    overwrite: bool = False,
    save_every: int = 0,
    callback: StepCallback | None = None,
    **options: Any,
) -> OptimizeResult:
    """`fasttx optimize`: the photo at `content` resized to `size` (long side), optimised against the style images
    (at `loss.style_size`, by default 2 x `size` as in training: style_long_side) and saved to `output`; every
    `save_every` steps also OUTPUT_stepNNNN. `options` go to optimize_image (steps, optimizer, lr, init, scales,
    style_mix, seed)."""
    check_output(output, overwrite, inputs=[content, *styles])
    check_side("--size", size)
    if save_every < 0:
        raise FasttxError(f"--save-every must be 0 (never) or more steps (got {save_every})")
    if not 0 <= options.get("seed", 0) < 2**63:
        raise FasttxError(f"--seed must be 0 to 2^63 - 1 (got {options['seed']})")
    dev = pick_device(device)
    photo = pil_to_tensor(resize_long_side(open_rgb(content), size))
    style_images = [resize_style(load_image(path), style_long_side(loss.style_size, size)) for path in styles]
    vgg = VGGFeatures(loss.layers, arch=vgg_arch, weights=vgg_weights).to(dev)

    def on_step(step: int, objective: float, image: Tensor) -> None:
        if save_every and step % save_every == 0:
            save_image(image, output.with_name(f"{output.stem}_step{step:04d}{output.suffix}"))
        if callback is not None:
            callback(step, objective, image)

    result = optimize_image(photo, style_images, vgg, loss, callback=on_step, **options)
    save_image(result.image, output)
    return result


def _run(
    objective: PerceptualLoss,
    content_features: Tensor,
    start: Tensor,
    steps: int,
    optimizer: str,
    lr: float | None,
    history: list[float],
    callback: StepCallback | None,
) -> Tensor:
    """`steps` optimiser steps on logit(start); appends the objectives to `history`, returns the final image."""
    z = torch.logit(start.clamp(_EDGE, 1 - _EDGE)).contiguous().requires_grad_(True)  # L-BFGS views grads flat
    lr = DEFAULT_LR[optimizer] if lr is None else lr
    if optimizer == "lbfgs":
        # one iteration per .step() call (its state persists between calls), with a strong-Wolfe line search of
        # up to 25 evaluations: without one (jcjohnson/neural-style's fixed step) the objective, then with balanced
        # style layers, diverged on Rain Princess (kodim01 at 256 px: 5.0 -> 215 at step 10, ending at content 23.6
        # / style 263; with it 0.514 / 0.102 at about twice the evaluations). Tolerances off so a small
        # relative-error gradient never ends the run early without saying so.
        opt: torch.optim.Optimizer = torch.optim.LBFGS(
            [z], lr=lr, max_iter=1, tolerance_grad=0.0, tolerance_change=0.0, max_eval=25, line_search_fn="strong_wolfe"
        )
    else:
        opt = torch.optim.Adam([z], lr=lr)

    def closure() -> Tensor:
        opt.zero_grad(set_to_none=True)
        total = objective(torch.sigmoid(z), content_features)["total"]
        total.backward()
        return total.detach()

    for _ in range(steps):
        value = float(opt.step(closure))
        if not math.isfinite(value):
            raise FasttxError(f"the objective diverged ({value}); lower --lr or use --optimizer adam")
        history.append(value)
        if callback is not None:
            callback(len(history), value, torch.sigmoid(z.detach()))
    return torch.sigmoid(z.detach())
