from __future__ import annotations

import pytest
import torch

from fasttx.errors import FasttxError
from fasttx.nets.transformer import ARCHITECTURES, NetConfig, build_net


@pytest.mark.parametrize("size", [(64, 64), (17, 23), (3, 5), (1, 1), (33, 64), (100, 31)])
def test_output_has_exactly_the_input_size(size: tuple[int, int]) -> None:
    net = build_net(NetConfig())
    x = torch.rand(2, 3, *size)
    y = net(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


def test_residual_net_starts_near_identity_and_stays_in_range() -> None:
    torch.manual_seed(0)
    net = build_net(NetConfig(output="residual"))
    x = torch.rand(1, 3, 32, 32)
    y = net(x)
    assert (y - x).abs().mean() < 0.02
    assert y.min() > 0 and y.max() < 1


def test_direct_net_does_not_start_at_identity() -> None:
    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 32)
    y = build_net(NetConfig(output="direct"))(x)
    assert (y - x).abs().mean() > 0.1


def test_johnson_parameter_count() -> None:
    # Johnson et al. 2016 with InstanceNorm: 1,679,235 parameters (~1.68 M)
    assert build_net(NetConfig(arch="johnson")).parameter_count() == 1_679_235


def test_gradients_reach_every_parameter_for_odd_sizes() -> None:
    net = build_net(NetConfig())
    net(torch.rand(1, 3, 21, 19)).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_unknown_architecture_is_a_user_error() -> None:
    with pytest.raises(FasttxError, match="johnson"):
        build_net(NetConfig(arch="nope"))
    assert "johnson" in ARCHITECTURES
