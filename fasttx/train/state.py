"""What a run keeps between steps and across stops: the checkpoint's parts (random state, the photos it trains on,
the best validation), train.jsonl, and the Ctrl-C / SIGTERM flag that stops a run at the end of a step."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import random
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fasttx.errors import FasttxError
from fasttx.io import write_bytes
from fasttx.modelfile import load_model


class Interrupted(Exception):
    """Raised after Ctrl-C or SIGTERM once the checkpoint is safely on disk."""

    def __init__(self, checkpoint: Path, step: int, signum: int = signal.SIGINT):
        super().__init__(f"interrupted at step {step}; checkpoint saved; continue: fasttx resume {checkpoint.parent}")
        self.checkpoint = checkpoint
        self.step = step
        self.exit_code = 128 + int(signum)  # the shell's convention: 130 for Ctrl-C, 143 for SIGTERM


class MetricsLog:
    """train.jsonl: append-only; on resume, lines past the checkpoint's step are dropped so the log stays exact."""

    def __init__(self, path: Path, keep_until: int):
        self.path, self.keep_until = path, keep_until
        self.trimmed = False  # done at the first write: a run that fails before it leaves the old log as it was

    def write(self, record: dict[str, float]) -> None:
        if not self.trimmed and self.path.exists():
            kept = [line for line in self.path.read_text().splitlines() if _step_of(line) <= self.keep_until]
            write_bytes(self.path, "".join(line + "\n" for line in kept).encode())
        self.trimmed = True
        try:
            with self.path.open("a") as f:
                f.write(json.dumps({"time": time.time(), **record}) + "\n")
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise FasttxError(f"disk full while writing {self.path}; the last checkpoint is intact") from e
            raise


def _step_of(line: str) -> float:
    """The step of a train.jsonl line; a line cut short by a hard kill (or blank) counts as past every step."""
    try:
        return float(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return math.inf


class StopFlag:
    """Ctrl-C or SIGTERM (schedulers, `timeout`, container stops) asks the loop to stop at the end of the current
    step, which then checkpoints; a second Ctrl-C kills. `signal` is the number of the first one (for the exit code)."""

    requested = False
    signal: int = signal.SIGINT

    def __enter__(self) -> StopFlag:
        self._previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: keep the default behaviour
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested, self.signal = True, signal.Signals(signum)

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def photos_identity(paths: Sequence[Path], root: str) -> dict[str, Any]:
    """What a run's batches depend on in its dataset: which photos, in order (their paths under the folder)."""
    names = "\n".join(os.path.relpath(p, root) for p in paths)
    return {"count": len(paths), "sha256": hashlib.sha256(names.encode()).hexdigest()}


def best_val_to_beat(out: Path, checkpoint: dict[str, Any] | None) -> float:
    """The validation total best.pth must beat: the checkpoint's, or best.pth's own if it was written after the
    checkpoint (a crash between the two), so a resumed run never replaces a better best.pth."""
    if checkpoint is None:
        return math.inf
    best = float(checkpoint.get("best_val", math.inf))
    if (out / "best.pth").is_file():
        with contextlib.suppress(FasttxError, KeyError, TypeError):
            best = min(best, float(load_model(out / "best.pth")[1]["val"]["val_total"]))
    return best


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def get_rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": list(random.getstate()[1]),
        "numpy": _numpy_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _numpy_state() -> tuple[torch.Tensor, int, int, float]:
    _, keys, pos, has_gauss, cached = np.random.get_state()
    return torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))
    keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
