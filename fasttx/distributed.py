"""Training on several processes under torchrun: which process this is, and the few collectives the loop needs.

    torchrun --nproc-per-node 4 -m fasttx train --style s.jpg --dataset coco/      # 4 GPUs of one machine
    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 -m fasttx train ...

torchrun starts one process per device and sets RANK, WORLD_SIZE and LOCAL_RANK; `start` joins them into one
process group (NCCL between GPUs, gloo between CPU processes) and gives each its device (cuda:LOCAL_RANK). Each
process runs the same loop on its share of every global batch (fasttx.data.ResumableSampler with `rank`/`world`),
DistributedDataParallel averages the gradients, so every process takes the same optimiser step and holds the same
weights; process 0 alone writes files. Without torchrun (WORLD_SIZE unset or 1) everything here is a no-op.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn

from fasttx.errors import FasttxError

T = TypeVar("T")
TIMEOUT = datetime.timedelta(minutes=30)  # a collective waiting longer than this fails (validation, ONNX export)


@dataclass(frozen=True)
class Processes:
    """This process's place among the training processes."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """The process that writes logs, previews, checkpoints and the model."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def start(device: torch.device) -> tuple[Processes, torch.device]:
    """Join the process group torchrun set up (if any); the device this process trains on."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Processes(), device
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise FasttxError(
                f"process {rank} has LOCAL_RANK {local_rank} but this machine has {torch.cuda.device_count()} GPU(s):"
                " give torchrun --nproc-per-node at most that"
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=TIMEOUT, device_id=device if device.type == "cuda" else None)
    return Processes(rank, world, local_rank), device


def stop() -> None:
    """Leave the process group (after the last collective)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def mean(value: torch.Tensor, processes: Processes) -> torch.Tensor:
    """The mean of a scalar over the processes (the whole global batch's), the same on every process."""
    value = value.detach()
    if not processes.distributed:
        return value
    value = value.float().clone()
    dist.all_reduce(value)
    return value / processes.world


def any_true(flag: bool, device: torch.device, processes: Processes) -> bool:
    """Whether `flag` is set on any process (a Ctrl-C or SIGTERM that reached one of them)."""
    if not processes.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def barrier(processes: Processes) -> None:
    if processes.distributed:
        dist.barrier()


def local_batch(batch_size: int, processes: Processes) -> int:
    """Each process's share of a global batch of `batch_size` photos."""
    if batch_size % processes.world:
        raise FasttxError(
            f"--batch-size {batch_size} is the global batch: it must divide among the {processes.world} processes"
        )
    return batch_size // processes.world


def broadcast(value: T, processes: Processes) -> T:
    """Process 0's `value` (any picklable object) on every process."""
    if not processes.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def wrap(net: nn.Module, device: torch.device, processes: Processes) -> nn.Module:
    """`net` as the loop calls it: under torchrun, DistributedDataParallel (gradients averaged over the processes
    during backward; the weights stay `net`'s, so what is saved has no `module.` prefix)."""
    if not processes.distributed:
        return net
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(net, device_ids=[device] if device.type == "cuda" else None)
