from __future__ import annotations

import random
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_photo
from PIL import Image

import fasttx.data
from fasttx.data import PhotoFolder, ResumableSampler, SkipReport, crop_box, photo_batches
from fasttx.errors import FasttxError

SIZE = 16

# Solid-colour files in odd encodings and the RGB each must come out as (mean over the crop).
SOLID = {
    "cmyk.jpg": (1.0, 0.0, 0.0),
    "deep.png": (0.5, 0.5, 0.5),  # 16-bit grey 32768 of 65535
    "alpha.png": (0.5, 0.5, 1.0),  # half-transparent blue over white
    "palette.png": (0.0, 1.0, 0.0),
    "grey.png": (0.25, 0.25, 0.25),
    "tiny.bmp": (0.2, 0.6, 0.4),  # 7x5, smaller than the crop: upscaled
}
BAD = ["text.jpg", "truncated.jpg"]


def write_exif_rotated(path: Path) -> Path:
    """Stored 40x20 with red left / blue right, tagged "rotate 90 CW": upright it is 20x40, red on top."""
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = (255, 0, 0)
    arr[:, 20:] = (0, 0, 255)
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6
    img.save(path, exif=exif, quality=100)
    return path


@pytest.fixture
def mixed_folder(tmp_path: Path) -> Path:
    root = tmp_path / "mixed"
    write_photo(root / "a.jpg", seed=1)
    write_photo(root / "b.png", size=(40, 56), seed=2)
    write_photo(root / "c.webp", seed=3)
    write_photo(root / "sub" / "UPPER.JPG", seed=4)
    write_photo(root / "sub" / "deeper" / "nested.jpg", seed=5)
    Image.new("RGB", (30, 20), (255, 0, 0)).convert("CMYK").save(root / "cmyk.jpg", quality=100)
    Image.fromarray(np.full((20, 30), 32768, np.uint16)).save(root / "deep.png")
    Image.new("RGBA", (30, 20), (0, 0, 255, 128)).save(root / "alpha.png")
    Image.new("RGB", (30, 20), (0, 255, 0)).convert("P").save(root / "palette.png")
    Image.new("L", (30, 20), 64).save(root / "grey.png")
    Image.new("RGB", (7, 5), (51, 153, 102)).save(root / "tiny.bmp")
    write_exif_rotated(root / "exif.jpg")
    whole = write_photo(tmp_path / "whole.jpg", seed=6).read_bytes()
    (root / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (root / "text.jpg").write_text("not an image")
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.txt").write_text("ignored")
    return root


def test_finds_images_recursively_and_ignores_the_rest(mixed_folder: Path) -> None:
    found = {p.relative_to(mixed_folder).as_posix() for p in PhotoFolder(mixed_folder, SIZE).paths}
    expected = {"a.jpg", "b.png", "c.webp", "sub/UPPER.JPG", "sub/deeper/nested.jpg", "exif.jpg", *SOLID, *BAD}
    assert found == expected


def test_every_item_is_a_crop_and_bad_files_give_way_to_the_next(mixed_folder: Path) -> None:
    ds = PhotoFolder(mixed_folder, SIZE)
    bad = {str(mixed_folder / name) for name in BAD}
    for index, path in enumerate(ds.paths):
        image, skipped = ds[(index, 7)]
        assert image.shape == (3, SIZE, SIZE) and image.dtype == torch.float32
        assert image.min() >= 0 and image.max() <= 1
        if str(path) in bad:
            # The slot goes to the next readable photo (wrapping at the end), with the same crop seed.
            nxt = next(j % len(ds) for j in range(index + 1, index + len(ds)) if str(ds.paths[j % len(ds)]) not in bad)
            assert skipped == [str(path)]
            assert torch.equal(image, ds[(nxt, 7)][0])
        else:
            assert skipped == []
    assert str(ds.paths[-1]) in bad  # truncated.jpg sorts last, so the wrap-around was exercised
    assert not torch.equal(ds[(0, 1)][0], ds[(0, 2)][0])  # the crop seed matters


@pytest.mark.parametrize("name", sorted(SOLID))
def test_odd_encodings_come_out_as_their_colour(mixed_folder: Path, name: str) -> None:
    ds = PhotoFolder(mixed_folder, SIZE)
    image, skipped = ds[(ds.paths.index(mixed_folder / name), 0)]
    assert skipped == []
    assert image.mean(dim=(1, 2)).tolist() == pytest.approx(SOLID[name], abs=0.03)


def test_exif_rotation_is_applied_before_cropping(tmp_path: Path) -> None:
    # The whole-image crop of the upright 20x40 photo is its centre 20x27: red on top, blue below, in every column.
    ds = PhotoFolder(write_exif_rotated(tmp_path / "exif.jpg"), SIZE, scale=(1.0, 1.0))
    for crop_seed in range(4):
        image = ds[(0, crop_seed)][0]
        assert (image[0, 0] > 0.8).all() and (image[2, 0] < 0.2).all()
        assert (image[2, -1] > 0.8).all() and (image[0, -1] < 0.2).all()


def test_big_jpegs_decode_at_reduced_scale_but_never_below_the_crop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_photo(tmp_path / "big.jpg", size=(1600, 1200))
    decoded: list[tuple[int, int]] = []

    def spy(*args: object, **kwargs: object) -> Image.Image:
        img = open_rgb(*args, **kwargs)
        decoded.append(img.size)
        return img

    open_rgb = fasttx.data.open_rgb
    monkeypatch.setattr(fasttx.data, "open_rgb", spy)
    ds = PhotoFolder(path, 32)
    assert ds[(0, 0)][0].shape == (3, 32, 32)
    assert decoded == [(200, 150)]  # JPEG draft at 1/8: the largest reduction that keeps 150 >= decode_side
    assert ds.decode_side == 74  # ceil(32 / sqrt(0.25 * 3/4))


def test_crops_stay_inside_and_never_need_upsampling_from_decode_side() -> None:
    rng = random.Random(0)
    scale = (0.25, 1.0)
    side = 74  # decode_side for image_size 32 at scale 0.25 (checked above)
    for _ in range(2000):
        short, long = side + rng.randrange(3 * side), side + rng.randrange(6 * side)
        width, height = (short, long) if rng.random() < 0.5 else (long, short)
        left, top, w, h = crop_box(width, height, scale, rng)
        assert left >= 0 and top >= 0 and left + w <= width and top + h <= height
        assert min(w, h) >= 32
    # No crop of the wanted area and aspect fits a 3:1 strip at scale 1: the largest 4:3 centre crop instead.
    assert crop_box(300, 100, (1.0, 1.0), rng) == (83, 0, 133, 100)


def test_empty_missing_and_unreadable_folders_are_user_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "zero.jpg").write_bytes(b"")
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(FasttxError, match=r"no images found in .*empty \(looked for \.jpg"):
        PhotoFolder(tmp_path / "empty", SIZE)
    with pytest.raises(FasttxError, match="no images found in .*missing.*does not exist"):
        PhotoFolder(tmp_path / "missing", SIZE)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.jpg").write_text("no")
    (tmp_path / "bad" / "b.png").write_text("no")
    with pytest.raises(FasttxError, match=r"no readable photos in .* \(2 files skipped"):
        PhotoFolder(tmp_path / "bad", SIZE)[(0, 0)]


