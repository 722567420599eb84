"""How good is a trained model? Content and style distances of its outputs, against a photo and a Gatys baseline.

The distances are the training loss terms, unweighted, on fixed layers (`METRIC`) so numbers compare across
models whatever they were trained with. For a photo x (resized so its long side is `size`), an image y scored
against it, and the style image s (resized so its long side is `style_size`: for a trained model the style size
it was trained with, since a feed-forward network paints strokes of a fixed size in pixels; else 2 x `size`), with
phi_j the VGG activations at layer j and G_j(y) = phi_j(y) phi_j(y)^T / (C_j H_j W_j) the Gram
matrix:

    content distance  D_c(y, x) = ||phi_c(y) - phi_c(x)||^2 / ||phi_c(x)||^2,        c = relu2_2
    style distance    D_s(y, s) = sum_j ||G_j(y) - G_j(s)||_F^2 / ||G_j(s)||_F^2,  j in relu1_2 relu2_2 relu3_3 relu4_3

Both are relative squared errors (`fasttx.losses.relative_error`): 0 is a perfect match, 1 as far as an all-zero
answer. Every photo gets three rows of numbers: the photo itself (the baseline: D_c = 0, D_s = how far an
unstyled photo is from the style), the model's output, and with `vs_optimize=N` the Gatys optimisation of the
photo for N L-BFGS steps (the reference: what the objective can reach for this one photo). The numbers depend
on the VGG weights (torchvision vs hed), which the report records: compare models under the same weights.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch import Tensor

from fasttx.config import EVAL_SIZE, MIN_SIZE, StylizeOptions, check_side, check_strength, style_long_side
from fasttx.device import pick_device
from fasttx.errors import FasttxError
from fasttx.io import find_images, load_image, open_rgb, pil_to_tensor, resize_long_side, save_image
from fasttx.losses import LossConfig, PerceptualLoss, resize_style
from fasttx.nets.vgg import VGGFeatures
from fasttx.optimize import optimize_image
from fasttx.pixels import frames_to_images
from fasttx.progress import progress_bar, stderr_console
from fasttx.runtime.color import blend
from fasttx.runtime.session import open_session
from fasttx.temporal import estimate_flows, warping_error

METRIC = LossConfig(
    content_layer="relu2_2", style_layers={"relu1_2": 1.0, "relu2_2": 1.0, "relu3_3": 1.0, "relu4_3": 1.0}
)
KINDS = ("photo", "model", "gatys")  # the images scored per photo, in report order

ImageFn = Callable[[Tensor], Tensor]  # [1, 3, H, W] in [0, 1] -> [1, 3, H, W] in [0, 1]


def trained_style_size(meta: dict[str, Any]) -> int | None:
    """Long side of the style image in the model's training (None when the model does not record its recipe).

    A feed-forward network paints brush strokes of a fixed size in pixels, so its outputs are judged against the
    style at the scale it learnt them from, whatever the photo size.
    """
    config = meta.get("train_config")
    if not config:
        return None
    return style_long_side(config.get("loss", {}).get("style_size"), int(config.get("image_size", 256)))


@dataclass
class Distances:
    content: float
    style: float


@dataclass
class PhotoRow:
    photo: str
    width: int
    height: int
    scores: dict[str, Distances]  # by kind: "photo" (unstyled baseline), "model", "gatys" (with vs_optimize)
    images: dict[str, str] = field(default_factory=dict)  # kind -> saved PNG, when images were kept


@dataclass
class EvaluationReport:
    model: str
    style: str
    size: int
    style_size: int
    vgg: str
    vs_optimize: int
    rows: list[PhotoRow]
    style_image: str | None = None  # the resized style image, when images were kept
    strength: float = 1.0  # the model rows are this mix of output and photo (`fasttx stylize --strength`)
    skipped: list[str] = field(default_factory=list)  # unreadable photos

    @property
    def means(self) -> dict[str, Distances]:
        """Average distances per kind over the photos."""
        kinds = [k for k in KINDS if self.rows and k in self.rows[0].scores]
        return {
            k: Distances(
                float(np.mean([r.scores[k].content for r in self.rows])),
                float(np.mean([r.scores[k].style for r in self.rows])),
            )
            for k in kinds
        }

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "means": {k: asdict(v) for k, v in self.means.items()}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def evaluate_model(
    model: ImageFn,
    style: str | os.PathLike[str],
    photos: Sequence[str | os.PathLike[str]],
    vgg: VGGFeatures,
    *,
    size: int = EVAL_SIZE,
    style_size: int | None = None,
    vs_optimize: int = 0,
    optimize_loss: LossConfig | None = None,
    image_dir: str | os.PathLike[str] | None = None,
    model_name: str = "model",
    strength: float = 1.0,
    callback: Callable[[str], None] | None = None,
) -> EvaluationReport:
    """Score `model` on every photo (see the module docstring for the formulas).

    `vs_optimize`: Gatys steps per photo (0: none) on `optimize_loss` (default: METRIC, weights 1); pass the
    model's training LossConfig to compare it with the optimum of its own objective. `image_dir`: also save the
    resized photos, outputs and style there as PNGs (for `fasttx.report`). `strength`: score the output mixed with
    the photo as `fasttx stylize --strength` mixes it (1: the output). `callback(photo)` runs after each photo.
    Everything runs on `vgg`'s device; `model` is called with tensors there.
    """
    if not photos:
        raise FasttxError("no photos to evaluate")
    check_strength(strength)
    check_side("--size", size)
    if vs_optimize < 0:
        raise FasttxError(f"--vs-optimize must be 0 (none) or more steps (got {vs_optimize})")
    needed = set(METRIC.layers) | set(optimize_loss.layers if optimize_loss else [])
    missing = sorted(needed - set(vgg.layers))
    if missing:
        raise FasttxError(f"the VGG features lack layer(s) {', '.join(missing)} needed for evaluation")
    device = next(vgg.parameters()).device
    style_size = style_long_side(style_size, size)
    style_image = resize_style(load_image(style), style_size).to(device)
    metric = PerceptualLoss(vgg, [style_image], METRIC)
    out = Path(image_dir) if image_dir is not None else None
    report = EvaluationReport(
        model=model_name,
        style=str(style),
        size=size,
        style_size=style_size,
        vgg=vgg.weights_source,
        vs_optimize=vs_optimize,
        rows=[],
        style_image=str(save_image(style_image, out / "style.png")) if out else None,
        strength=strength,
    )
    for index, path in enumerate(photos):
        try:
            photo = pil_to_tensor(resize_long_side(open_rgb(path), size)).unsqueeze(0).to(device)
            if min(photo.shape[-2:]) < MIN_SIZE:
                raise FasttxError(f"{path} is {photo.shape[-1]}x{photo.shape[-2]} at --size {size}: too thin to score")
        except FasttxError as e:
            warnings.warn(f"skipping {e}", stacklevel=2)
            report.skipped.append(str(path))
            continue
        images = {"photo": photo, "model": blend(_stylize(model, photo, path), photo, strength)}
        if vs_optimize > 0:
            gatys = optimize_image(photo, [style_image], vgg, optimize_loss or METRIC, steps=vs_optimize)
            images["gatys"] = gatys.image
        with torch.no_grad():
            targets = metric.content_targets(photo)
            scores = {}
            for kind, image in images.items():
                dist = metric.distances(image, targets)
                scores[kind] = Distances(float(dist["content"]), float(dist["style"]))
        row = PhotoRow(str(path), photo.shape[-1], photo.shape[-2], scores)
        if out is not None:
            stem = f"{index:03d}_{Path(path).stem}"
            row.images = {kind: str(save_image(image, out / f"{stem}_{kind}.png")) for kind, image in images.items()}
        report.rows.append(row)
        if callback is not None:
            callback(str(path))
    if not report.rows:
        raise FasttxError("none of the photos could be read")
    return report


def evaluate_file(
    model: str | os.PathLike[str],
    style: str | os.PathLike[str],
    photos: str | os.PathLike[str],
    *,
    size: int = EVAL_SIZE,
    style_size: int | None = None,
    vs_optimize: int = 0,
    vgg_weights: str | None = None,
    device: str = "auto",
    style_mix: str | None = None,
    strength: float = 1.0,
    image_dir: str | os.PathLike[str] | None = None,
    console: Console | None = None,
    progress: bool = True,
) -> EvaluationReport:
    """`fasttx evaluate`: a model file scored on a photo or folder of photos, on the model's own VGG, against the
    style at the size it was trained with; the Gatys reference (`vs_optimize`) optimises the model's own objective."""
    if not Path(photos).exists():
        raise FasttxError(f"no such photo or folder: {photos}")
    paths = find_images(photos)
    if not paths:
        raise FasttxError(f"no images found in {photos}")
    dev = pick_device(device)
    onnx = Path(model).suffix.lower() == ".onnx"  # onnxruntime on the CPU: it takes and returns tensors anywhere
    session = open_session(model, "cpu" if onnx else str(dev), style_mix)
    recipe = session.meta.get("train_config") or {}
    objective = LossConfig.from_dict(recipe["loss"]) if "loss" in recipe else METRIC
    layers = sorted(set(METRIC.layers) | set(objective.layers))
    features = VGGFeatures(layers, arch=recipe.get("vgg_arch", "vgg16"), weights=vgg_weights).to(dev)
    bar = progress_bar(console or stderr_console(), enabled=progress)
    with bar:
        task = bar.add_task("evaluating", total=len(paths), unit="photos")
        return evaluate_model(
            lambda image: session.run(image).to(image.device),
            style,
            paths,
            features,
            size=size,
            style_size=style_size or trained_style_size(session.meta),
            vs_optimize=vs_optimize,
            optimize_loss=objective,
            image_dir=image_dir,
            model_name=str(model),
            strength=strength,
            callback=lambda photo: bar.update(task, advance=1, metrics=Path(photo).name),
        )


