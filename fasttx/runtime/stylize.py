"""`fasttx stylize` without the CLI: images, folders and videos through one session, bad files skipped and reported.

Images are decoded on a thread pool ahead of the network, consecutive images of one size go through it as one
batch, and results are written (atomically) on the pool while the next batch runs. Videos go through
`fasttx.runtime.video`. A file that cannot be read or written is reported on one line and skipped; the others go
on, and the report lists the failures so the caller can exit non-zero.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from rich.console import Console

from fasttx.config import StylizeOptions
from fasttx.errors import FasttxError
from fasttx.io import load_image, save_image
from fasttx.nets.transformer import peak_activation_bytes
from fasttx.pixels import frames_to_images, images_to_frames
from fasttx.progress import progress_bar, stderr_console
from fasttx.runtime.color import blend, preserve_color
from fasttx.runtime.flow_blend import FlowBlend
from fasttx.runtime.images import Job, Shard, plan_jobs
from fasttx.runtime.session import Session, TorchSession, open_session
from fasttx.runtime.tiling import stylize_tiled
from fasttx.runtime.video import VideoResult, probe, stylize_video

T = TypeVar("T")
R = TypeVar("R")


class Stylizer:
    """A session plus the per-image options: what every image and every frame goes through."""

    def __init__(self, session: Session, options: StylizeOptions):
        options.validate()
        if options.tile is not None and not isinstance(session, TorchSession):
            raise FasttxError(
                "--tile needs the PyTorch model (.pth): tiles share InstanceNorm statistics via hooks in the network"
            )
        self.session = session
        self.options = options
        self._blend: FlowBlend | None = None  # within clip(), with --temporal-blend

    @property
    def plain(self) -> bool:
        """Whether frames can go straight through the session (no option needs float images)."""
        opts = self.options
        return opts.tile is None and not opts.preserve_color and opts.strength == 1.0 and self._blend is None

    def images(self, images: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] float in [0, 1] -> stylised, same shape, on the CPU."""
        opts = self.options
        if opts.tile is not None:
            assert isinstance(self.session, TorchSession)
            out = torch.cat(
                [
                    stylize_tiled(
                        self.session.net,
                        image[None],
                        opts.tile,
                        opts.overlap,
                        opts.batch_size,
                        self.session.style_tensor,
                    )
                    for image in images
                ]
            )
        else:
            out = self.session.run(images)
        if opts.preserve_color:
            out = preserve_color(out, images)
        return blend(out, images, opts.strength)

    @contextlib.contextmanager
    def clip(self) -> Iterator[None]:
        """What the frames of one video share: with --temporal-blend, the previous output carried along the flow.
        Frames go through `frames` in order."""
        with contextlib.ExitStack() as stack:
            if self.options.temporal_blend > 0:
                self._blend = FlowBlend(self.options.temporal_blend)
                stack.callback(setattr, self, "_blend", None)
            yield

    def frames(self, frames: np.ndarray) -> np.ndarray:
        """[N, H, W, 3] uint8 -> stylised, same shape; straight through the session when no option needs floats."""
        if self.plain:
            return self.session.run_frames(frames)
        out = self.images(frames_to_images(frames))
        if self._blend is not None:
            out = self._blend(frames, out)
        return images_to_frames(out).numpy()


class FrameBatches:
    """A model as a function of batches of columns, for batch engines: Ray Data's `map_batches` (README, "Many
    machines"), or any loader that hands out {"image": uint8 frames}. The model loads once per instance (per Ray
    actor); a batch is [N, H, W, 3] uint8 or, when sizes differ, a sequence of [H, W, 3] frames; the other columns
    pass through."""

    def __init__(
        self,
        model: str | os.PathLike[str],
        column: str = "image",
        options: StylizeOptions = StylizeOptions(),
        device: str = "auto",
    ):
        self.stylizer = Stylizer(open_session(model, device, options.style, options.style_map), options)
        self.column = column

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        frames = batch[self.column]
        if isinstance(frames, np.ndarray) and frames.ndim == 4 and frames.dtype == np.uint8:
            return {**batch, self.column: self.stylizer.frames(frames)}
        stylised = [self.stylizer.frames(np.asarray(frame, dtype=np.uint8)[None])[0] for frame in frames]
        out = np.empty(len(stylised), dtype=object)  # ragged: one array per frame, as batch engines hold them
        out[:] = stylised
        return {**batch, self.column: out}


@dataclass
class Failure:
    source: Path
    error: str


@dataclass
class StylizeReport:
    """What a run wrote, what it could not, and how fast it went."""

    backend: str
    device: str
    outputs: list[Path] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    images: int = 0
    frames: int = 0
    videos: dict[str, VideoResult] = field(default_factory=dict)  # output path -> what was written
    seconds: float = 0.0
    skipped_existing: int = 0  # outputs already there (skip_existing)

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "device": self.device,
            "outputs": [str(p) for p in self.outputs],
            "failed": [{"input": str(f.source), "error": f.error} for f in self.failed],
            "images": self.images,
            "videos": {path: asdict(result) for path, result in self.videos.items()},
            "frames": self.frames,
            "seconds": round(self.seconds, 3),
            "skipped_existing": self.skipped_existing,
        }


