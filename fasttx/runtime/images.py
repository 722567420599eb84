"""What to stylize and where each result goes: inputs (files, globs, folders, videos) -> (source, target) jobs.

All the checks that need no decoding happen here, before any work: missing inputs, outputs that would replace an
input, outputs that exist (without overwrite), two inputs that would land on one output.

For fleets (a SLURM job array, Kubernetes indexed jobs), `Shard(i, n)` keeps the jobs of worker i of n: each
job's worker is a hash of its output path relative to the output folder, so the n workers cover every input
exactly once whatever order they list them in, and a file added later does not move the others.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fasttx.errors import FasttxError
from fasttx.io import IMAGE_SUFFIXES, check_output

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".gif")
# containers that can hold H.264; other video inputs (webm, avi, gif) are written as .mp4
VIDEO_OUTPUT_SUFFIXES = (".mp4", ".mov", ".mkv")
DEFAULT_VIDEO_SUFFIX = ".mp4"
GLOB_CHARACTERS = "*?["


@dataclass(frozen=True)
class Job:
    """One input file and the file its result is written to."""

    source: Path
    target: Path
    kind: str  # "image" | "video"


@dataclass(frozen=True)
class Shard:
    """Worker `index` of `count` (0-based: `--shard 0/4` .. `--shard 3/4`)."""

    index: int
    count: int

    @classmethod
    def parse(cls, spec: str) -> Shard:
        """'I/N' (the CLI's format)."""
        index, sep, count = spec.partition("/")
        try:
            shard = cls(int(index), int(count))
        except ValueError:
            shard = cls(-1, 0)
        if not sep or not 0 <= shard.index < shard.count:
            raise FasttxError(f"--shard takes I/N with 0 <= I < N, e.g. 0/4 (got {spec!r})")
        return shard

    def keeps(self, relative: Path) -> bool:
        digest = hashlib.blake2b(relative.as_posix().encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") % self.count == self.index


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def plan_jobs(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    overwrite: bool = False,
    *,
    shard: Shard | None = None,
    skip_existing: bool = False,
) -> tuple[list[Job], int]:
    """Expand `inputs` and pair each file with its output path; also the number of jobs left out because their
    output exists (`skip_existing`: a rerun after a crash or a preempted worker; outputs are written whole or not
    at all, so an existing one is finished).

    One image (or video) in and an `output` with an image (video) suffix: `output` is that file. Otherwise `output`
    is a folder: named files go to its top level, a folder's tree is mirrored under it. Images keep their format,
    videos their container where it holds H.264, else become .mp4 (GIF, WebM, AVI). With `shard`, only that
    worker's share of the jobs (all of them are checked for collisions first).
    """
    output = Path(output)
    found = _expand(inputs, output)
    suffix = output.suffix.lower()
    single = len(found) == 1 and found[0][1] is None
    media_suffix = suffix in IMAGE_SUFFIXES or suffix in VIDEO_SUFFIXES
    if single and media_suffix:
        source = found[0][0]
        kind = "video" if is_video(source) else "image"
        if kind == "video" and suffix not in VIDEO_OUTPUT_SUFFIXES:
            raise FasttxError(
                f"cannot write video {source} as {output}: use {', '.join(VIDEO_OUTPUT_SUFFIXES)} (H.264)"
            )
        if kind == "image" and suffix not in IMAGE_SUFFIXES:
            raise FasttxError(f"cannot write image {source} as {output}: use {', '.join(IMAGE_SUFFIXES)}")
        jobs = [Job(source, output, kind)]
    else:
        if media_suffix or output.is_file():
            raise FasttxError(
                f"-o {output} must be a folder for {len(found)} inputs (only one image or video goes to a file)"
            )
        jobs = [_folder_job(source, root, output) for source, root in found]
    _check_targets(jobs)
    if shard is not None:
        jobs = [job for job in jobs if shard.keeps(_relative(job.target, output))]
    done = [job for job in jobs if skip_existing and job.target.exists()]
    jobs = [job for job in jobs if job not in done]
    _check_existing(jobs, overwrite)
    return jobs, len(done)


def _relative(target: Path, output: Path) -> Path:
    return target.relative_to(output) if target.is_relative_to(output) else Path(target.name)


def _expand(inputs: Sequence[str | os.PathLike[str]], output: Path) -> list[tuple[Path, Path | None]]:
    """(file, the folder it was found in or None) for every input, globs expanded, duplicates dropped, in order."""
    found: dict[Path, Path | None] = {}
    if not inputs:
        raise FasttxError("give at least one image, video or folder to stylize")
    for raw in inputs:
        path = Path(raw)
        if path.exists():
            matches = [path]
        elif any(c in str(raw) for c in GLOB_CHARACTERS):  # a quoted glob the shell did not expand
            matches = sorted(Path(p) for p in glob.glob(str(raw), recursive=True))
            if not matches:
                raise FasttxError(f"no files match {raw}")
        else:
            raise FasttxError(f"no such file or folder: {raw}")
        for match in matches:
            if match.is_dir():
                if match.resolve() == output.resolve():
                    raise FasttxError(f"-o {output} is the input folder itself; its results would replace the inputs")
                files = find_media(match, exclude=output)
                if not files:
                    raise FasttxError(f"no images or videos in {match} ({', '.join(IMAGE_SUFFIXES + VIDEO_SUFFIXES)})")
                for file in files:
                    found.setdefault(file, match)
            else:
                found.setdefault(match, None)
    return list(found.items())


def find_media(root: Path, exclude: Path | None = None) -> list[Path]:
    """Images and videos under `root`, recursive and sorted; hidden files (and temp files) and `exclude` left out.

    Empty files stay in, so that they are reported as unreadable rather than silently missing from the output.
    """
    skip = exclude.resolve() if exclude is not None else None
    media = []
    for path in root.rglob("*"):
        if (
            path.suffix.lower() not in IMAGE_SUFFIXES + VIDEO_SUFFIXES
            or path.name.startswith(".")
            or not path.is_file()
        ):
            continue
        if skip is not None and path.resolve().is_relative_to(skip):  # earlier results inside the input folder
            continue
        media.append(path)
    return sorted(media)


def _folder_job(source: Path, root: Path | None, output: Path) -> Job:
    relative = source.relative_to(root) if root is not None else Path(source.name)
    if is_video(source):
        suffix = source.suffix if source.suffix.lower() in VIDEO_OUTPUT_SUFFIXES else DEFAULT_VIDEO_SUFFIX
        return Job(source, output / relative.with_suffix(suffix), "video")
    suffix = source.suffix if source.suffix.lower() in IMAGE_SUFFIXES else ".png"
    return Job(source, output / relative.with_suffix(suffix), "image")


def _check_targets(jobs: list[Job]) -> None:
    sources = [job.source for job in jobs]
    targets: dict[Path, Path] = {}
    for job in jobs:
        check_output(job.target, overwrite=True, inputs=sources)  # never an input, never a folder
        target = job.target.resolve()
        if target in targets:
            raise FasttxError(
                f"{targets[target]} and {job.source} would both be written to {job.target}; stylize them separately"
            )
        targets[target] = job.source


def _check_existing(jobs: list[Job], overwrite: bool) -> None:
    existing = [job.target for job in jobs if job.target.exists()]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise FasttxError(f"{existing[0]} exists{more}; pass --overwrite to replace")
