"""The two pixel layouts fasttx meets, and the one conversion between them.

Networks take float NCHW RGB in [0, 1] ("images"); decoders, encoders and uint8 ONNX graphs use uint8 NHWC RGB
("frames"). Torch ops only, so the exported graph's uint8 I/O uses the same code as the runtime.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def frames_to_images(frames: torch.Tensor | np.ndarray) -> torch.Tensor:
    """[N, H, W, 3] uint8 -> [N, 3, H, W] float32 in [0, 1] (on the frames' device)."""
    frames = frames_tensor(frames) if isinstance(frames, np.ndarray) else frames
    return frames.permute(0, 3, 1, 2).float().div(255.0)


def frames_tensor(frames: np.ndarray) -> torch.Tensor:
    """A numpy array as a tensor sharing its memory, or a copy of it when it is read-only (decoders' and batch
    engines' buffers often are; torch would warn)."""
    return torch.from_numpy(frames if frames.flags.writeable else frames.copy())


def images_to_frames(images: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] float -> [N, H, W, 3] uint8, clamped to [0, 1] and rounded (what a saved frame holds)."""
    return images.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Float images as a uint8 round trip leaves them: what a uint8 client can feed or will receive."""
    return frames_to_images(images_to_frames(images))


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """[3, H, W] or [N, 3, H, W] resized to `size` (height, width), bilinear and antialiased when shrinking;
    returned unchanged when it already has that size."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    batch = image if image.dim() == 4 else image.unsqueeze(0)
    out = F.interpolate(batch, size=size, mode="bilinear", antialias=True, align_corners=False)
    return out if image.dim() == 4 else out[0]


def scale(image: torch.Tensor, factor: float) -> torch.Tensor:
    """`image` resized by `factor`, the aspect ratio kept (each side rounded, at least 1 px)."""
    height, width = image.shape[-2:]
    return resize(image, (max(1, round(height * factor)), max(1, round(width * factor))))
