from __future__ import annotations

import pytest
import torch

from fasttx.errors import FasttxError
from fasttx.nets.transformer import ARCHITECTURES, NetConfig, build_net, count_macs


@pytest.mark.parametrize("arch", ["johnson", "small", "tiny"])
@pytest.mark.parametrize("size", [(64, 64), (17, 23), (3, 5), (1, 1), (33, 64), (100, 31)])
def test_output_has_exactly_the_input_size(arch: str, size: tuple[int, int]) -> None:
    net = build_net(NetConfig(arch=arch))
    x = torch.rand(2, 3, *size)
    y = net(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


def test_a_new_net_starts_near_identity_and_saturated_pixels_get_only_the_gradient_back() -> None:
    """The additive edit keeps a full gradient on pixels clamped at 0 or 1, in the direction back into the range;
    the gradient that would push them further out is dropped."""
    torch.manual_seed(0)
    net = build_net(NetConfig(colour=False))
    x = torch.rand(1, 3, 32, 32)
    assert (net(x) - x).abs().mean() < 0.05
    with torch.no_grad():
        net.body.head.bias.fill_(5.0)  # push every pixel far above 1
    out = net(x)
    assert torch.equal(out, torch.ones_like(out))  # the network sees the clamped image it will save
    out.sum().backward()  # a loss that wants darker pixels: descent brings every pixel back towards 1
    assert torch.allclose(net.body.head.bias.grad, torch.full((3,), 32.0 * 32.0))
    net.zero_grad()
    (-net(x)).sum().backward()  # a loss that wants brighter pixels: they are already past 1, nothing to follow
    assert torch.equal(net.body.head.bias.grad, torch.zeros(3))
    net.zero_grad()
    with torch.no_grad():
        net.body.head.bias.fill_(-5.0)  # every pixel far below 0
    (-net(x)).sum().backward()  # wanting brighter pixels brings them back
    assert torch.allclose(net.body.head.bias.grad, torch.full((3,), -32.0 * 32.0))


def test_johnson_parameter_count() -> None:
    # Johnson et al. 2016 with InstanceNorm: 1,679,235 parameters (~1.68 M), plus the 12 of the colour map
    assert build_net(NetConfig(arch="johnson", colour=False)).parameter_count() == 1_679_235
    assert build_net(NetConfig(arch="johnson")).parameter_count() == 1_679_235 + 12


def test_gradients_reach_every_parameter_for_odd_sizes() -> None:
    net = build_net(NetConfig())
    net(torch.rand(1, 3, 21, 19)).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_unknown_architecture_is_a_user_error() -> None:
    with pytest.raises(FasttxError, match="johnson"):
        build_net(NetConfig(arch="nope"))
    assert "johnson" in ARCHITECTURES


def test_count_macs_by_hand() -> None:
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    assert count_macs(conv, 10, 20) == 10 * 20 * 8 * 3 * 9
    grouped = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
    assert count_macs(torch.nn.Sequential(conv, grouped), 10, 20) == 10 * 20 * 8 * (3 * 9 + 9)


def test_compact_nets_are_much_cheaper_than_johnson() -> None:
    macs = {arch: count_macs(build_net(NetConfig(arch=arch)), 720, 1280) for arch in ("johnson", "small", "tiny")}
    assert macs["johnson"] > 50 * macs["small"] > 50 * macs["tiny"]


def test_colour_map_starts_at_the_identity_and_maps_absolute_colours() -> None:
    """The body sees the photo through instance norms (its mean colour removed); the colour map sees the pixels."""
    torch.manual_seed(0)
    net = build_net(NetConfig())
    dark, bright = torch.full((1, 3, 16, 16), 0.2), torch.full((1, 3, 16, 16), 0.7)
    assert torch.allclose(net(dark), dark, atol=1e-2) and torch.allclose(net(bright), bright, atol=1e-2)
    with torch.no_grad():
        net.colour.weight.copy_(-0.5 * torch.eye(3).view(3, 3, 1, 1))  # halve every colour
    assert torch.allclose(net(dark), 0.5 * dark, atol=1e-2) and torch.allclose(net(bright), 0.5 * bright, atol=1e-2)
