"""Video through PyAV: decode -> stylize -> H.264, the three stages overlapped, the audio carried over.

Decoding, inference and encoding each release the GIL for their heavy part, so one thread per stage joined by
bounded queues runs them at the same time: the slowest stage sets the pace and memory stays at a few batches.
The output has the input's frames, frame rate, start time (so audio sync) and size. H.264 in 4:2:0 needs even
width and height; an odd-sized video is encoded as 4:4:4 (High 4:4:4 profile) instead of padding or cropping it,
so the size stays exact, at the cost of players that only know 4:2:0 (browsers, some phones) refusing the file.
The first audio stream is copied packet for packet when the output container takes its codec, else re-encoded to
AAC. The file is written under a temporary name and renamed at the end: a failure leaves no partial video.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from fasttx.errors import FasttxError
from fasttx.io import MAX_PIXELS, atomic_write

# audio codecs each output container takes as they are (None: any); others are re-encoded to AAC
REMUXABLE_AUDIO: dict[str, frozenset[str] | None] = {
    ".mp4": frozenset({"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"}),
    ".mov": frozenset({"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s24le", "pcm_f32le"}),
    ".mkv": None,
}
QUEUE_BATCHES = 3  # batches waiting between two stages: enough to absorb jitter, little memory
FALLBACK_RATE = Fraction(25)
MISSING_FRAMES_TOLERATED = 2  # edit lists and B-frame delays can make a container's count differ by a frame or two


@dataclass(frozen=True)
class VideoInfo:
    """What the input holds, as the output will have it (size after --max-size)."""

    width: int
    height: int
    rate: Fraction
    frames: int | None  # None where the container does not say
    audio: str | None  # codec name of the first audio stream


@dataclass(frozen=True)
class VideoResult:
    frames: int
    width: int
    height: int
    fps: float
    pixel_format: str
    audio: str  # "none", "copied (aac)", "re-encoded (pcm_s16le -> aac)"


def probe(path: str | os.PathLike[str], max_size: int | None = None) -> VideoInfo:
    """Size, frame rate, frame count and audio codec of a video, without decoding it."""
    with _open(path) as container:
        return _info(container, Path(path), max_size)


def stylize_video(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    process: Callable[[np.ndarray], np.ndarray],
    *,
    batch_size: int = 4,
    max_size: int | None = None,
    crf: int = 18,
    preset: str = "fast",
    on_frames: Callable[[int], None] | None = None,
    keep_partial: bool = False,
) -> VideoResult:
    """Stylize every frame of `source` with `process` ([N, H, W, 3] uint8 -> same) into the H.264 video `target`.

    `on_frames(n)` is called after each batch is stylized, for progress bars. A video that decodes to fewer frames
    than its container declares (truncated, damaged) is a failed input, nothing written, unless `keep_partial`.
    """
    source, target = Path(source), Path(target)
    if not keep_partial and _truncated_gif(source):
        raise FasttxError(
            f"{source} is cut short (a GIF without its end marker): truncated or damaged; pass --keep-partial to keep "
            "what decodes"
        )
    try:
        with _open(source) as container:
            info = _info(container, source, max_size)
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            with atomic_write(target) as tmp:
                options = {"movflags": "+faststart"} if target.suffix.lower() in (".mp4", ".mov") else {}
                with av.open(str(tmp), "w", options=options) as output:
                    encoder = Encoder(output, info, crf, preset)
                    audio = _AudioCarrier(source, output, target.suffix.lower()) if info.audio else None
                    frames = _run_pipeline(
                        _decode(container, stream, info, batch_size), process, encoder, audio, on_frames
                    )
                if frames == 0:
                    raise FasttxError(f"no frames could be decoded from {source}")
                if not keep_partial and info.frames and frames < info.frames - MISSING_FRAMES_TOLERATED:
                    raise FasttxError(
                        f"only {frames} of the {info.frames} frames of {source} could be decoded (truncated or damaged "
                        "file); pass --keep-partial to keep what was decoded"
                    )
    except av.FFmpegError as e:
        raise FasttxError(f"cannot stylize video {source}: {e}") from e
    return VideoResult(
        frames, info.width, info.height, float(info.rate), encoder.pixel_format, audio.mode if audio else "none"
    )


def _truncated_gif(path: Path) -> bool:
    """Whether `path` is a GIF whose last byte is not the trailer (0x3B): a GIF declares no frame count, so a cut one
    otherwise decodes to fewer frames with no error."""
    with open(path, "rb") as f:
        if f.read(6) not in (b"GIF87a", b"GIF89a"):
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b";"


def read_frames(path: str | os.PathLike[str], max_size: int | None = None, limit: int | None = None) -> np.ndarray:
    """The first `limit` frames (all with None) of a video as [N, H, W, 3] uint8 RGB, at the size `stylize` gives
    them (long side at most `max_size`, even)."""
    batches = []
    try:
        with _open(path) as container:
            info = _info(container, Path(path), max_size)
            for frames, _ in _decode(container, container.streams.video[0], info, batch_size=1):
                batches.append(frames)
                if limit is not None and len(batches) == limit:
                    break
    except av.FFmpegError as e:
        raise FasttxError(f"cannot read video {path}: {e}") from e
    if not batches:
        raise FasttxError(f"no frames could be decoded from {path}")
    return np.concatenate(batches)


def _open(path: str | os.PathLike[str]) -> Any:
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as e:
        raise FasttxError(f"cannot read video {path}: {e}") from e
    if not container.streams.video:
        container.close()
        raise FasttxError(f"{path} has no video stream")
    return container


def _info(container: Any, path: Path, max_size: int | None) -> VideoInfo:
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if not width or not height:
        raise FasttxError(f"cannot read video {path}: no frame size in its header")
    if width * height > MAX_PIXELS:  # as for images: a few bytes can declare frames no memory holds
        raise FasttxError(
            f"{path}'s frames are {width}x{height}, larger than the {MAX_PIXELS // 1_000_000} megapixels fasttx decodes"
        )
    if max_size is not None and max(width, height) > max_size:
        # a size of our choosing: even (rounded down), so it stays 4:2:0 and plays everywhere
        scale = max_size / max(width, height)
        width, height = (max(2, int(side * scale) // 2 * 2) for side in (width, height))
    rate = stream.average_rate or stream.guessed_rate or FALLBACK_RATE
    frames = stream.frames or None
    if frames is None and stream.duration is not None and stream.time_base is not None:
        frames = round(stream.duration * stream.time_base * rate) or None
    audio = _codec_name(container.streams.audio[0]) if container.streams.audio else None
    return VideoInfo(width, height, Fraction(rate), frames, audio)


_END = object()


def _decode(
    container: Any, stream: Any, info: VideoInfo, batch_size: int
) -> Iterator[tuple[np.ndarray, list[float | None]]]:
    """Batches of RGB frames (resized to the output size) and their times in seconds."""
    resize = {"width": info.width, "height": info.height, "interpolation": "LANCZOS"}
    frames: list[np.ndarray] = []
    stamps: list[float | None] = []
    for frame in container.decode(stream):
        same_size = (frame.width, frame.height) == (info.width, info.height)
        frames.append(frame.to_ndarray(format="rgb24", **({} if same_size else resize)))
        stamps.append(frame.time)
        if len(frames) == batch_size:
            yield np.stack(frames), stamps
            frames, stamps = [], []
    if frames:
        yield np.stack(frames), stamps


def _run_pipeline(
    batches: Iterator[tuple[np.ndarray, list[float | None]]],
    process: Callable[[np.ndarray], np.ndarray],
    encoder: Encoder,
    audio: _AudioCarrier | None,
    on_frames: Callable[[int], None] | None,
) -> int:
    """Decode and encode in their own threads, stylize in this one; the first error anywhere stops all three."""
    stop = threading.Event()
    errors: list[BaseException] = []
    decoded: queue.Queue[Any] = queue.Queue(QUEUE_BATCHES)
    stylized: queue.Queue[Any] = queue.Queue(QUEUE_BATCHES)

    def put(q: queue.Queue[Any], item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def get(q: queue.Queue[Any]) -> Any:
        while not stop.is_set():
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                continue
        return _END

    def guarded(stage: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                stage()
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread below
                errors.append(e)
                stop.set()

        return run

    def decode_stage() -> None:
        for batch in batches:
            if not put(decoded, batch):
                return
        put(decoded, _END)

    def encode_stage() -> None:
        while (item := get(stylized)) is not _END:
            frames, stamps = item
            for frame, seconds in zip(frames, stamps, strict=True):
                written_until = encoder.write(frame, seconds)
                if audio is not None:
                    audio.write_until(written_until)
        if not stop.is_set():
            encoder.flush()
            if audio is not None:
                audio.finish()

    threads = [threading.Thread(target=guarded(stage), daemon=True) for stage in (decode_stage, encode_stage)]
    for thread in threads:
        thread.start()
    count = 0
    try:
        while (item := get(decoded)) is not _END:
            frames, stamps = item
            out = process(frames)
            if out.shape != frames.shape or out.dtype != np.uint8:
                raise RuntimeError(f"stylizing frames gave {out.shape} {out.dtype}, expected {frames.shape} uint8")
            count += len(out)
            if on_frames is not None:
                on_frames(len(out))
            if not put(stylized, (out, stamps)):
                break
        put(stylized, _END)
    except BaseException:
        stop.set()
        raise
    finally:
        for thread in threads:
            thread.join()
        if audio is not None:
            audio.close()
    if errors:
        raise errors[0]
    return count


class Encoder:
    """libx264 at the input's size and frame rate; 4:2:0 where the size allows, 4:4:4 for odd sizes.

    Frames get constant-rate timestamps from the first frame's time on: decoders' timestamps are unreliable in
    some containers (AVI with B-frames), and frame count over rate keeps the input's duration, so audio stays in
    sync. A variable-rate input (some phone videos and GIFs) comes out at its average rate.
    """

    def __init__(self, output: Any, info: VideoInfo, crf: int, preset: str):
        self.output = output
        self.rate = info.rate
        self.stream = output.add_stream("libx264", rate=info.rate)
        self.stream.width, self.stream.height = info.width, info.height
        self.pixel_format = "yuv420p" if info.width % 2 == 0 and info.height % 2 == 0 else "yuv444p"
        self.stream.pix_fmt = self.pixel_format
        self.stream.codec_context.time_base = 1 / info.rate
        self.stream.options = {"crf": str(crf), "preset": preset}
        self.next_pts: int | None = None

    def write(self, rgb: np.ndarray, seconds: float | None) -> float:
        """Encode the next frame (`seconds`: its time in the source); returns its time in the output."""
        if self.next_pts is None:
            self.next_pts = round((seconds or 0.0) * self.rate)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = self.next_pts, 1 / self.rate
        self.next_pts += 1
        self.output.mux(self.stream.encode(frame))
        return float(frame.pts / self.rate)

    def flush(self) -> None:
        self.output.mux(self.stream.encode(None))


class _AudioCarrier:
    """The first audio stream of the source, written into `output` interleaved with the video as it is encoded.

    It reads the source through its own demuxer, so the video decoder's thread never waits for it.
    """

    def __init__(self, source: Path, output: Any, suffix: str):
        self.input = av.open(str(source))
        self.source = self.input.streams.audio[0]
        self.output = output
        codec = _codec_name(self.source)
        allowed = REMUXABLE_AUDIO.get(suffix, frozenset())
        self.copy = allowed is None or codec in allowed
        if self.copy:
            self.stream = output.add_stream_from_template(self.source)
            self.mode = f"copied ({codec})"
        else:
            self.stream = output.add_stream("aac", rate=self.source.codec_context.sample_rate or 48000)
            # the default layout for the channel count: sources such as PCM in AVI often leave the order unspecified,
            # which the AAC encoder refuses
            self.stream.layout = av.AudioLayout(f"{self.source.codec_context.channels}c")
            self.mode = f"re-encoded ({codec} -> aac)"
        self.packets = self.input.demux(self.source)
        self.pending: Any = None
        self.next_sample: int | None = None  # re-encoding: the next frame's timestamp, in samples

    def write_until(self, seconds: float | None) -> None:
        """Write the audio up to `seconds` (all of it for None)."""
        while True:
            if self.pending is None:
                self.pending = next(self.packets, None)
                if self.pending is None:
                    return
            packet = self.pending
            if seconds is not None and packet.pts is not None and float(packet.pts * packet.time_base) > seconds:
                return
            self.pending = None
            self._write(packet)

    def finish(self) -> None:
        self.write_until(None)
        if not self.copy:
            self.output.mux(self.stream.encode(None))

    def close(self) -> None:
        self.input.close()

    def _write(self, packet: Any) -> None:
        if self.copy:
            if packet.dts is None:  # the demuxer's empty end-of-stream packet
                return
            packet.stream = self.stream
            self.output.mux(packet)
            return
        for frame in packet.decode():  # the end-of-stream packet flushes the decoder
            # count samples from the first frame's time on: decoders of some formats (MP3 in AVI) repeat timestamps
            if self.next_sample is None:
                self.next_sample = round((frame.time or 0.0) * frame.sample_rate)
            frame.pts, frame.time_base = self.next_sample, Fraction(1, frame.sample_rate)
            self.next_sample += frame.samples
            self.output.mux(self.stream.encode(frame))


def _codec_name(stream: Any) -> str:
    """The format's name for a stream's codec ('mp3'), not its decoder's ('mp3float')."""
    codec = stream.codec_context.codec
    return str(getattr(codec, "canonical_name", None) or codec.name)