def _stylize(model: ImageFn, photo: Tensor, path: str | os.PathLike[str]) -> Tensor:
    with torch.no_grad():
        output = model(photo).float().clamp(0, 1)  # scored as it would be saved
    if output.shape != photo.shape:
        raise FasttxError(f"the model turned {path} {tuple(photo.shape)} into {tuple(output.shape)}; need equal shapes")
    return output


@dataclass
class VideoEvaluation:
    """How much a model flickers on one clip (fasttx.temporal's warping error) and how much it stylises it."""

    model: str
    video: str
    frames: int
    width: int
    height: int
    temporal_blend: float
    output_error: float  # mean warping error of the stylised frames
    input_error: float  # the same for the input frames: the floor
    per_frame: list[float]  # the stylised frames' error, per pair of successive frames
    content: float  # mean distances of a few evenly spaced frames (the photo rows of `fasttx evaluate`)
    style: float
    input_style: float  # the unstyled frames' style distance, the baseline
    seconds_per_frame: float  # stylisation alone (the flow of the measure not included)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def evaluate_video(
    model: str | os.PathLike[str],
    style: str | os.PathLike[str],
    video: str | os.PathLike[str],
    *,
    options: StylizeOptions | None = None,
    frames: int = 48,
    size: int = EVAL_SIZE,
    style_size: int | None = None,
    scored_frames: int = 6,
    vgg_weights: str | None = None,
    device: str = "auto",
) -> VideoEvaluation:
    """`fasttx evaluate --video`: the first `frames` frames (long side `size`) stylised as `fasttx stylize` would
    with `options` (--temporal-blend, --style-mix ...), their warping error along the input's DIS
    optical flow next to the input's own, and the distances of `scored_frames` of them (needs OpenCV)."""
    from fasttx.runtime.stylize import Stylizer
    from fasttx.runtime.video import read_frames

    options = options or StylizeOptions()
    check_side("--size", size)
    if frames < 2:
        raise FasttxError(f"--frames must be 2 or more: a temporal error compares frames (got {frames})")
    clip = read_frames(video, size, frames)
    if len(clip) < 2:
        raise FasttxError(f"{video} has {len(clip)} frame; a temporal error needs two")
    images = frames_to_images(clip)
    flows, masks = estimate_flows(images)
    dev = pick_device(device)
    session = open_session(model, str(dev), options.style, options.style_map)
    stylizer = Stylizer(session, options)
    started = time.perf_counter()
    with stylizer.clip():
        stylised = np.concatenate(
            [stylizer.frames(batch) for batch in np.array_split(clip, -(-len(clip) // options.batch_size))]
        )
    seconds = time.perf_counter() - started
    outputs = frames_to_images(stylised)
    errors = warping_error(outputs, flows, masks)
    meta = session.meta
    vgg = VGGFeatures(
        METRIC.layers, arch=(meta.get("train_config") or {}).get("vgg_arch", "vgg16"), weights=vgg_weights
    )
    style_image = resize_style(load_image(style), style_long_side(style_size or trained_style_size(meta), size))
    metric = PerceptualLoss(vgg.to(dev), [style_image.to(dev)], METRIC)
    picked = np.linspace(0, len(clip) - 1, min(scored_frames, len(clip))).round().astype(int)
    with torch.no_grad():
        inputs, scored = images[picked].to(dev), outputs[picked].to(dev)
        targets = metric.content_targets(inputs)
        ours, theirs = metric.distances(scored, targets), metric.distances(inputs, targets)
    return VideoEvaluation(
        model=str(model),
        video=str(video),
        frames=len(clip),
        width=clip.shape[2],
        height=clip.shape[1],
        temporal_blend=options.temporal_blend,
        output_error=float(errors.mean()),
        input_error=float(warping_error(images, flows, masks).mean()),
        per_frame=errors.tolist(),
        content=float(ours["content"]),
        style=float(ours["style"]),
        input_style=float(theirs["style"]),
        seconds_per_frame=seconds / len(clip),
    )
