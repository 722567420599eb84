"""Spectrograms as pictures a person reads: frequency on a log scale (octaves equally tall, low notes at the
bottom), loudness in a dark-to-bright colour scale shared by every panel of one picture, a label over each."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from fasttx.sound.config import Spectrum

ROWS = 192  # picture rows per spectrogram: 40 Hz to half the rate, log-spaced
LOWEST_HZ = 40.0
# black, indigo, magenta, orange, pale yellow: a perceptually ordered scale like matplotlib's "inferno"
_ANCHORS = np.array([[0, 0, 4], [66, 10, 104], [147, 38, 103], [221, 81, 58], [252, 165, 10], [252, 255, 164]])


def spectrogram_picture(spectrum: Spectrum, panels: list[tuple[str, torch.Tensor]], stretch: int = 2) -> Image.Image:
    """`panels`: (label, log-magnitudes [bins, T]) side by side, `stretch` pixels a frame."""
    top = spectrum.rate / 2
    rows = np.geomspace(LOWEST_HZ, top, ROWS)[::-1] / top * (spectrum.bins - 1)  # the bin under each row, top first
    images = [frames.detach().float().cpu().numpy()[np.round(rows).astype(int)] for _, frames in panels]
    scale = max(float(np.percentile(np.concatenate([i.ravel() for i in images]), 99.5)), 1e-6)
    label_h, gap = 14, 4
    width = sum(i.shape[1] * stretch for i in images) + gap * (len(images) - 1)
    picture = Image.new("RGB", (width, ROWS + label_h), "white")
    draw, font, left = ImageDraw.Draw(picture), ImageFont.load_default(), 0
    for (label, _), image in zip(panels, images, strict=True):
        colours = _colour(np.clip(image / scale, 0, 1))
        panel = Image.fromarray(colours).resize((image.shape[1] * stretch, ROWS), Image.Resampling.NEAREST)
        picture.paste(panel, (left, label_h))
        draw.text((left + 2, 1), label, fill="black", font=font)
        left += panel.width + gap
    return picture


def _colour(values: np.ndarray) -> np.ndarray:
    """[H, W] in [0, 1] -> [H, W, 3] uint8 on the _ANCHORS scale."""
    position = values * (len(_ANCHORS) - 1)
    low = np.minimum(position.astype(int), len(_ANCHORS) - 2)
    weight = (position - low)[..., None]
    return ((1 - weight) * _ANCHORS[low] + weight * _ANCHORS[low + 1]).astype(np.uint8)