def stylize_inputs(
    model: str | os.PathLike[str],
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    options: StylizeOptions = StylizeOptions(),
    *,
    device: str = "auto",
    overwrite: bool = False,
    console: Console | None = None,
    progress: bool = True,
    shard: Shard | None = None,
    skip_existing: bool = False,
) -> StylizeReport:
    """Stylize images, folders (mirrored under `output`) and videos with `model` (.pth or .onnx).

    Argument mistakes (missing inputs, outputs that exist or would replace an input) raise FasttxError before any
    work; unreadable inputs are reported on `console` and listed in the report's `failed`.
    """
    console = console or stderr_console()
    # the cheap checks before loading the model
    jobs, done = plan_jobs(inputs, output, overwrite, shard=shard, skip_existing=skip_existing)
    stylizer = Stylizer(open_session(model, device, options.style, options.style_map), options)
    report = StylizeReport(stylizer.session.backend, stylizer.session.device, skipped_existing=done)
    start = time.perf_counter()

    def failed(job: Job, error: str) -> None:
        report.failed.append(Failure(job.source, error))
        console.print(f"[yellow]skipped[/] {job.source}: {error}", highlight=False)

    images = [job for job in jobs if job.kind == "image"]
    videos = [job for job in jobs if job.kind == "video"]
    with progress_bar(console, progress) as bar:
        if images:
            task = bar.add_task("images", total=len(images), unit="img")

            def written(job: Job) -> None:
                report.outputs.append(job.target)
                report.images += 1
                bar.advance(task)

            def lost(job: Job, error: str) -> None:
                failed(job, error)
                bar.advance(task)

            _stylize_images(stylizer, images, written, lost)
        for job in videos:
            try:
                total = probe(job.source, options.max_size).frames
                task = bar.add_task(job.source.name, total=total, unit="frames")
                with stylizer.clip():
                    result = stylize_video(
                        job.source,
                        job.target,
                        stylizer.frames,
                        batch_size=options.batch_size,
                        max_size=options.max_size,
                        crf=options.crf,
                        keep_partial=options.keep_partial,
                        on_frames=lambda n, task=task: bar.advance(task, n),  # type: ignore[misc]
                    )
            except FasttxError as e:
                failed(job, str(e))
                continue
            report.outputs.append(job.target)
            report.videos[str(job.target)] = result
            report.frames += result.frames
    report.seconds = time.perf_counter() - start
    return report


def _stylize_images(
    stylizer: Stylizer, jobs: list[Job], written: Callable[[Job], None], lost: Callable[[Job, str], None]
) -> None:
    """Decode ahead on a pool, batch consecutive same-size images, write results on the pool."""
    max_size = stylizer.options.max_size
    batch_size = 1 if stylizer.options.tile is not None else stylizer.options.batch_size  # tiles batch instead
    workers = min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers, thread_name_prefix="fasttx-io") as pool:
        saves: deque[tuple[Job, Future[Any]]] = deque()
        batch: list[tuple[Job, torch.Tensor]] = []

        def collect(block: bool) -> None:
            while saves and (block or saves[0][1].done()):
                job, future = saves.popleft()
                try:
                    future.result()
                except (FasttxError, OSError) as e:
                    lost(job, str(e))
                else:
                    written(job)

        def run_batch() -> None:
            images = torch.stack([image for _, image in batch])
            try:
                results = stylizer.images(images)
            except Exception as e:  # noqa: BLE001 - out of memory comes in many types; anything else is re-raised
                if not out_of_memory(e):
                    raise
                message = f"out of memory at {images.shape[-1]}x{images.shape[-2]}"
                if isinstance(stylizer.session, TorchSession):
                    need = len(images) * peak_activation_bytes(stylizer.session.net, *images.shape[-2:])
                    message += f" (the network needs at least {need / 2**30:.1f} GiB for this batch)"
                for job, _ in batch:
                    lost(job, f"{message}; use --max-size, --tile or a smaller --batch-size")
            else:
                saves.extend(
                    (job, pool.submit(save_image, result, job.target))
                    for (job, _), result in zip(batch, results, strict=True)
                )
            batch.clear()

        def load(job: Job) -> torch.Tensor | FasttxError:
            try:
                return load_image(job.source, max_size=max_size)
            except FasttxError as e:
                return e

        for job, image in zip(jobs, _prefetch(pool, load, jobs, depth=2 * batch_size + workers), strict=True):
            if isinstance(image, FasttxError):
                lost(job, str(image))
                continue
            if batch and (len(batch) == batch_size or batch[0][1].shape != image.shape):
                run_batch()
            batch.append((job, image))
            collect(block=False)
        if batch:
            run_batch()
        collect(block=True)


def _prefetch(pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], depth: int) -> Iterator[R]:
    """`map(fn, items)` computed on `pool`, at most `depth` results ahead of the consumer, in order."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) > depth:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def out_of_memory(error: BaseException) -> bool:
    """Whether `error` is an allocation that failed: a CUDA or Python MemoryError, or (on the CPU) PyTorch's and
    onnxruntime's RuntimeErrors, which say so only in their text."""
    if isinstance(error, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = str(error).lower()
    return any(
        sign in text
        for sign in ("can't allocate memory", "not enough memory", "bad_alloc", "failed to allocate", "out of memory")
    )
