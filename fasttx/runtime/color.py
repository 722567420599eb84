"""After the network: keep the photo's colours (`--preserve-color`) and dial the style down (`--strength`)."""

from __future__ import annotations

import torch

# ITU-R BT.601 luma weights, as JPEG's YCbCr uses
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def luminance(images: torch.Tensor) -> torch.Tensor:
    """Y of [N, 3, H, W] RGB images, as [N, 1, H, W]."""
    weights = torch.tensor(LUMA_WEIGHTS, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)


def preserve_color(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance-only transfer (Gatys et al. 2017): Y from the stylised image, chroma (Cb, Cr) from the photo.

    In YCbCr every RGB channel is Y plus a linear function of Cb and Cr, so swapping Y while keeping the photo's
    Cb, Cr is adding the luminance difference to each of the photo's channels. Pixels pushed outside [0, 1] are
    clipped, the only place where the chroma can move.
    """
    return (content + luminance(stylized) - luminance(content)).clamp_(0.0, 1.0)


def blend(stylized: torch.Tensor, content: torch.Tensor, strength: float) -> torch.Tensor:
    """How much style: a straight pixel-space mix, 0 gives the photo back unchanged, 1 the stylised image."""
    if strength == 1.0:
        return stylized
    if strength == 0.0:
        return content.clone()
    return torch.lerp(content, stylized, strength)