def test_skip_report_returns_each_path_once() -> None:
    report = SkipReport()
    assert report.add(["a", "b", "a"]) == ["a", "b"]
    assert report.add(["b", "c"]) == ["c"]
    assert report.add([]) == []
    assert report.count == 3


def test_bad_files_are_reported_once_over_several_epochs(mixed_folder: Path) -> None:
    ds = PhotoFolder(mixed_folder, SIZE)
    batches = photo_batches(ds, batch_size=len(ds), seed=0, workers=0)  # one batch = one epoch
    report, raw, new = SkipReport(), [], []
    for _ in range(3):
        images, skipped = next(batches)
        assert images.shape == (len(ds), 3, SIZE, SIZE)
        raw += skipped
        new += report.add(skipped)
    bad = sorted(str(mixed_folder / name) for name in BAD)
    assert sorted(raw) == sorted(bad * 3)  # every epoch meets each bad file once
    assert sorted(new) == bad and report.count == 2


@pytest.mark.parametrize(("n", "batch_size"), [(5, 3), (2, 5), (7, 7), (1, 1)])
def test_sampler_resumes_exactly_and_walks_whole_epochs(n: int, batch_size: int) -> None:
    steps = 12
    run = list(islice(ResumableSampler(n, batch_size, seed=3), steps))
    assert all(len(batch) == batch_size for batch in run)
    for k in range(steps):
        assert list(islice(ResumableSampler(n, batch_size, seed=3, start_batch=k), steps - k)) == run[k:]
    stream = [item for batch in run for item in batch]
    epochs = [[index for index, _ in stream[start : start + n]] for start in range(0, len(stream) - n + 1, n)]
    assert all(sorted(order) == list(range(n)) for order in epochs)
    if n >= 5:
        assert len({tuple(order) for order in epochs}) > 1  # a fresh shuffle each epoch
    assert len({crop_seed for _, crop_seed in stream}) == len(stream)
    other = ResumableSampler(n, batch_size, seed=4)
    assert [other.batch(k) for k in range(steps)] != run


def test_batches_do_not_depend_on_workers_and_resume_mid_run(photo_folder: Path) -> None:
    ds = PhotoFolder(photo_folder, SIZE)

    def take(count: int, **kwargs: int) -> list[torch.Tensor]:
        batches = photo_batches(ds, batch_size=4, seed=11, **kwargs)
        return [next(batches)[0] for _ in range(count)]

    in_process = take(4, workers=0)
    with_workers = take(4, workers=2)
    assert all(torch.equal(a, b) for a, b in zip(in_process, with_workers, strict=True))
    resumed = take(2, workers=2, start_batch=2)
    assert all(torch.equal(a, b) for a, b in zip(in_process[2:], resumed, strict=True))
    assert not torch.equal(in_process[0], in_process[1])


def test_real_photos_yield_a_batch(shared_data: Path) -> None:
    photos = shared_data / "photos"
    if not photos.is_dir():
        pytest.skip("../shared/data/photos is not present")
    ds = PhotoFolder(photos, 64)
    images, skipped = next(photo_batches(ds, batch_size=4, seed=0))
    assert images.shape == (4, 3, 64, 64) and images.dtype == torch.float32
    assert skipped == []
    assert images.min() >= 0 and images.max() <= 1 and images.std(dim=(1, 2, 3)).min() > 0.02


def test_process_shares_of_a_batch_are_the_batch_in_order() -> None:
    whole = ResumableSampler(10, 4, seed=3)
    for world in (2, 4):
        shares = [ResumableSampler(10, 4, seed=3, rank=rank, world=world) for rank in range(world)]
        for k in (0, 1, 7):  # batch 7 crosses from epoch 2 into epoch 3
            assert [item for share in shares for item in share.batch(k)] == whole.batch(k)
    with pytest.raises(ValueError, match="does not split"):
        ResumableSampler(10, 4, seed=3, rank=0, world=3)
