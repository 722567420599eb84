"""Reading and writing sound: any file FFmpeg decodes (wav, flac, mp3, ogg, the audio track of a video), resampled
to the rate a model works at, and 16-bit WAV out, written whole or not at all (io.write_bytes).

Decoding and resampling are PyAV's (FFmpeg's swresample), already a dependency for video. Channels are kept (mono
stays mono; anything wider than stereo is mixed down to stereo by FFmpeg's standard matrix): the model stylises
each channel on its own, so a stereo recording keeps its stereo picture.
"""

from __future__ import annotations

import io
import os
import wave
from pathlib import Path

import av
import numpy as np

from fasttx.errors import FasttxError
from fasttx.io import write_bytes

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff", ".wma")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi")  # their audio track
MAX_SECONDS = 4 * 3600  # a longer file is refused rather than decoded into memory (about 1.3 GB at 22 050 Hz)


def sound_rate(path: str | os.PathLike[str]) -> int:
    """The sample rate of the first audio stream of `path` (what `read_audio` resamples from)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise FasttxError(f"{path} has no audio stream")
            return int(container.streams.audio[0].codec_context.sample_rate)
    except av.FFmpegError as e:
        raise FasttxError(f"{path} is not a sound file fasttx can read ({e.strerror or e})") from e


def resample(wave: np.ndarray, rate: int, to: int, samples: int) -> np.ndarray:
    """[channels, n] float32 at `rate` Hz -> [channels, samples] at `to` Hz (FFmpeg's resampler, as on reading;
    trimmed or zero-padded by the filter's few samples of delay to exactly `samples`)."""
    if rate == to:
        out = wave
    else:
        layout = "mono" if wave.shape[0] == 1 else "stereo"
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave, dtype=np.float32), format="fltp", layout=layout)
        frame.sample_rate = rate
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=to)
        parts = [f.to_ndarray() for f in [*resampler.resample(frame), *resampler.resample(None)]]
        out = np.concatenate(parts, axis=1) if parts else np.zeros((wave.shape[0], 0), np.float32)
    out = out[:, :samples]
    return np.pad(out, ((0, 0), (0, samples - out.shape[1]))).astype(np.float32)


def read_audio(path: str | os.PathLike[str], rate: int, mono: bool = False) -> np.ndarray:
    """The first audio stream of `path` as float32 [channels, samples] in [-1, 1] at `rate` Hz (one channel, the
    mean of them, with `mono`). Unreadable files, files without sound and empty ones are refused in one line."""
    path = Path(path)
    if not path.is_file():
        raise FasttxError(f"no such file: {path}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise FasttxError(f"{path} has no audio stream")
            stream = container.streams.audio[0]
            layout = "mono" if stream.codec_context.channels == 1 else "stereo"
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
            chunks, samples = [], 0
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
                    samples += chunks[-1].shape[1]
                if samples > MAX_SECONDS * rate:
                    raise FasttxError(f"{path} is longer than {MAX_SECONDS // 3600} hours; cut it into parts first")
            chunks += [out.to_ndarray() for out in resampler.resample(None)]
    except av.FFmpegError as e:
        raise FasttxError(f"{path} is not a sound file fasttx can read ({e.strerror or e})") from e
    if not chunks or sum(c.shape[1] for c in chunks) == 0:
        raise FasttxError(f"{path} holds no samples")
    wave_ = np.concatenate(chunks, axis=1).astype(np.float32)
    wave_ = wave_.mean(axis=0, keepdims=True) if mono else wave_
    if not np.isfinite(wave_).all():
        raise FasttxError(f"{path} holds samples that are not numbers (NaN or infinity)")
    return wave_


def write_wav(path: str | os.PathLike[str], samples: np.ndarray, rate: int) -> Path:
    """[channels, samples] float in [-1, 1] as a 16-bit PCM WAV. A louder signal is scaled down as a whole to fit
    (never clipped sample by sample, which crackles); NaN is refused."""
    samples = np.asarray(samples, dtype=np.float64)
    if not np.isfinite(samples).all():
        raise FasttxError(f"refusing to write {path}: the sound holds NaN or infinite samples")
    peak = float(np.abs(samples).max(initial=0.0))
    if peak > 1.0:
        samples = samples / peak
    pcm = np.clip(np.round(samples.T * 32768), -32768, 32767).astype("<i2")  # FFmpeg reads s / 32768
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(samples.shape[0])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return write_bytes(path, buffer.getbuffer())


def is_sound(path: str | os.PathLike[str]) -> bool:
    """A file fasttx treats as sound by its suffix."""
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


def find_sounds(root: str | os.PathLike[str]) -> list[Path]:
    """The sound files of a folder, videos included (their audio track), recursively and sorted, or the file itself;
    hidden files are skipped."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FasttxError(f"no such file or folder: {root}")
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in AUDIO_SUFFIXES + VIDEO_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
