"""fasttx.optim: Muon's orthogonalised step on the hidden convs, Adam's on the rest, and a state that resumes."""

from __future__ import annotations

import copy

import pytest
import torch

from fasttx.config import NetConfig, TrainConfig
from fasttx.nets.transformer import build_net
from fasttx.optim import MuonAdam, hidden_convs, orthogonalise
from fasttx.train import param_groups


@pytest.mark.parametrize("shape", [(64, 288), (288, 64)])
def test_orthogonalise_gives_the_polar_factor_up_to_muons_tolerance(shape: tuple[int, int]) -> None:
    torch.manual_seed(0)
    matrix = torch.randn(shape) @ torch.diag(torch.logspace(-1.5, 1, shape[1]))  # condition 10-350
    u, _, vh = torch.linalg.svd(matrix, full_matrices=False)
    result = orthogonalise(matrix)
    singular = torch.linalg.svdvals(result)
    assert singular.min() > 0.5 and singular.max() < 1.3  # every direction moves by about the same amount
    polar = u @ vh
    assert torch.nn.functional.cosine_similarity(result.flatten(), polar.flatten(), dim=0) > 0.9


def test_muon_takes_the_hidden_convs_and_adam_the_rest_exactly_as_torch_adam() -> None:
    torch.manual_seed(0)
    net = build_net(NetConfig(arch="johnson"))
    head = net.body.head.weight
    hidden = hidden_convs(net, head)
    assert len(hidden) == 14 and all(p.shape[1] > 3 for p in hidden) and all(p is not head for p in hidden)
    groups = param_groups(net, None, muon_scale=10.0)
    assert [g["kind"] for g in groups] == ["adam", "adam", "muon"] and groups[2]["lr_scale"] == 10.0
    twin = copy.deepcopy(net)
    optimizer = MuonAdam(groups, lr=1e-3)
    reference = torch.optim.Adam(
        [{"params": [p for n, p in twin.named_parameters() if not _is_hidden(net, n)], "lr": 1e-3}]
    )
    for group in optimizer.param_groups:  # what the training loop does each step: the rate reaches both kinds
        group["lr"] = 1e-3 * group["lr_scale"]
    net(torch.rand(2, 3, 32, 32)).square().mean().backward()
    for a, b in zip(net.parameters(), twin.parameters(), strict=True):
        b.grad = None if a.grad is None else a.grad.clone()
    before = [p.detach().clone() for p in net.parameters()]
    optimizer.step()
    reference.step()
    for (name, a), b, old in zip(net.named_parameters(), twin.parameters(), before, strict=True):
        if _is_hidden(net, name):
            # Nesterov momentum of one gradient, orthogonalised: a step of spectral norm ~lr x 10
            change = torch.linalg.matrix_norm((a.detach() - old).reshape(a.shape[0], -1), ord=2)
            assert 0.5e-2 < float(change) < 1.5e-2, name
        elif name != "body.head.weight":  # the head's own rate differs from the reference's
            torch.testing.assert_close(a, b, atol=0, rtol=0)


def _is_hidden(net: torch.nn.Module, name: str) -> bool:
    hidden = {id(p) for p in hidden_convs(net, net.body.head.weight)}
    return id(dict(net.named_parameters())[name]) in hidden


def test_a_saved_state_continues_exactly() -> None:
    torch.manual_seed(0)
    net = build_net(NetConfig(arch="tiny"))
    optimizer = MuonAdam(param_groups(net, None, muon_scale=10.0), lr=1e-3)
    photos = [torch.rand(2, 3, 24, 24) for _ in range(4)]

    def step(model: torch.nn.Module, opt: torch.optim.Optimizer, photo: torch.Tensor) -> None:
        opt.zero_grad()
        model(photo).square().mean().backward()
        opt.step()

    for photo in photos[:2]:
        step(net, optimizer, photo)
    saved = copy.deepcopy(optimizer.state_dict())
    copy_net = copy.deepcopy(net)
    resumed = MuonAdam(param_groups(copy_net, None, muon_scale=10.0), lr=1e-3)
    resumed.load_state_dict(saved)
    for group in resumed.param_groups:  # a rate set after loading still reaches the inner Adam
        group["lr"] = 2e-3 * group["lr_scale"]
    for group in optimizer.param_groups:
        group["lr"] = 2e-3 * group["lr_scale"]
    for photo in photos[2:]:
        step(net, optimizer, photo)
        step(copy_net, resumed, photo)
    for a, b in zip(net.parameters(), copy_net.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_muon_is_the_default() -> None:
    assert TrainConfig(style=["s.jpg"], dataset="d").muon_lr > 0
