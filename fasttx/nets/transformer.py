"""Image-transformation networks, selected by name from a small registry.

Every network maps an NCHW RGB image in [0, 1] of any height and width to a stylised image of exactly the
same size. The size handling lives in one wrapper (`StyleNet`): reflection-pad to the network's stride,
run the body, crop back. The bodies only see sizes they can handle, and know nothing of losses or files.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fasttx.errors import FasttxError


@dataclass(frozen=True)
class NetConfig:
    """What it takes to rebuild a network: saved inside every model file."""

    arch: str = "johnson"
    # How the body's 3-channel map becomes the image. "additive" (default): it is a change added to the input's
    # pixels, so an untrained net is the identity and training starts from the content; the sum is clamped to
    # [0, 1] with the gradient passed straight through, so a pixel pushed past 0 or 1 can always come back.
    # "residual": the change is added to the input's logits (a sigmoid output: saturated pixels lose their
    # gradient, which shows as bright or dark blobs after short trainings). "direct": the body paints the image from
    # scratch (pytorch/examples).
    output: str = "additive"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


OUTPUT_MODES = ("additive", "residual", "direct")
ARCHITECTURES: dict[str, Callable[[], nn.Module]] = {}


def register(name: str) -> Callable[[Callable[[], nn.Module]], Callable[[], nn.Module]]:
    """Add a body constructor to the registry under `name` (timm-style).

    A body is an nn.Module mapping padded [N, 3, H, W] to a 3-channel map of the same size, with class attributes
    `stride` (H and W must be multiples) and `min_size`, and its last conv as `head` (initialised near zero for
    residual output).
    """

    def add(builder: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
        ARCHITECTURES[name] = builder
        return builder

    return add


def build_net(config: NetConfig) -> StyleNet:
    """The network a config describes, freshly initialised."""
    if config.arch not in ARCHITECTURES:
        raise FasttxError(f"unknown architecture {config.arch!r}; choose from {', '.join(sorted(ARCHITECTURES))}")
    if config.output not in OUTPUT_MODES:
        raise FasttxError(f"unknown output mode {config.output!r}; choose from {', '.join(OUTPUT_MODES)}")
    body = ARCHITECTURES[config.arch]()
    if config.output != "direct":
        # start at the identity: the body's last conv (its `head`) outputs ~0
        nn.init.normal_(body.head.weight, std=1e-3)
        nn.init.zeros_(body.head.bias)
    return StyleNet(body, config)


class StyleNet(nn.Module):
    """Any-size wrapper: pad to the body's stride with reflection, run it, crop back, map to [0, 1]."""

    def __init__(self, body: nn.Module, config: NetConfig):
        super().__init__()
        self.body = body
        self.config = config
        self.stride: int = body.stride
        self.min_size: int = body.min_size

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        pad_h = max(self.min_size - height, (-height) % self.stride)
        pad_w = max(self.min_size - width, (-width) % self.stride)
        pad_h += (-(height + pad_h)) % self.stride
        pad_w += (-(width + pad_w)) % self.stride
        x = image
        if pad_h or pad_w:
            x = _pad_reflect(x, pad_w, pad_h)
        y = self.body(x)[..., :height, :width]
        if self.config.output == "residual":
            # identity at y == 0; stays strictly inside (0, 1) without clamping away gradients
            return torch.sigmoid(torch.logit(image.clamp(0.0, 1.0), eps=1e-3) + y)
        if self.config.output == "additive":
            # forward: the clamped image, as it will be saved; backward: straight through the clamp
            edited = image + y
            return edited + (edited.clamp(0.0, 1.0) - edited).detach()
        return y

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _pad_reflect(x: torch.Tensor, pad_w: int, pad_h: int) -> torch.Tensor:
    """Reflection padding on the right/bottom; falls back to replicate where the image is too small to reflect."""
    height, width = x.shape[-2:]
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


# --- Johnson et al. 2016 --------------------------------------------------------------------------


class ConvLayer(nn.Sequential):
    """Reflection-padded convolution, optionally followed by InstanceNorm (affine) and ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, norm: bool = True, relu: bool = True):
        layers: list[nn.Module] = [nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride)]
        if norm:
            layers.append(nn.InstanceNorm2d(cout, affine=True))
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """Two 3x3 conv layers with an identity shortcut (He et al. 2016, as used by Johnson et al.)."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(ConvLayer(channels, channels, 3), ConvLayer(channels, channels, 3, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class UpsampleConv(nn.Sequential):
    """Nearest-neighbour 2x upsampling then a conv: no transposed convolution, so no checkerboard artefacts."""

    def __init__(self, cin: int, cout: int, kernel: int = 3):
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvLayer(cin, cout, kernel))


