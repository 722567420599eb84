"""What a run shows and records besides its weights: preview grids, held-out distances, the model's metadata,
the progress line; and which style each photo of a batch trains."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torchvision.utils import make_grid

from fasttx import __version__
from fasttx.config import TrainConfig, shareable_meta
from fasttx.distributed import Processes
from fasttx.errors import FasttxError
from fasttx.io import file_sha256, open_rgb, pil_to_tensor, resize_long_side, save_image
from fasttx.losses import PerceptualLoss
from fasttx.nets.transformer import StyleNet, one_style
from fasttx.nets.vgg import VGGFeatures


def centre_crops(paths: list[Path], size: int, limit: int = 8) -> torch.Tensor:
    """Fixed photos for previews and validation: square centre crops at the training size; unreadable photos
    are skipped (with a warning), as in training."""
    crops = []
    for path in paths:
        if len(crops) == limit:
            break
        try:
            img = open_rgb(path)
        except FasttxError as e:
            warnings.warn(f"skipping {e}", stacklevel=2)
            continue
        side = min(img.size)
        left, top = (img.width - side) // 2, (img.height - side) // 2
        crops.append(pil_to_tensor(resize_long_side(img.crop((left, top, left + side, top + side)), size)))
    if not crops:
        raise FasttxError("no readable photos for the preview / validation set")
    return torch.stack(crops)


def batch_styles(
    step: int,
    batch: int,
    styles: int,
    device: torch.device,
    only: int | None = None,
    processes: Processes = Processes(),  # noqa: B008  (frozen: one shared default is safe)
) -> torch.Tensor | None:
    """The style each photo of a batch trains, [batch] (None for a one-style network): the styles in turn across
    photos and steps, so each gets the same number of photos whatever the batch size; style `only` if given.
    Under distributed training `batch` is this process's share of the global batch: the styles are those its
    photos have in the global batch."""
    if only is not None:
        return torch.full((batch,), only, device=device)
    if styles == 1:
        return None
    first = step * batch * processes.world + processes.rank * batch
    return (torch.arange(batch, device=device) + first) % styles


@torch.no_grad()
def write_preview(net: StyleNet, photos: torch.Tensor, path: Path) -> torch.Tensor:
    """Save photos (top row) over their stylisation in each style (a row each); return the stylised batches,
    [styles, N, 3, H, W]."""
    stylised = torch.stack(
        [
            torch.cat([net(photo.unsqueeze(0), one_style(s, net.styles)) for photo in photos]).float().clamp(0, 1)
            for s in range(net.styles)
        ]
    )
    rows = torch.cat([photos.float()[None], stylised]).flatten(0, 1)
    save_image(make_grid(rows.cpu(), nrow=len(photos), padding=2, pad_value=1.0), path)
    return stylised


@torch.no_grad()
def validate(
    net: StyleNet,
    objective: PerceptualLoss,
    photos: torch.Tensor,
    cfg: TrainConfig,
    preview: Path,
    new_style: int | None = None,
) -> dict[str, Any]:
    """Held-out content/style distances (unweighted relative errors, averaged over the styles) and their weighted
    sum; per style too for a multi-style network (only the new one's with --add-style); writes a preview."""
    stylised = write_preview(net, photos, preview)
    targets = objective.content_targets(photos)
    separate = objective.styles > 1
    if new_style is not None:
        stylised = stylised[new_style:]
    per_style = [
        objective.distances(batch, targets, torch.full((len(photos),), s, device=photos.device) if separate else None)
        for s, batch in enumerate(stylised)
    ]
    content = float(torch.stack([d["content"] for d in per_style]).mean())
    styles = [float(d["style"]) for d in per_style]
    style = sum(styles) / len(styles)
    total = cfg.loss.content_weight * content + cfg.loss.style_weight * style
    record: dict[str, Any] = {"val_content": content, "val_style": style, "val_total": total}
    if separate or new_style is not None:
        record["val_style_by_style"] = dict(zip(cfg.style_names[-len(styles) :], styles, strict=True))
    return record


def model_meta(cfg: TrainConfig, vgg: VGGFeatures) -> dict[str, Any]:
    """What model.pth and best.pth say of their training: shareable, so file names without folders."""
    names = cfg.style_names
    return shareable_meta(
        {
            "style_name": names[0] if len(names) == 1 else "+".join(names),
            **({"styles": names} if cfg.net.styles > 1 else {}),  # the network's styles, in the order of its weights
            "style_sha256": [file_sha256(s) for s in cfg.style],
            "vgg": vgg.weights_source,
            "train_config": cfg.to_dict(),
            "fasttx_version": __version__,
        }
    )


def format_metrics(m: dict[str, float]) -> str:
    terms = " ".join(f"{k}={m[k]:.3g}" for k in ("content", "style", "tv", "distill", "total") if k in m)
    return f"{terms} {m['images_per_s']:.1f} img/s"


class SetupStatus:
    """A status line through a run's set-up (photos, the loss network, the style's statistics, the start): on a
    CPU that is a minute before the progress bar has anything to show."""

    def __init__(self, console: Console, enabled: bool = True):
        self._status = console.status("reading the photos") if enabled else None

    def __enter__(self) -> SetupStatus:
        if self._status is not None:
            self._status.start()
        return self

    def say(self, text: str) -> None:
        if self._status is not None:
            self._status.update(text)

    def done(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def __exit__(self, *exc: object) -> None:
        self.done()
