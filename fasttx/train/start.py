"""Where a fresh run starts: the shipped base (or a trained model) with each style set to the nearest trained style,
or the identity; and the fixed crops the nearest style is chosen on."""

from __future__ import annotations

from pathlib import Path

import torch

from fasttx.config import TrainConfig
from fasttx.data import PhotoFolder
from fasttx.errors import FasttxError
from fasttx.io import load_image
from fasttx.losses import PerceptualLoss, resize_style
from fasttx.modelfile import load_model, shipped_models
from fasttx.nets.transformer import StyleNet, build_net, mean_style, same_kind, start_from, with_new_style


def initial_network(
    cfg: TrainConfig, objective: PerceptualLoss | None = None, dataset: PhotoFolder | None = None
) -> tuple[StyleNet, list[str]]:
    """The network a fresh run starts from, and what each of its styles started from (TrainConfig.started_from):
    --from's grown by the new style (--add-style), else a new one set to --init's weights (train.start_from), if
    any: each style at the trained style (or their mean) nearest to it by `objective` on calibration crops of
    `dataset` (nearest_styles), or at their mean without them."""
    if cfg.add_to is not None:
        return with_new_style(_base(cfg)), []
    net = build_net(cfg.net)
    init = _init_network(cfg)
    if init is None:
        return net, []
    trained, names = init
    mixes = None
    if objective is not None and dataset is not None:
        photos = calibration_crops(dataset, cfg.seed).to(next(objective.vgg.parameters()).device)
        mixes = nearest_styles(trained, objective, photos)
    mixes = start_from(net, trained, mixes)
    return net, [names[int(mix.argmax())] if mix.max() == 1 else "mean" for mix in mixes]


def nearest_styles(trained: StyleNet, objective: PerceptualLoss, photos: torch.Tensor) -> torch.Tensor:
    """For each style of `objective`, the one of `trained`'s styles, or their mean, whose outputs on `photos`
    score the lowest style term against it: [objective.styles, trained.styles] mixes for start_from.

    Why: the trained styles are far apart as starts. On the 5 held-out Kodak photos (hed VGG16, 256 px), the
    shipped base's Candy scores 62 % of the photos' style distance to Rain Princess, the base's mean 80 %; its
    La Muse 60 % to Composition VII, the mean 67 %; its Udnie 84 % to Great Wave, the mean 109 % (worse than the
    photos). A run started nearer has less of the way to go. On the same device as `objective`; the mean is kept
    on a tie."""
    device = photos.device
    candidates = torch.cat([mean_style(trained.styles), torch.eye(trained.styles)]).to(device)
    trained = trained.to(device).eval()
    scores = torch.empty(objective.styles, len(candidates))
    with torch.no_grad():
        content = objective.content_targets(photos)
        for c, mix in enumerate(candidates):
            output = trained(photos, mix.expand(len(photos), -1))
            for style in range(objective.styles):
                index = None if objective.styles == 1 else torch.full((len(photos),), style, device=device)
                scores[style, c] = objective(output, content, style_index=index)["style"]
    return candidates[scores.argmin(dim=1)].cpu()


def _init_network(cfg: TrainConfig) -> tuple[StyleNet, list[str]] | None:
    """--init's trained network and its styles' names: a model.pth, or the network fasttx ships for this kind of
    network, if it has one."""
    if cfg.init == "scratch":
        return None
    candidates = shipped_models().values() if cfg.init == "base" else [Path(cfg.init)]
    for path in candidates:
        trained, meta = load_model(path)
        if cfg.init != "base" or same_kind(trained.config, cfg.net):
            return trained, meta.get("styles") or [meta.get("style_name") or path.parent.name]
    return None


def _base(cfg: TrainConfig) -> StyleNet:
    assert cfg.add_to is not None
    net, _ = load_model(cfg.add_to)
    if net.styles + 1 != cfg.net.styles:
        raise FasttxError(f"{cfg.add_to} has {net.styles} style(s); this run adds one to {cfg.net.styles - 1}")
    return net


def calibration_crops(dataset: PhotoFolder, seed: int, count: int = 16) -> torch.Tensor:
    """Training crops spread over the folder, the same for a given folder and seed (to choose the nearest style)."""
    step = max(1, len(dataset) // count)
    return torch.stack([dataset[(i, seed + i)][0] for i in range(0, step * count, step)][: len(dataset)])


def load_style(path: str, long_side: int) -> torch.Tensor:
    return resize_style(load_image(path), long_side)
