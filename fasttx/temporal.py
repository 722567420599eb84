"""Temporal stability of stylised video: the warping error and clips whose motion is known.

A per-frame network answers the small changes between frames (sensor noise, compression, a one-pixel pan) with
changes of its strokes and colours: the video flickers. The measure (Lai et al. 2018, "warping error"): warp the
stylised frame t to frame t+1 along the motion of the *input* frames and compare it with the stylised frame t+1
where both see the same scene point,

    E_t = sum_p M_t(p) |O_{t+1}(p) - O_t(p + f_t(p))|^2 / (3 sum_p M_t(p))

with f_t the backward flow (where each pixel of frame t+1 was in frame t), M_t the pixels that are not occluded or
outside frame t, and O in [0, 1]. The same number for the input frames is the floor: what a stylisation as
consistent as the video itself would score (noise, compression and resampling keep it above 0).

Motion comes from `synthetic_clip` (a still photo panned, zoomed or rotated, so the flow is exact) or, for real
clips, from OpenCV's DIS optical flow with a forward-backward check for occlusions (`estimate_flows`; OpenCV is
a dependency).
"""

from __future__ import annotations

import io
import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from fasttx.errors import FasttxError
from fasttx.pixels import frames_to_images, images_to_frames, scale

MOTIONS = ("still", "pan", "zoom", "rotate")


def warp(image: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Backward warp: out(p) = image(p + flow(p)), bilinear, for [N, C, H, W] images and [N, 2, H, W] flows in pixels
    (x then y). Also the [N, 1, H, W] mask of pixels whose source lies inside the image."""
    n, _, h, w = image.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, device=flow.device, dtype=flow.dtype),
        torch.arange(w, device=flow.device, dtype=flow.dtype),
        indexing="ij",
    )
    x = xs + flow[:, 0]
    y = ys + flow[:, 1]
    inside = ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).unsqueeze(1).to(image.dtype)
    grid = torch.stack([2 * x / max(w - 1, 1) - 1, 2 * y / max(h - 1, 1) - 1], dim=-1)
    out = F.grid_sample(image, grid.to(image.dtype), mode="bilinear", padding_mode="border", align_corners=True)
    return out, inside


def warping_error(frames: torch.Tensor, flows: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Per pair of successive frames [T, 3, H, W] in [0, 1], the masked mean squared difference between frame t+1
    and frame t warped along `flows` [T-1, 2, H, W] (backward: from t+1 into t), over `masks` [T-1, 1, H, W]."""
    if len(frames) < 2:
        raise FasttxError("a temporal error needs at least two frames")
    warped, inside = warp(frames[:-1].float(), flows.float())
    mask = masks.float() * inside
    squared = (frames[1:].float() - warped).pow(2).sum(dim=1, keepdim=True)
    return (squared * mask).flatten(1).sum(1) / (3 * mask.flatten(1).sum(1).clamp_min(1.0))


@dataclass
class Clip:
    """Frames [T, 3, H, W] in [0, 1] and the motion between them: backward flows [T-1, 2, H, W] (pixels) and the
    masks [T-1, 1, H, W] of pixels seen in both frames of each pair."""

    frames: torch.Tensor
    flows: torch.Tensor
    masks: torch.Tensor


def synthetic_clip(
    photo: torch.Tensor,
    size: tuple[int, int],
    frames: int = 24,
    motion: str = "pan",
    noise: float = 0.01,
    jpeg_quality: int | None = 85,
    seed: int = 0,
) -> Clip:
    """A `frames`-frame clip of `size` (height, width) filmed from the still `photo` [3, H, W] by a camera that
    pans (1 px per frame right and 0.5 down), zooms in (0.4 % per frame), rotates (0.25 degrees per frame) or stays
    still; each frame gets its own Gaussian noise (sigma `noise`) and JPEG compression, as a phone's would. The
    view is a centred window of 70 % of the photo, so the motion never leaves it; the flows are exact."""
    if motion not in MOTIONS:
        raise FasttxError(f"unknown motion {motion!r}; choose one of {', '.join(MOTIONS)}")
    height, width = size
    # shrunk (antialiased) first so that a frame pixel is about a photo pixel: sampling a larger photo directly
    # aliases, and aliased frames disagree under sub-pixel motion whatever the flow
    photo = scale(photo, min(1.0, 1 / (0.7 * min(photo.shape[-1] / width, photo.shape[-2] / height))))
    photo_h, photo_w = photo.shape[-2:]
    view = 0.7 * min(photo_w / width, photo_h / height)  # photo pixels per frame pixel
    cameras = [_camera(t, motion, view, (photo_w, photo_h), (width, height)) for t in range(frames)]
    generator = torch.Generator().manual_seed(seed)
    images = []
    for camera in cameras:
        frame = _sample(photo, camera, height, width)
        frame = (frame + noise * torch.randn(frame.shape, generator=generator)).clamp(0, 1)
        images.append(_jpeg(frame, jpeg_quality) if jpeg_quality else frame)
    flows = torch.stack([_affine_flow(a, b, height, width) for a, b in itertools.pairwise(cameras)])
    return Clip(torch.stack(images), flows, torch.ones(frames - 1, 1, height, width))


def _camera(t: int, motion: str, view: float, photo: tuple[int, int], frame: tuple[int, int]) -> np.ndarray:
    """3x3 map from frame pixel (x, y, 1) to photo pixel at time t: centred, scaled by `view`, then moved."""
    (pw, ph), (fw, fh) = photo, frame
    centre = np.array([[1, 0, -(fw - 1) / 2], [0, 1, -(fh - 1) / 2], [0, 0, 1]])
    angle = math.radians(0.25 * t) if motion == "rotate" else 0.0
    zoom = view / (1.004**t if motion == "zoom" else 1.0)
    c, s = math.cos(angle) * zoom, math.sin(angle) * zoom
    shift = (t * 1.0 * view, t * 0.5 * view) if motion == "pan" else (0.0, 0.0)
    place = np.array([[c, -s, (pw - 1) / 2 + shift[0]], [s, c, (ph - 1) / 2 + shift[1]], [0, 0, 1]])
    if motion == "pan":  # start left of centre so the pan stays inside the photo
        place[0, 2] -= 12 * view
    return place @ centre


def _pixel_points(height: int, width: int) -> np.ndarray:
    """[3, H*W] homogeneous (x, y, 1) coordinates of a frame's pixels, row by row (what the cameras map)."""
    ys, xs = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])