class JohnsonNet(nn.Module):
    """Johnson et al. 2016: 9x9 conv, two stride-2 downsamplings, 5 residual blocks at 128 channels, two upsamplings.

    With instance normalisation (Ulyanov et al. 2016) in place of batch norm, as every modern re-implementation does.
    """

    stride = 4  # total downsampling: inputs are padded to a multiple of this
    min_size = 8  # smallest input whose bottleneck still has room for reflection padding

    def __init__(self, width: int = 32, blocks: int = 5):
        super().__init__()
        self.features = nn.Sequential(
            ConvLayer(3, width, 9),
            ConvLayer(width, width * 2, 3, stride=2),
            ConvLayer(width * 2, width * 4, 3, stride=2),
            *[ResidualBlock(width * 4) for _ in range(blocks)],
            UpsampleConv(width * 4, width * 2),
            UpsampleConv(width * 2, width),
            nn.ReflectionPad2d(4),
        )
        self.head = nn.Conv2d(width, 3, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


register("johnson")(JohnsonNet)


# --- compact networks for real-time CPU and mobile use ----------------------------------------------


class SeparableResidualBlock(nn.Module):
    """Residual block of two depthwise-separable 3x3 convs (MobileNet-style): ~8x fewer MACs than a full block."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(
            SeparableConv(channels, channels),
            nn.InstanceNorm2d(channels, affine=True),
            nn.ReLU(inplace=True),
            SeparableConv(channels, channels),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class SeparableConv(nn.Sequential):
    """Reflection-padded depthwise 3x3 conv followed by a pointwise 1x1 conv."""

    def __init__(self, cin: int, cout: int):
        super().__init__(nn.ReflectionPad2d(1), nn.Conv2d(cin, cin, 3, groups=cin), nn.Conv2d(cin, cout, 1))


class CompactNet(nn.Module):
    """A Johnson-style network built for speed: most work happens at 1/8 resolution.

    Three stride-2 convs (downsample early), depthwise-separable residual blocks, nearest-upsample +
    separable convs on the way up, and a 1x1 conv + pixel shuffle (depth-to-space) as the full-resolution
    output, so no convolution ever runs at full resolution except the 3-channel stem.
    """

    stride = 8
    min_size = 16

    def __init__(self, widths: tuple[int, int, int] = (16, 32, 64), blocks: int = 4):
        super().__init__()
        w1, w2, w3 = widths
        self.features = nn.Sequential(
            ConvLayer(3, w1, 3, stride=2),
            ConvLayer(w1, w2, 3, stride=2),
            ConvLayer(w2, w3, 3, stride=2),
            *[SeparableResidualBlock(w3) for _ in range(blocks)],
            nn.Upsample(scale_factor=2, mode="nearest"),
            SeparableConv(w3, w2),
            nn.InstanceNorm2d(w2, affine=True),
            nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2, mode="nearest"),
            SeparableConv(w2, w1),
            nn.InstanceNorm2d(w1, affine=True),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Conv2d(w1, 3 * 4, 1)
        self.to_full_resolution = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_full_resolution(self.head(self.features(x)))


register("small")(lambda: CompactNet((16, 32, 64), blocks=4))
register("tiny")(lambda: CompactNet((8, 16, 32), blocks=3))


def count_macs(net: nn.Module, height: int, width: int) -> int:
    """Multiply-accumulates of the convolutions for one [1, 3, height, width] image (the cost that matters).

    Runs a copy of the network on the meta device: shapes only, no arithmetic, so it is instant at any size.
    """
    total = 0

    def add(module: nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(module, nn.Conv2d)
        kh, kw = module.kernel_size
        total += output.numel() * (module.in_channels // module.groups) * kh * kw

    probe = copy.deepcopy(net).to("meta")
    for conv in (m for m in probe.modules() if isinstance(m, nn.Conv2d)):
        conv.register_forward_hook(add)
    with torch.no_grad():
        probe(torch.zeros(1, 3, height, width, device="meta"))
    return total
