"""Temporal stability: the warping error against hand computation, clips with exact motion, optical flow, shared
InstanceNorm statistics over a clip, and the consistency term of training."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fasttx import temporal
from fasttx.config import StylizeOptions
from fasttx.errors import FasttxError
from fasttx.pixels import images_to_frames

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def smooth_photo(height: int = 96, width: int = 128, seed: int = 0) -> torch.Tensor:
    """A photo-like [3, H, W] image: a few large blurred blobs of colour (no aliasing at one pixel of motion)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, height // 16, width // 16, generator=generator)
    return nn.functional.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)[0].clamp(0, 1)


def test_warp_by_a_whole_pixel_shift_is_the_shifted_image_and_masks_what_came_from_outside() -> None:
    image = torch.arange(4 * 5, dtype=torch.float32).reshape(1, 1, 4, 5)
    flow = torch.zeros(1, 2, 4, 5)
    flow[:, 0] = 1.0  # every pixel comes from one to its right
    warped, inside = temporal.warp(image, flow)
    assert torch.equal(warped[..., :4], image[..., 1:])
    assert inside[0, 0, :, :4].all() and not inside[0, 0, :, 4].any()


def test_warping_error_is_the_masked_mean_squared_difference_per_channel() -> None:
    frames = torch.zeros(3, 3, 2, 2)
    frames[1, 0] = 0.5  # frame 1 differs from frame 0 by 0.5 in red everywhere
    frames[2] = frames[1]
    masks = torch.ones(2, 1, 2, 2)
    masks[0, 0, 0, 0] = 0.0
    errors = temporal.warping_error(frames, torch.zeros(2, 2, 2, 2), masks)
    assert errors[0].item() == pytest.approx(0.25 / 3)  # 3 kept pixels, each 0.25 over 3 channels
    assert errors[1].item() == 0.0
    with pytest.raises(FasttxError, match="two frames"):
        temporal.warping_error(frames[:1], torch.zeros(0, 2, 2, 2), masks[:0])


@pytest.mark.parametrize("motion", ["pan", "zoom", "rotate"])
def test_synthetic_clips_carry_their_exact_motion(motion: str) -> None:
    clip = temporal.synthetic_clip(smooth_photo(), (48, 64), frames=5, motion=motion, noise=0.0, jpeg_quality=None)
    assert clip.frames.shape == (5, 3, 48, 64) and clip.flows.shape == (4, 2, 48, 64)
    along = temporal.warping_error(clip.frames, clip.flows, clip.masks).mean()
    still = temporal.warping_error(clip.frames, torch.zeros_like(clip.flows), clip.masks).mean()
    assert along < 2e-4 and along < still / 3  # the known motion explains the change between frames


def test_noise_and_compression_raise_the_inputs_own_error_the_floor() -> None:
    def floor(noise: float, quality: int | None) -> float:
        clip = temporal.synthetic_clip(
            smooth_photo(), (48, 64), frames=4, motion="still", noise=noise, jpeg_quality=quality
        )
        return float(temporal.warping_error(clip.frames, clip.flows, clip.masks).mean())

    assert floor(0.0, None) < 1e-12
    assert floor(0.02, None) == pytest.approx(2 * 0.02**2, rel=0.1)  # independent noise in both frames
    assert floor(0.0, 60) > 0  # compression alone: each frame's own blocks


def test_optical_flow_recovers_a_known_pan() -> None:
    pytest.importorskip("cv2")
    clip = temporal.synthetic_clip(smooth_photo(192, 256), (96, 128), frames=3, motion="pan", noise=0.0)
    flows, masks = temporal.estimate_flows(clip.frames)
    kept = masks.bool().expand_as(flows)
    assert masks.mean() > 0.8
    assert (flows - clip.flows)[kept].abs().mean() < 0.25  # pixels; the true motion is (1, 0.5) per frame


def test_flow_blend_mixes_in_the_previous_output_where_nothing_moved() -> None:
    pytest.importorskip("cv2")
    from fasttx.runtime.flow_blend import FlowBlend

    frame = smooth_photo(48, 64)[None].expand(2, -1, -1, -1)  # a still scene: zero flow, nothing occluded
    outputs = torch.rand(2, 3, 48, 64, generator=torch.Generator().manual_seed(1))
    blended = FlowBlend(0.25)(images_to_frames(frame).numpy(), outputs)
    torch.testing.assert_close(blended[0], outputs[0])  # the first frame has no past
    torch.testing.assert_close(blended[1], 0.75 * outputs[1] + 0.25 * outputs[0], atol=2e-3, rtol=0)
    with pytest.raises(FasttxError, match="temporal-blend"):  # 1 would repeat the first frame: checked with the options
        StylizeOptions(temporal_blend=1.0).validate()


def test_flow_blend_follows_a_pan_and_lowers_the_warping_error_of_flickering_outputs() -> None:
    pytest.importorskip("cv2")
    from fasttx.runtime.flow_blend import FlowBlend

    clip = temporal.synthetic_clip(smooth_photo(192, 256), (96, 128), frames=8, motion="pan", noise=0.0)
    flicker = clip.frames + 0.05 * torch.randn(clip.frames.shape, generator=torch.Generator().manual_seed(0))
    flicker = flicker.clamp(0, 1)  # a "stylisation" that repaints its noise every frame
    blend = FlowBlend(0.5)
    frames = images_to_frames(clip.frames).numpy()
    blended = torch.cat([blend(frames[i : i + 3], flicker[i : i + 3]) for i in range(0, 8, 3)])  # any batching
    before = temporal.warping_error(flicker, clip.flows, clip.masks).mean()
    after = temporal.warping_error(blended, clip.flows, clip.masks).mean()
    assert after < 0.5 * before
    assert (blended - clip.frames).abs().mean() < (flicker - clip.frames).abs().mean()  # not smeared off the scene
