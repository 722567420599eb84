"""Training photos: a folder of images, reproducible random crops, and a resumable stream of batches.

Every random choice is a pure function of (seed, batch number): the sampler decides which photo and which
crop seed fill each slot of batch k, and the crop is drawn from `random.Random(crop_seed)` inside whichever
worker decodes it. So a run resumed at step k sees exactly the batches it would have seen, and the number of
workers never changes the data. Unreadable files are skipped (the next photo takes their slot) and reported.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

from fasttx.errors import FasttxError
from fasttx.io import IMAGE_SUFFIXES, find_images, open_rgb, pil_to_tensor

ASPECT_RANGE = (3 / 4, 4 / 3)

Item = tuple[torch.Tensor, list[str]]


class PhotoFolder(Dataset[Item]):
    """Random-resized square crops of the photos under `root`, keyed by (index, crop_seed)."""

    def __init__(self, root: str | Path, image_size: int, scale: tuple[float, float] = (0.25, 1.0)) -> None:
        if image_size < 1:
            raise FasttxError(f"image size must be a positive number of pixels, got {image_size}")
        if not 0 < scale[0] <= scale[1] <= 1:
            raise FasttxError(f"crop scale must satisfy 0 < min <= max <= 1, got {scale}")
        self.root = Path(root)
        self.image_size = image_size
        self.scale = scale
        self.paths = find_images(self.root)
        if not self.paths:
            why = f"looked for {' '.join(IMAGE_SUFFIXES)}" if self.root.exists() else "the folder does not exist"
            raise FasttxError(f"no images found in {self.root} ({why})")
        # The smallest, most elongated crop of an image with this short side is still image_size on its short
        # side, so JPEG draft decoding down to it never costs resolution the crop would have used.
        self.decode_side = math.ceil(image_size / math.sqrt(scale[0] * ASPECT_RANGE[0]))

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: tuple[int, int]) -> Item:
        """A [3, S, S] crop of photo `index` (or of the next readable one) and the paths that failed on the way."""
        index, crop_seed = key
        failed: list[str] = []
        errors: list[FasttxError] = []
        for offset in range(len(self.paths)):
            path = self.paths[(index + offset) % len(self.paths)]
            try:
                img = open_rgb(path, min_side=self.decode_side)
            except FasttxError as e:
                failed.append(str(path))
                errors.append(e)
                continue
            return self._crop(img, random.Random(crop_seed)), failed
        raise FasttxError(f"no readable photos in {self.root} ({len(self.paths)} files skipped; first: {errors[0]})")

    def _crop(self, img: Image.Image, rng: random.Random) -> torch.Tensor:
        left, top, width, height = crop_box(img.width, img.height, self.scale, rng)
        size = (self.image_size, self.image_size)
        # Crop and resize in one antialiased pass; reducing_gap first shrinks by an integer factor when that is big.
        out = img.resize(size, Image.Resampling.BILINEAR, box=(left, top, left + width, top + height), reducing_gap=3.0)
        if rng.random() < 0.5:
            out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return pil_to_tensor(out)


def crop_box(width: int, height: int, scale: tuple[float, float], rng: random.Random) -> tuple[int, int, int, int]:
    """(left, top, w, h) of a crop covering a `scale` fraction of the image with aspect in ASPECT_RANGE.

    The same recipe as torchvision's RandomResizedCrop (ten tries, then the largest centred crop whose aspect
    is in range), but drawing from `rng` so the crop depends only on the crop seed.
    """
    area = width * height
    log_lo, log_hi = math.log(ASPECT_RANGE[0]), math.log(ASPECT_RANGE[1])
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            return rng.randint(0, width - w), rng.randint(0, height - h), w, h
    w, h = width, height
    if width / height < ASPECT_RANGE[0]:
        h = round(width / ASPECT_RANGE[0])
    elif width / height > ASPECT_RANGE[1]:
        w = round(height * ASPECT_RANGE[1])
    return (width - w) // 2, (height - h) // 2, w, h


def mix_seed(*parts: int) -> int:
    """A 63-bit seed from integers, the same in every process and run (unlike hash())."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class ResumableSampler(Sampler[list[tuple[int, int]]]):
    """An endless batch sampler whose batch k is a pure function of (seed, k).

    The stream is epoch after epoch of `torch.randperm(n)` (generator seeded from (seed, epoch)); batch k is
    positions k*B .. k*B+B-1 of it, so batches run across epoch boundaries and are always full. Each position
    carries its own crop seed, so a photo seen again in a later epoch gets a new crop.

    Under distributed training `batch_size` is the global batch and process `rank` of `world` gets its
    contiguous share of every batch, so the processes together see exactly the batches one process would, and a
    run resumed on another number of processes goes on from the same position.
    """

    def __init__(self, n: int, batch_size: int, seed: int, start_batch: int = 0, rank: int = 0, world: int = 1) -> None:
        if n < 1 or batch_size < 1 or start_batch < 0:
            raise ValueError(f"need n >= 1, batch_size >= 1, start_batch >= 0; got {n}, {batch_size}, {start_batch}")
        if batch_size % world or not 0 <= rank < world:
            raise ValueError(f"a batch of {batch_size} does not split into {world} shares (rank {rank})")
        self.n = n
        self.batch_size = batch_size
        self.seed = seed
        self.start_batch = start_batch
        self.share = slice(rank * batch_size // world, (rank + 1) * batch_size // world)
        self._orders: dict[int, list[int]] = {}

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        k = self.start_batch
        while True:
            yield self.batch(k)
            k += 1

    def batch(self, k: int) -> list[tuple[int, int]]:
        """The (index, crop_seed) pairs of this process's share of batch number k."""
        first = k * self.batch_size
        return [self._item(position) for position in range(first, first + self.batch_size)[self.share]]

    def _item(self, position: int) -> tuple[int, int]:
        epoch, i = divmod(position, self.n)
        return self._order(epoch)[i], mix_seed(self.seed, epoch, i)

    def _order(self, epoch: int) -> list[int]:
        if epoch not in self._orders:
            # Batches walk the epochs in order, so the previous epoch is the only one worth keeping.
            if len(self._orders) >= 2:
                del self._orders[min(self._orders)]
            generator = torch.Generator().manual_seed(mix_seed(self.seed, epoch))
            self._orders[epoch] = torch.randperm(self.n, generator=generator).tolist()
        return self._orders[epoch]


def default_workers() -> int:
    """Decode workers: up to 4, leaving one core for the training loop (0, i.e. in-process, on one core)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(4, cpus - 1))


def _collate(items: Sequence[Item]) -> Item:
    images, skipped = zip(*items, strict=True)
    return default_collate(list(images)), [path for paths in skipped for path in paths]


def photo_batches(
    dataset: PhotoFolder,
    batch_size: int,
    seed: int,
    start_batch: int = 0,
    workers: int | None = None,
    pin_memory: bool = False,
    rank: int = 0,
    world: int = 1,
) -> Iterator[Item]:
    """Endless (images [B, 3, S, S], skipped paths) batches, starting at batch `start_batch` of the run `seed`
    (process `rank` of `world`: its B / world photos of each)."""
    workers = default_workers() if workers is None else workers
    loader = DataLoader(
        dataset,
        batch_sampler=ResumableSampler(len(dataset), batch_size, seed, start_batch, rank, world),
        num_workers=workers,
        collate_fn=_collate,
        pin_memory=pin_memory,
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
    )
    return iter(loader)


class SkipReport:
    """The main process's record of unreadable files, so each one is warned about once however often it comes up."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def add(self, paths: list[str]) -> list[str]:
        """Record `paths`; return those not seen before, in order and without repeats."""
        new = []
        for path in paths:
            if path not in self._seen:
                self._seen.add(path)
                new.append(path)
        return new

    @property
    def count(self) -> int:
        return len(self._seen)
