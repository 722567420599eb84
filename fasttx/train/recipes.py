"""Recipes derived from a trained model: one more style (--add-style), a smaller student (distill)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from fasttx.config import TrainConfig
from fasttx.errors import FasttxError
from fasttx.modelfile import load_model


def add_style_config(
    base: str | Path,
    style: str | Path,
    out: str | Path | None = None,
    *,
    steps: int | None = None,
    dataset: str | Path | None = None,
    device: str | None = None,
    workers: int | None = None,
) -> TrainConfig:
    """The recipe that adds `style` to the trained network `base` (a model.pth of one or several styles): the
    base's own recipe, the network grown by one style, and only that style's vectors trained (the convolutions
    frozen), so it takes a fraction of a full training. The keyword arguments given replace the base's."""
    net, meta = load_model(base)
    if "train_config" not in meta:
        raise FasttxError(f"{base} does not record how it was trained; cannot add a style to it")
    cfg = TrainConfig.from_dict(meta["train_config"])
    names = meta.get("styles") or [meta.get("style_name", "style0")]
    if Path(style).stem in names:
        raise FasttxError(f"{base} already has a style named {Path(style).stem!r}; rename the image")
    cfg.net = replace(net.config, styles=net.styles + 1)
    cfg.style, cfg.base_styles, cfg.add_to, cfg.blend = [str(style)], list(names), str(base), False
    cfg.teacher, cfg.val = None, None
    cfg.out = str(out or Path(base).parent.with_name(f"{Path(base).parent.name}+{Path(style).stem}"))
    _override(cfg, steps, dataset, device, workers)
    if not Path(cfg.dataset).exists():
        raise FasttxError(f"the base model names its dataset {cfg.dataset!r} without its folder; give --dataset")
    return cfg


def distill_config(
    teacher: str | Path,
    arch: str,
    out: str | Path | None = None,
    *,
    steps: int | None = None,
    dataset: str | Path | None = None,
    style: Sequence[str | Path] | None = None,
    distill_weight: float | None = None,
    device: str | None = None,
    workers: int | None = None,
) -> TrainConfig:
    """The teacher's own training recipe, retargeted at a `arch` student that also learns from the teacher's outputs;
    the keyword arguments given (not None) replace the teacher's."""
    _, meta = load_model(teacher)
    if "train_config" not in meta:
        raise FasttxError(f"{teacher} does not record how it was trained; cannot derive a distillation recipe")
    cfg = TrainConfig.from_dict(meta["train_config"])
    cfg.net = replace(cfg.net, arch=arch)
    cfg.teacher = str(teacher)
    cfg.val = None
    cfg.out = str(out or Path(teacher).parent.with_name(f"{Path(teacher).parent.name}-{arch}"))
    _override(cfg, steps, dataset, device, workers)
    cfg.style = [str(p) for p in style] if style else cfg.style
    cfg.distill_weight = distill_weight if distill_weight is not None else cfg.distill_weight
    missing = [p for p in [*cfg.style, cfg.dataset] if not Path(p).exists()]
    if missing:
        raise FasttxError(f"the teacher names {missing[0]!r} without its folder; give --style and --dataset")
    return cfg


def _override(
    cfg: TrainConfig, steps: int | None, dataset: str | Path | None, device: str | None, workers: int | None
) -> None:
    """A derived recipe (a grown or distilled network) with the options the user gave in place of the source's:
    a step count replaces the source's."""
    if steps is not None:
        cfg.steps = steps
    cfg.dataset = str(dataset) if dataset is not None else cfg.dataset
    cfg.device = device if device is not None else cfg.device
    cfg.workers = workers if workers is not None else cfg.workers
