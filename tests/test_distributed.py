"""Training under torchrun on CPU processes (gloo): the same weights as one process, resume across world sizes,
a rank killed. Each test starts real processes through `python -m torch.distributed.run`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import write_photo

from fasttx.modelfile import CHECKPOINT_FORMAT, load_model, load_torch

LR = 1e-5
pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch built without distributed")


def photos(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "photos"
    for i in range(6):
        write_photo(folder / f"p{i}.jpg", seed=i)
    return folder, write_photo(tmp_path / "style.png", size=(64, 64), seed=9)


def command(processes: int, dataset: Path, style: Path, out: Path, steps: int, *extra: str) -> list[str]:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    options = ["--style", str(style), "--dataset", str(dataset), "--out", str(out), "--steps", str(steps)]
    tiny = ["--image-size", "32", "--batch-size", "4", "--vgg-weights", "random"]
    tiny += ["--lr", str(LR), "--no-amp"]  # see assert_same_training
    quiet = ["--no-onnx", "--workers", "0", "--log-every", "1", "--every", "2", "--no-progress"]
    return [*launcher, "-m", "fasttx", "train", *options, *tiny, *quiet, *extra]


def environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, env=environment())


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_model(folder / "model.pth")[0].state_dict()


def assert_same_training(a: Path, b: Path, steps: int, lr: float = LR) -> None:
    """Two runs that saw the same global batches took the same steps, up to float rounding as Adam amplifies it.

    In float32 (bf16 autocast rounds to 3 digits, differently for other batch sizes, so the tests turn it off),
    summing a batch's gradient in two halves (or on two processes) rounds differently, by ~1e-7 relative. Adam's
    update is ~lr x sign(gradient) while the gradient is tiny (the body behind the near-zero initial head), so an
    entry whose gradient is at rounding level can move by lr either way: a difference of up to 2 lr per step in a
    few weights, no drift in the rest; the tests train at a small rate so that this stays at rounding level.
    """
    first, second = (
        [json.loads(line) for line in (run / "train.jsonl").read_text().splitlines() if "total" in line]
        for run in (a, b)
    )
    assert [row["step"] for row in first] == [row["step"] for row in second] == list(range(1, steps + 1))
    for one, two in zip(first, second, strict=True):
        assert two["total"] == pytest.approx(one["total"], rel=1e-4), one["step"]
    wa, wb = weights(a), weights(b)
    differences = torch.cat([(wa[name] - wb[name]).abs().flatten() for name in wa])
    assert differences.max() <= 2 * lr * steps + 1e-6
    assert differences.median() < lr / 10  # typical weights are ~3e-2


@pytest.mark.parametrize("styles", [1, 2])
def test_two_processes_train_the_weights_one_process_trains(tmp_path: Path, styles: int) -> None:
    dataset, style = photos(tmp_path)
    extra = ["--style", str(write_photo(tmp_path / "second.png", size=(64, 64), seed=11))] if styles == 2 else []
    one = run(command(1, dataset, style, tmp_path / "one", 4, *extra))  # a multi-style network: each photo of a
    two = run(command(2, dataset, style, tmp_path / "two", 4, *extra))  # global batch keeps its style
    assert one.returncode == 0, one.stderr[-2000:]
    assert two.returncode == 0, two.stderr[-2000:]
    assert "2 processes: global batch 4, 2 photos per process and step" in two.stderr
    # gradients averaged over two halves of each batch are the gradient of the whole batch (per-photo losses,
    # instance norm: no statistic crosses photos), and the logged loss is the whole global batch's
    assert_same_training(tmp_path / "one", tmp_path / "two", 4)
    assert load_model(tmp_path / "two" / "model.pth")[0].styles == styles


def test_a_stopped_two_process_run_resumes_on_one_process(tmp_path: Path) -> None:
    dataset, style = photos(tmp_path)
    straight = run(command(1, dataset, style, tmp_path / "straight", 6))
    assert straight.returncode == 0, straight.stderr[-2000:]
    stopped = run(command(2, dataset, style, tmp_path / "split", 4))  # a run of 6 steps stopped at 4
    assert stopped.returncode == 0, stopped.stderr[-2000:]
    assert load_torch(tmp_path / "split" / "checkpoint.pt", CHECKPOINT_FORMAT)["step"] == 4
    resumed = run([sys.executable, "-m", "fasttx", "resume", str(tmp_path / "split"), "--steps", "6", "--no-progress"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert_same_training(tmp_path / "straight", tmp_path / "split", 6)  # the same batches, in the same order


def test_sigint_stops_every_process_at_one_step_with_one_checkpoint(tmp_path: Path) -> None:
    dataset, style = photos(tmp_path)
    out = tmp_path / "run"
    args = command(2, dataset, style, out, 100_000, "--every", "100000")
    launcher = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment())
    log = out / "train.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (log.exists() and len(log.read_text().splitlines()) >= 3):
        time.sleep(0.2)
    launcher.send_signal(signal.SIGINT)  # torchrun passes it on to both workers
    _, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode != 0
    assert "checkpoint saved" in stderr
    step = load_torch(out / "checkpoint.pt", CHECKPOINT_FORMAT)["step"]
    assert step >= 3
    resumed = run([sys.executable, "-m", "fasttx", "resume", str(out), "--steps", str(step + 2), "--no-progress"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert load_torch(out / "checkpoint.pt", CHECKPOINT_FORMAT)["step"] == step + 2


def test_a_killed_rank_ends_the_run_in_bounded_time_and_leaves_the_checkpoint(tmp_path: Path) -> None:
    dataset, style = photos(tmp_path)
    out = tmp_path / "run"
    args = command(2, dataset, style, out, 100_000, "--every", "3")
    launcher = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out / "checkpoint.pt").exists():
        time.sleep(0.2)
    workers = subprocess.run(["pgrep", "-P", str(launcher.pid)], capture_output=True, text=True).stdout.split()
    assert len(workers) == 2
    os.kill(int(workers[-1]), signal.SIGKILL)
    killed = time.monotonic()
    _, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode != 0 and time.monotonic() - killed < 60
    assert "ChildFailedError" in stderr or "failed" in stderr.lower()
    assert (
        load_torch(out / "checkpoint.pt", CHECKPOINT_FORMAT)["step"] % 3 == 0
    )  # whole, and one the run wrote on schedule


def test_distillation_runs_under_torchrun(tmp_path: Path) -> None:
    dataset, style = photos(tmp_path)
    teacher = run(command(1, dataset, style, tmp_path / "teacher", 2))
    assert teacher.returncode == 0, teacher.stderr[-2000:]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "fasttx"]
    student = run(
        [*launcher, "distill", "--teacher", str(tmp_path / "teacher" / "model.pth"), "--arch", "tiny"]
        + ["--dataset", str(dataset), "--style", str(style)]  # a shared model.pth names them without folders
        + ["--out", str(tmp_path / "student"), "--steps", "2", "--no-progress"]
    )
    assert student.returncode == 0, student.stderr[-2000:]
    net, meta = load_model(tmp_path / "student" / "model.pth")
    assert net.config.arch == "tiny" and meta["steps"] == 2
