"""Flow-guided blending of the previous stylised frame into the next (`fasttx stylize --temporal-blend W`).

A per-frame network repaints every frame; whatever it paints differently from one frame to the next flickers. The
blend carries the picture along the motion instead: the previous *output* is warped to the current frame along
the optical flow of the *input* frames (OpenCV's DIS, fasttx.temporal.flow_between), and where the flow is
trusted (not occluded, inside the frame) the output becomes

    O_t = (1 - W) S_t + W warp(O_{t-1})

with S_t the network's stylisation of frame t. Disoccluded pixels and new content take S_t alone, so nothing
smears across a cut or a moving edge. W is the share of the past: 0 is off, 0.5 halves what the network changes
from frame to frame where the motion is followed. Flow is estimated on frames shrunk to FLOW_SIDE pixels (its
cost is most of the blend's). Works with any session (.pth or .onnx); on by default for videos (StylizeOptions).
"""

from __future__ import annotations

import numpy as np
import torch

from fasttx.temporal import flow_between, grey_frame, optical_flow, warp

FLOW_SIDE = 480  # long side of the frames the flow is estimated on


class FlowBlend:
    """Stateful over one clip: call it on the frames in order (any batching)."""

    def __init__(self, weight: float, flow_side: int = FLOW_SIDE):
        self.weight = weight
        self.flow_side = flow_side
        self._dis = optical_flow()
        self._grey: np.ndarray | None = None  # the previous input frame's luma
        self._output: torch.Tensor | None = None  # the previous output [1, 3, H, W]

    def __call__(self, frames: np.ndarray, outputs: torch.Tensor) -> torch.Tensor:
        """Input frames [N, H, W, 3] uint8 (what the flow is estimated on) and their stylisations [N, 3, H, W] in
        [0, 1] -> the blended outputs."""
        blended = []
        for frame, stylised in zip(frames, outputs.float(), strict=True):
            grey = grey_frame(frame)
            current = stylised[None]
            if self._grey is not None and self._output is not None and self._grey.shape == grey.shape:
                flow, mask = flow_between(self._grey, grey, self._dis, self.flow_side)
                carried, _ = warp(self._output, flow)
                current = current + mask * self.weight * (carried - current)
            self._grey, self._output = grey, current
            blended.append(current)
        return torch.cat(blended).clamp(0, 1)
