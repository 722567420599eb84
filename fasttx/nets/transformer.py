"""Image-transformation networks, selected by name from a small registry.

Every network maps an NCHW RGB image in [0, 1] of any height and width to a stylised image of exactly the
same size. The size handling lives in one wrapper (`StyleNet`): reflection-pad to the network's stride,
run the body, crop back. The bodies only see sizes they can handle, and know nothing of losses or files.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from fasttx.config import NetConfig
from fasttx.errors import FasttxError

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
    if config.styles < 1:
        raise FasttxError(f"a network needs at least one style (got {config.styles})")
    body = ARCHITECTURES[config.arch]()
    condition = StyleCondition()
    if config.styles > 1:
        _condition_norms(body, config.styles, condition)
    # start at the identity: the body's last conv (its `head`) outputs ~0
    nn.init.normal_(body.head.weight, std=1e-3)
    nn.init.zeros_(body.head.bias)
    return StyleNet(body, config, condition)


class StyleCondition:
    """The style weights of the forward pass under way, [N or 1, styles]: set by StyleNet.forward, read by each of
    its ConditionalInstanceNorm2d layers (a plain object, so it is neither a parameter nor a submodule)."""

    weights: torch.Tensor | None = None


class ConditionalInstanceNorm2d(nn.Module):
    """Instance norm with one scale and shift vector per style (Dumoulin et al. 2017), mixed by the style weights.

    A style is these vectors (a few thousand numbers), the convolutions are shared; a blend of styles is the blend
    of their vectors. The normalisation itself is a plain nn.InstanceNorm2d, so tiling's shared statistics apply.
    """

    def __init__(self, channels: int, styles: int, condition: StyleCondition):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.weight = nn.Parameter(torch.ones(styles, channels))
        self.bias = nn.Parameter(torch.zeros(styles, channels))
        self.condition = condition

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.condition.weights
        assert weights is not None, "run through StyleNet.forward, which sets the style weights"
        if weights.dim() == 4:  # a per-pixel map [N, styles, h, w]: each pixel its own mix (spatial mixing)
            weights = F.interpolate(weights, size=x.shape[-2:], mode="bilinear", align_corners=False)
            scale = torch.einsum("nshw,sc->nchw", weights, self.weight)
            shift = torch.einsum("nshw,sc->nchw", weights, self.bias)
        else:
            scale = (weights @ self.weight)[..., None, None]
            shift = (weights @ self.bias)[..., None, None]
        return self.norm(x) * scale.to(x.dtype) + shift.to(x.dtype)


def _condition_norms(body: nn.Module, styles: int, condition: StyleCondition) -> None:
    """Replace every affine InstanceNorm2d of `body` by a ConditionalInstanceNorm2d (any architecture)."""
    for parent in list(body.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.InstanceNorm2d) and child.affine:
                setattr(parent, name, ConditionalInstanceNorm2d(child.num_features, styles, condition))


def style_parameters(net: StyleNet) -> dict[str, nn.Parameter]:
    """Every per-style parameter of `net` by name: its norms' scales and shifts, its colour map. Each holds
    `net.styles` equal blocks of rows along its first dimension, one per style."""
    norms = [
        name
        for name, module in net.named_modules()
        if isinstance(module, ConditionalInstanceNorm2d) or (isinstance(module, nn.InstanceNorm2d) and module.affine)
    ]
    return {
        name: param
        for name, param in net.named_parameters()
        if name.startswith("colour.") or name.rpartition(".")[0] in norms
    }


def style_vectors(net: StyleNet) -> dict[str, torch.Tensor]:
    """Every per-style tensor of `net` (style_parameters), as [styles, ...]."""
    return {name: param.detach().unflatten(0, (net.styles, -1)) for name, param in style_parameters(net).items()}


def with_new_style(net: StyleNet) -> StyleNet:
    """A copy of `net` grown by one style (the last), for --add-style: the old styles' vectors copied, the new one
    starting from their mean. A one-style network becomes two."""
    grown = build_net(replace(net.config, styles=net.styles + 1))
    rows = style_vectors(net)
    state = grown.state_dict()
    for name, value in net.state_dict().items():
        if name in rows:
            value = torch.cat([rows[name], rows[name].mean(dim=0, keepdim=True)])
        state[name].copy_(value.reshape(state[name].shape))
    grown.load_state_dict(state)
    return grown


def same_kind(a: NetConfig, b: NetConfig) -> bool:
    """Whether networks of configs `a` and `b` differ at most in their number of styles (what --init can start from)."""
    return replace(a, styles=b.styles) == b


def start_from(net: StyleNet, trained: StyleNet, mixes: torch.Tensor | None = None) -> torch.Tensor:
    """Set `net`'s weights to a trained network's (--init): the convolutions as they are, and style i's vectors
    to the mix `mixes[i]` [trained.styles] of the trained styles' (default: their mean); returns the mixes used.
    The network then paints from the first step (the trained body already makes textures) instead of leaving the
    identity slowly; the content target pulls it to its own style. Mixing the vectors is what StyleNet.forward's
    mix does, so a start is an output the trained network can already make."""
    if not same_kind(trained.config, net.config):
        raise FasttxError(
            f"--init needs a network of the same kind: it is {trained.config.arch}"
            f"{'' if trained.config.colour else ' without the colour map'}, this run trains {net.config.arch}"
        )
    if mixes is None:
        mixes = mean_style(trained.styles).expand(net.styles, -1)
    rows = style_vectors(trained)
    state = net.state_dict()
    for name, value in trained.state_dict().items():
        if name in rows:
            value = torch.einsum("ns,s...->n...", mixes.to(value), rows[name])
        state[name].copy_(value.reshape(state[name].shape))
    net.load_state_dict(state)
    return mixes


def train_only_style(net: StyleNet, style: int) -> list[nn.Parameter]:
    """Freeze everything but style `style`'s vectors (the norms' scale and shift, its colour map) and return the
    parameters that hold them; their gradients are masked to that style's rows, so the others never move."""
    for param in net.parameters():
        param.requires_grad_(False)
    params = list(style_parameters(net).values())
    for param in params:
        rows = param.shape[0] // net.styles
        mask = torch.zeros(param.shape[0], *([1] * (param.dim() - 1)))
        mask[rows * style : rows * (style + 1)] = 1.0
        param.requires_grad_(True)
        param.register_hook(lambda grad, mask=mask: grad * mask.to(grad.device, grad.dtype))
    return params


