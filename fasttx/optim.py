"""The optimiser: Muon for the network's hidden convolutions, Adam for every other weight.

Muon (Jordan et al. 2024, https://kellerjordan.github.io/posts/muon/) replaces a weight matrix's momentum by the
nearest semi-orthogonal matrix (five Newton-Schulz iterations, the coefficients of torch.optim.Muon), so each step
moves every direction of the matrix by the same amount instead of mostly the few that dominate the gradient.
torch.optim.Muon takes 2-D weights only; a conv's [out, in, k, k] weights are the [out, in x k x k] matrix it
multiplies patches by, so they are orthogonalised in that shape here. The first conv (it reads the photo's three
channels), the output conv (README: it has its own rate), the colour map, biases and the norms' vectors stay with
Adam, as Muon's authors do with a network's input and output layers. Why: README, "How the defaults were chosen".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

NEWTON_SCHULZ = (3.4445, -4.7750, 2.0315)  # torch.optim.Muon's quintic coefficients
MOMENTUM = 0.95  # Nesterov, as torch.optim.Muon


def orthogonalise(matrix: Tensor, steps: int = 5) -> Tensor:
    """~U V^T of matrix = U S V^T (singular values brought to ~[0.5, 1.5], which is what Muon needs), in fp32."""
    a, b, c = NEWTON_SCHULZ
    x = matrix.float()
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    x = x / (x.norm() + 1e-7)  # spectral norm <= 1
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


class MuonAdam(torch.optim.Optimizer):
    """One optimiser over groups of two kinds: "muon" groups (conv or matrix weights) and "adam" groups.

    The Adam groups are stepped by a torch.optim.Adam that shares their dicts, so a rate set on `param_groups`
    reaches both; `state_dict` holds both states, so a resumed run continues exactly."""

    def __init__(self, groups: list[dict[str, Any]], lr: float) -> None:
        super().__init__(groups, {"lr": lr, "kind": "adam"})
        self.adam = torch.optim.Adam(self._adam_groups(), lr=lr)

    def _adam_groups(self) -> list[dict[str, Any]]:
        return [group for group in self.param_groups if group["kind"] == "adam"]

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> None:  # type: ignore[override]
        assert closure is None, "MuonAdam takes no closure"
        self.adam.step()
        for group in self.param_groups:
            if group["kind"] != "muon":
                continue
            for param in group["params"]:
                if param.grad is None:
                    continue
                momentum = self.state[param].setdefault("momentum", torch.zeros_like(param))
                momentum.lerp_(param.grad, 1 - MOMENTUM)
                update = param.grad.lerp(momentum, MOMENTUM).reshape(param.shape[0], -1)
                scale = max(1.0, update.shape[0] / update.shape[1]) ** 0.5  # torch.optim.Muon's "original"
                param.add_(orthogonalise(update).view_as(param).to(param.dtype), alpha=-group["lr"] * scale)

    def state_dict(self) -> dict[str, Any]:
        return {"muon": super().state_dict(), "adam": self.adam.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict["muon"])  # new group dicts ...
        self.adam.load_state_dict(state_dict["adam"])
        self.adam.param_groups = self._adam_groups()  # ... shared again with the inner Adam


def hidden_convs(net: torch.nn.Module, head: Tensor) -> list[torch.nn.Parameter]:
    """The weights Muon trains: every conv's but the output conv's and those reading the photo's RGB."""
    return [p for p in net.parameters() if p.ndim == 4 and p is not head and p.shape[1] > 3]
