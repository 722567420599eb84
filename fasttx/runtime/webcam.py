"""`fasttx webcam`: a camera (or any video source OpenCV opens) stylised live, shown in a window and/or recorded.

Capture is OpenCV's VideoCapture (V4L2, AVFoundation, DirectShow, or a file or stream URL; OpenCV is a dependency,
its headless build: a window needs the GUI build, `pip install opencv-python`, which the headless wheel lacks).
Frames go through the same Stylizer as `fasttx stylize` (stabilised by its flow blend); a recording goes through
the same H.264 encoder as stylised videos, written atomically. Keys in the window: + and - change the strength by
0.1, 1-9 pick a style of a multi-style model, q or Esc quits; Ctrl-C stops too, the recording kept.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from fasttx.config import StylizeOptions, check_strength
from fasttx.errors import FasttxError
from fasttx.io import atomic_write, check_output
from fasttx.progress import format_rate
from fasttx.runtime.images import VIDEO_OUTPUT_SUFFIXES
from fasttx.runtime.session import open_session
from fasttx.runtime.stylize import Stylizer
from fasttx.runtime.video import Encoder, VideoInfo

WINDOW = "fasttx"
ESCAPE = 27


@dataclass
class WebcamReport:
    frames: int
    seconds: float
    width: int
    height: int
    output: str | None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def run_webcam(
    model: str | os.PathLike[str],
    camera: str = "0",
    *,
    size: tuple[int, int] | None = None,
    output: str | os.PathLike[str] | None = None,
    window: bool = True,
    frames: int | None = None,
    options: StylizeOptions = StylizeOptions(),
    device: str = "auto",
    overwrite: bool = False,
) -> WebcamReport:
    """Stylise `camera` (an index like "0", or a path or URL) until q, Ctrl-C, the end of the source or `frames`
    frames. `size` (width, height) asks the camera for that resolution."""
    cv2 = _opencv()
    options.validate()
    if frames is not None and frames < 1:
        raise FasttxError(f"--frames must be 1 or more (got {frames})")
    if output is not None:
        if Path(output).suffix.lower() not in VIDEO_OUTPUT_SUFFIXES:
            raise FasttxError(f"cannot record {output}: use {', '.join(VIDEO_OUTPUT_SUFFIXES)} (H.264)")
        check_output(Path(output), overwrite, [model] if camera.isdigit() else [model, camera])
    if window and not _has_gui(cv2):
        if output is None:
            raise FasttxError(
                "this OpenCV has no window support (the headless wheel that fasttx installs): pip install "
                "opencv-python for a window, or record without one with -o FILE.mp4"
            )
        warnings.warn(
            "no window: this OpenCV is the headless build (pip install opencv-python); recording only", stacklevel=2
        )
        window = False
    if not window and output is None:
        raise FasttxError("with --no-window give --output FILE.mp4: otherwise the frames go nowhere")
    session = open_session(model, device, options.style, options.style_map)
    stylizer = Stylizer(session, replace(options, batch_size=1))
    capture = cv2.VideoCapture(int(camera) if camera.isdigit() else camera)
    if not capture.isOpened():
        raise FasttxError(f"cannot open camera {camera!r} (an index like 0, a video file or a stream URL)")
    if size is not None:
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
    rate = Fraction(capture.get(cv2.CAP_PROP_FPS) or 30).limit_denominator(1001)
    count, start, shape = 0, time.perf_counter(), (0, 0)
    with contextlib.ExitStack() as stack:
        stack.callback(capture.release)
        stack.enter_context(stylizer.clip())
        encoder: Encoder | None = None
        try:
            while frames is None or count < frames:
                ok, bgr = capture.read()
                if not ok:
                    break
                rgb = np.ascontiguousarray(bgr[..., ::-1])
                shape = rgb.shape[:2]
                styled = stylizer.frames(rgb[None])[0]
                count += 1
                if output is not None and encoder is None:
                    encoder = _recorder(stack, Path(output), rgb.shape[1], rgb.shape[0], rate)
                if encoder is not None:
                    encoder.write(styled, count / float(rate))
                if window and not _show(cv2, styled, count / (time.perf_counter() - start), stylizer, session):
                    break
        except KeyboardInterrupt:
            pass
        if encoder is not None:
            encoder.flush()
    if window:
        cv2.destroyAllWindows()
    if count == 0:
        raise FasttxError(f"camera {camera!r} gave no frames")
    return WebcamReport(count, time.perf_counter() - start, shape[1], shape[0], str(output) if output else None)


def _recorder(stack: contextlib.ExitStack, path: Path, width: int, height: int, rate: Fraction) -> Encoder:
    tmp = stack.enter_context(atomic_write(path))
    container = stack.enter_context(av.open(str(tmp), "w", format=path.suffix.lstrip(".") or "mp4"))
    return Encoder(container, VideoInfo(width, height, rate, None, None), crf=18, preset="veryfast")


def _show(cv2: Any, rgb: np.ndarray, fps: float, stylizer: Stylizer, session: Any) -> bool:
    """Draw one frame with its frames/s; handle the keys. False when the user quits."""
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    text = f"{format_rate(fps, 'frames')}  strength {stylizer.options.strength:.1f}"
    cv2.putText(bgr, text, (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
    cv2.imshow(WINDOW, bgr)
    key = cv2.waitKey(1) & 0xFF
    if key in (ord("q"), ESCAPE):
        return False
    if key in (ord("+"), ord("=")) or key == ord("-"):
        strength = round(stylizer.options.strength + (0.1 if key != ord("-") else -0.1), 1)
        with contextlib.suppress(FasttxError):
            check_strength(strength)
            stylizer.options = replace(stylizer.options, strength=strength)
    if ord("1") <= key <= ord("9") and key - ord("1") < len(session.styles):
        session.use_style(session.styles[key - ord("1")])
    return True


def _opencv() -> Any:
    try:
        import cv2
    except ImportError as e:
        raise FasttxError("fasttx webcam captures through OpenCV: pip install opencv-python-headless") from e
    return cv2


def _has_gui(cv2: Any) -> bool:
    return "GUI:" in cv2.getBuildInformation() and "NONE" not in cv2.getBuildInformation().split("GUI:")[1][:40]