def one_style(style: int, styles: int) -> torch.Tensor:
    """The [1, styles] weights of one pure style."""
    weights = torch.zeros(1, styles)
    weights[0, style] = 1.0
    return weights


def mean_style(styles: int) -> torch.Tensor:
    """The [1, styles] weights of the equal mix of all styles (where --init starts a style by default)."""
    return torch.full((1, styles), 1 / styles)


class StyleNet(nn.Module):
    """Any-size wrapper: pad to the body's stride with reflection, run it, crop back, map to [0, 1].

    One forward for training, tiling and the exported ONNX graph (it traces with symbolic sizes).
    """

    def __init__(self, body: nn.Module, config: NetConfig, condition: StyleCondition | None = None):
        super().__init__()
        self.body = body
        self.config = config
        self.stride: int = body.stride
        self.min_size: int = body.min_size
        self.styles: int = config.styles
        self.condition = condition or StyleCondition()  # what the body's conditional norms read
        # the photo's own colours, mapped per pixel (see NetConfig.colour), one map per style; zero at the start:
        # the identity
        self.colour = nn.Conv2d(3, 3 * config.styles, 1) if config.colour else None
        if self.colour is not None:
            nn.init.zeros_(self.colour.weight)
            nn.init.zeros_(self.colour.bias)

    def forward(self, image: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        """[N, 3, H, W] in [0, 1] -> the stylised image. `style`: the weights of the network's styles, [N or 1,
        styles] (default: the first style alone), or a map of them, [N or 1, styles, h, w] at any resolution
        (stretched over the image), one mix per pixel. Weights summing to 1 blend the styles; what they sum to
        below 1 is left to the photo (the strength dial: 0.5 x a style is half of it, all zeros the photo), so the
        mix and the strength are one input of the network and of its ONNX graph."""
        if self.styles == 1:
            return self._stylise(image, None)
        height, width = image.shape[-2:]
        weights = style.to(image.device, torch.float32) if style is not None else self._first_style(image)
        if weights.dim() == 4:  # at the image's size; the body sees it padded like the image
            weights = F.interpolate(weights, size=(height, width), mode="bilinear", align_corners=False)
        amount = weights.sum(dim=1, keepdim=True)  # [N, 1] or [N, 1, H, W]: how much style, 1 for a pure one
        weights = weights / amount.clamp_min(1e-6)
        self.condition.weights = pad_to_stride(weights, self.stride, self.min_size) if weights.dim() == 4 else weights
        styled = self._stylise(image, weights)
        amount = amount if amount.dim() == 4 else amount[:, :, None, None]
        return image + amount.to(styled.dtype) * (styled - image)

    def _stylise(self, image: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        height, width = image.shape[-2:]
        y = self.body(pad_to_stride(image, self.stride, self.min_size))[..., :height, :width]
        # forward: the clamped image, as it will be saved; backward: through the clamp, towards the range only
        edited = image + y if self.colour is None else image + y + self._colour_edit(image, weights)
        if edited.requires_grad:
            edited.register_hook(_towards_range(edited.detach()))
        return edited + (edited.clamp(0.0, 1.0) - edited).detach()

    def _first_style(self, image: torch.Tensor) -> torch.Tensor:
        return one_style(0, self.styles).to(image.device)

    def _colour_edit(self, image: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        assert self.colour is not None
        maps = self.colour(image)  # [N, 3 * styles, H, W]: each style's map of the photo's colours
        if weights is None:
            return maps
        maps = maps.unflatten(1, (self.styles, 3))
        per_pixel = weights[:, :, None] if weights.dim() == 4 else weights[:, :, None, None, None]
        return (maps * per_pixel.to(maps.dtype)).sum(dim=1)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _towards_range(edited: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """Gradient hook for the clamped edit: a pixel outside [0, 1] gets only the gradient that brings it back.

    A plain straight-through clamp also passes the gradient that pushes a clamped pixel further out, where the loss
    cannot see it: the edit ran away to +-4 (demo model, 200 steps) in saturated patches that no later gradient could
    bring back into view. A hard clamp's zero gradient would leave such pixels stuck instead.
    """
    above, below = edited > 1, edited < 0

    def hook(grad: torch.Tensor) -> torch.Tensor:
        # gradient descent moves a pixel by -grad: above the range only grad > 0 brings it back, below only grad < 0
        return grad.masked_fill((above & (grad < 0)) | (below & (grad > 0)), 0.0)

    return hook


def pad_to_stride(image: torch.Tensor, stride: int, min_size: int = 1) -> torch.Tensor:
    """[N, C, H, W] padded on the bottom/right to multiples of `stride`, at least `min_size`, by reflection (or by
    replication where the image is too small to reflect).

    Written as an index gather with a data-independent choice between the two so that torch.export keeps H and W
    symbolic: Python `max` and `if` on the sizes would be resolved once, for the traced example (a graph traced at
    64x64 silently mis-cropped 47x33). For an already aligned size the gather is the identity.
    """
    height, width = image.shape[-2:]
    reflect_rows, replicate_rows = _pad_indices(height, stride, min_size, image.device)
    reflect_cols, replicate_cols = _pad_indices(width, stride, min_size, image.device)
    can_reflect = (reflect_rows.min() >= 0) & (reflect_cols.min() >= 0)  # reflection needs pad < size on both axes
    rows = torch.where(can_reflect, reflect_rows, replicate_rows)
    cols = torch.where(can_reflect, reflect_cols, replicate_cols)
    return image.index_select(2, rows).index_select(3, cols)


def _pad_indices(size: Any, stride: int, min_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Source index of each padded position along one axis: for reflection and for replication."""
    blocks = torch.sym_max((size + stride - 1) // stride, -(-min_size // stride))
    index = torch.arange(blocks * stride, device=device)
    last = size - 1
    return torch.where(index <= last, index, 2 * last - index), index.clamp(max=last)


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
    """Multiply-accumulates of the convolutions for one [1, 3, height, width] image (the cost that matters)."""
    total = 0

    def add(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size  # type: ignore[misc]
        total += output.numel() * (module.in_channels // module.groups) * kh * kw  # type: ignore[operator]

    _probe(net, height, width, add)
    return total


def peak_activation_bytes(net: nn.Module, height: int, width: int) -> int:
    """A lower bound of the memory one [1, 3, height, width] float32 image needs in inference: the largest input
    plus output of any convolution (what must coexist), for out-of-memory messages that say how much."""
    peak = 0

    def add(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal peak
        peak = max(peak, 4 * (inputs[0].numel() + output.numel()))

    _probe(net, height, width, add)
    return peak


def _probe(net: nn.Module, height: int, width: int, hook: Callable[..., None]) -> None:
    """Run a copy of `net` on the meta device (shapes only, no arithmetic: instant at any size), `hook` on every
    convolution."""
    probe = copy.deepcopy(net).to("meta")
    for conv in (m for m in probe.modules() if isinstance(m, nn.Conv2d)):
        conv.register_forward_hook(hook)
    with torch.no_grad():
        probe(torch.zeros(1, 3, height, width, device="meta"))