def _sample(photo: torch.Tensor, camera: np.ndarray, height: int, width: int) -> torch.Tensor:
    points = camera @ _pixel_points(height, width)
    pw, ph = photo.shape[-1], photo.shape[-2]
    grid = np.stack([2 * points[0] / (pw - 1) - 1, 2 * points[1] / (ph - 1) - 1], axis=-1).reshape(height, width, 2)
    grid_t = torch.from_numpy(grid).float()[None]
    return F.grid_sample(photo[None].float(), grid_t, mode="bicubic", padding_mode="border", align_corners=True)[0]


def _affine_flow(before: np.ndarray, after: np.ndarray, height: int, width: int) -> torch.Tensor:
    """Backward flow of a pair: the pixel p of the later frame shows the photo point after @ p, which the earlier
    frame shows at inv(before) @ after @ p."""
    points = _pixel_points(height, width)
    moved = np.linalg.inv(before) @ after @ points
    flow = (moved[:2] - points[:2]).reshape(2, height, width)
    return torch.from_numpy(flow).float()


def _jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    buffer = io.BytesIO()
    Image.fromarray(images_to_frames(image[None])[0].numpy()).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return frames_to_images(np.array(Image.open(buffer).convert("RGB"))[None])[0]


def estimate_flows(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Backward flows [T-1, 2, H, W] and occlusion masks [T-1, 1, H, W] of real frames [T, 3, H, W] in [0, 1]
    (`flow_between` for every pair of successive frames)."""
    dis = optical_flow()
    grey = [grey_frame(frame) for frame in images_to_frames(frames).numpy()]
    pairs = [flow_between(before, after, dis) for before, after in itertools.pairwise(grey)]
    return torch.cat([flow for flow, _ in pairs]), torch.cat([mask for _, mask in pairs])


def optical_flow() -> Any:
    """OpenCV's DIS optical flow (medium preset); OpenCV is an optional extra."""
    try:
        import cv2
    except ImportError as e:
        raise FasttxError("optical flow needs OpenCV: pip install opencv-python-headless") from e
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


def grey_frame(frame: np.ndarray) -> np.ndarray:
    """[H, W, 3] uint8 RGB -> [H, W] uint8 luma, what the flow is estimated on."""
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def flow_between(
    before: np.ndarray, after: np.ndarray, dis: Any, max_side: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Backward flow [1, 2, H, W] (where each pixel of `after` was in `before`) and occlusion mask [1, 1, H, W] of
    two grey frames [H, W] uint8: DIS both ways, a pixel kept where the two agree (Ruder et al. 2016:
    |f_b + f_f(p + f_b)|^2 <= 0.01 (|f_b|^2 + |f_f(p + f_b)|^2) + 0.5). With `max_side`, estimated on frames
    shrunk to that long side and scaled back up: a fraction of the cost, the motion of large regions kept."""
    h, w = before.shape
    shrink = min(1.0, max_side / max(h, w)) if max_side else 1.0
    if shrink < 1.0:
        import cv2

        size = (max(1, round(w * shrink)), max(1, round(h * shrink)))
        before, after = (cv2.resize(g, size, interpolation=cv2.INTER_AREA) for g in (before, after))
    backward = torch.from_numpy(dis.calc(after, before, None)).permute(2, 0, 1)[None]
    forward = torch.from_numpy(dis.calc(before, after, None)).permute(2, 0, 1)[None]
    forward_at, inside = warp(forward, backward)
    mismatch = (backward + forward_at).pow(2).sum(1, keepdim=True)
    size_ = backward.pow(2).sum(1, keepdim=True) + forward_at.pow(2).sum(1, keepdim=True)
    mask = (mismatch <= 0.01 * size_ + 0.5 * shrink**2).float() * inside
    if shrink < 1.0:
        backward = F.interpolate(backward, size=(h, w), mode="bilinear", align_corners=False) / shrink
        mask = (F.interpolate(mask, size=(h, w), mode="bilinear", align_corners=False) > 0.5).float()
    return backward, mask
