from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import painting_net
from PIL import Image

from fasttx.errors import FasttxError
from fasttx.io import atomic_write, find_images, load_image, open_rgb, save_image
from fasttx.modelfile import load_model, save_model, save_torch
from fasttx.nets.transformer import NetConfig


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_write_reports_a_full_disk_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(FasttxError, match="disk full"), atomic_write(tmp_path / "b.bin") as tmp:
        tmp.write_bytes(b"x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_follow_the_umask_and_reach_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: int
) -> None:
    # the umask is read once, when fasttx.io loads (images are saved from threads: no set-and-restore per file)
    target = str(tmp_path / "c.txt")
    code = f"import os; os.umask({umask}); from fasttx.io import write_bytes; write_bytes({target!r}, b'1')"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "c.txt").stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    with atomic_write(tmp_path / "c.txt") as tmp:
        tmp.write_text("whole")
    assert len(synced) == 2  # the file before the rename, the folder after it
    assert [p.name for p in tmp_path.iterdir()] == ["c.txt"] and (tmp_path / "c.txt").read_text() == "whole"


def test_odd_images_decode_to_upright_rgb(tmp_path: Path) -> None:
    rgb = np.zeros((10, 20, 3), np.uint8)
    rgb[:, :10] = (255, 0, 0)  # left half red
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=100)
    Image.fromarray((np.arange(200).reshape(10, 20) * 300).astype(np.uint16)).save(tmp_path / "deep.png")
    rgba = Image.new("RGBA", (20, 10), (0, 0, 255, 0))
    rgba.save(tmp_path / "alpha.png")
    Image.fromarray(rgb).convert("P").save(tmp_path / "palette.png")
    rotated = Image.fromarray(rgb)
    exif = rotated.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    rotated.save(tmp_path / "exif.jpg", exif=exif, quality=100)

    cmyk = np.asarray(open_rgb(tmp_path / "cmyk.jpg"))
    assert cmyk.shape == (10, 20, 3) and cmyk[5, 2, 0] > 200 and cmyk[5, 15].max() < 40
    deep = np.asarray(open_rgb(tmp_path / "deep.png"))
    assert deep.shape == (10, 20, 3) and deep[-1, -1, 0] > deep[0, 1, 0]
    assert np.asarray(open_rgb(tmp_path / "alpha.png")).min() == 255  # transparent -> white
    assert np.asarray(open_rgb(tmp_path / "palette.png"))[5, 2].tolist() == [255, 0, 0]
    upright = np.asarray(open_rgb(tmp_path / "exif.jpg"))
    assert upright.shape == (20, 10, 3)  # rotated to portrait
    assert upright[2, 5, 0] > 200 and upright[15, 5, 0] < 60  # red half now on top


def test_bad_files_are_user_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not an image")
    for name in ("empty.jpg", "text.jpg", "missing.jpg"):
        with pytest.raises(FasttxError):
            open_rgb(tmp_path / name)


def test_image_round_trip_and_max_size(tmp_path: Path) -> None:
    image = torch.rand(3, 30, 50)
    save_image(image, tmp_path / "x.png")
    back = load_image(tmp_path / "x.png")
    assert (back - image).abs().max() <= 0.5 / 255 + 1e-6
    assert load_image(tmp_path / "x.png", max_size=25).shape == (3, 15, 25)
    with pytest.raises(FasttxError):
        save_image(image, tmp_path / "x.unknown")


def test_find_images(tmp_path: Path) -> None:
    for name in ("a.jpg", "sub/b.PNG", "sub/deeper/c.webp", "notes.txt", ".hidden.jpg"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    (tmp_path / "zero.jpg").write_bytes(b"")
    assert [p.relative_to(tmp_path).as_posix() for p in find_images(tmp_path)] == [
        "a.jpg",
        "sub/b.PNG",
        "sub/deeper/c.webp",
    ]


def test_model_file_round_trip_and_rejects_foreign_files(tmp_path: Path) -> None:
    net = painting_net(NetConfig())
    save_model(net, tmp_path / "m.pth", {"style_name": "x"})
    loaded, meta = load_model(tmp_path / "m.pth")
    assert meta == {"style_name": "x"} and loaded.config == net.config
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(loaded(x), net.eval()(x))

    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pth")
    save_torch({"format": "something-else"}, tmp_path / "other2.pth")
    (tmp_path / "junk.pth").write_bytes(b"garbage")
    for name in ("other.pth", "other2.pth", "junk.pth", "missing.pth"):
        with pytest.raises(FasttxError, match="not a fasttx model|no such file"):
            load_model(tmp_path / name)


def test_model_files_never_unpickle_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    torch.save({"format": "fasttx-model", "evil": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(FasttxError):
        load_model(tmp_path / "evil.pth")
    assert not (tmp_path / "pwned").exists()
