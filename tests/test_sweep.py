"""Every numeric option of every command at 0, -1, NaN, infinity and an absurd value: a clear outcome (done, or one
line and exit 1 or 2), never a traceback, and never a file with NaN or infinity in it."""

from __future__ import annotations

import shutil
import typing
from pathlib import Path

import numpy as np
import pytest
import torch
import typer.main
from conftest import painting_net, run_cli, write_photo
from test_video import make_video

from fasttx.cli import app
from fasttx.config import NetConfig
from fasttx.export import export_onnx
from fasttx.modelfile import load_torch, save_model
from fasttx.sound.audio import write_wav

pytestmark = pytest.mark.usefixtures("one_torch_thread")

INT_VALUES = ["0", "-1", "nan", str(10**12)]
FLOAT_VALUES = ["0", "-1", "nan", "inf", "1e30"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sweep")
    torch.manual_seed(0)
    save_model(painting_net(NetConfig(arch="tiny")), folder / "tiny.pth", {})
    export_onnx(folder / "tiny.pth", folder / "tiny.onnx")
    photos = folder / "photos"
    for i in range(4):
        write_photo(photos / f"p{i}.jpg", size=(40, 32), seed=i)
    run = folder / "run"
    tiny = ["--steps", "1", "--image-size", "32", "--batch-size", "2", "--arch", "tiny", "--no-onnx"]
    train = ["train", "-s", str(folder / "style.png"), "--dataset", str(photos), "-o", str(run), *tiny]
    write_photo(folder / "style.png", size=(48, 48), seed=9)
    write_photo(folder / "other_style.png", size=(48, 48), seed=10)
    sounds = folder / "sounds"
    for i in range(2):
        noise = np.random.default_rng(i).uniform(-0.3, 0.3, (1, 40000)).astype(np.float32)
        write_wav(sounds / f"s{i}.wav", noise, 22050)
    with pytest.MonkeyPatch.context() as patch:
        assert run_cli(patch, *train, "--vgg-weights", "random", "--no-progress") == 0
    return {
        "run": run,
        "sounds": sounds,
        "sound": sounds / "s0.wav",
        "model": folder / "tiny.pth",
        "onnx": folder / "tiny.onnx",
        "photos": photos,
        "photo": photos / "p0.jpg",
        "style": folder / "style.png",
        "other_style": folder / "other_style.png",
        "video": make_video(folder / "clip.mp4", 48, 32, frames=4, audio=None),
    }


def base_args(command: str, inputs: dict[str, Path], out: Path) -> list[str]:
    """The smallest valid call of each command, the swept option added after it (click keeps the last value)."""
    model, photo, style = str(inputs["model"]), str(inputs["photo"]), str(inputs["style"])
    tiny_run = ["--vgg-weights", "random", "--no-progress"]
    return {
        "train": ["train", "-s", style, "--dataset", str(inputs["photos"]), "-o", str(out), "--overwrite", "--steps"]
        + ["1", "--image-size", "32", "--batch-size", "2", "--arch", "tiny", "--no-onnx", *tiny_run],
        "stylize": ["stylize", "-m", model, photo, "-o", str(out / "x.png"), "--overwrite", "--no-progress"],
        "export": ["export", model, "-o", str(out / "x.onnx"), "--overwrite", "--no-verify"],
        "evaluate": ["evaluate", "-m", model, "-s", style, "--photos", photo, "--size", "32", *tiny_run],
        "optimize": ["optimize", "--content", photo, "-s", style, "-o", str(out / "x.png"), "--overwrite"]
        + ["--steps", "1", "--size", "32", *tiny_run],
        "webcam": ["webcam", "-m", model, "--camera", str(inputs["video"]), "--no-window", "-o", str(out / "x.mp4")]
        + ["--overwrite", "--frames", "2"],
        "web": ["web", str(inputs["onnx"]), "-o", str(out / "site")],
        "bench": ["bench", "--arch", "tiny", "--sizes", "24", "--backends", "torch", "--repeat", "1", "--warmup", "0"],
        "resume": ["resume", str(out / "run"), "--no-progress"],  # a copy of the run (the test makes it)
        "add-style": ["add-style", "--from", str(inputs["run"] / "model.pth"), "-s", str(inputs["other_style"])]
        + ["--dataset", str(inputs["photos"]), "-o", str(out / "added"), "--steps", "1", "--no-progress"],
        "distill": ["distill", "--teacher", str(inputs["run"] / "model.pth"), "-s", str(inputs["style"])]
        + ["--dataset", str(inputs["photos"]), "-o", str(out / "student"), "--arch", "tiny", "--steps", "1"]
        + ["--no-progress"],
        "train:sound": ["train", "-s", str(inputs["sound"]), "--dataset", str(inputs["sounds"]), "-o", str(out)]
        + ["--overwrite", "--steps", "1", "--batch-size", "1", "--no-onnx", "--no-progress"],
    }[command]


def commands() -> dict[str, typing.Any]:
    """Every command of the CLI by name, those of a group (`datasets coco2014`) included."""
    found = {}
    for name, command in typer.main.get_command(app).commands.items():  # type: ignore[attr-defined]
        for sub, leaf in getattr(command, "commands", {name: command}).items():
            found[name if sub == name else f"{name} {sub}"] = leaf
    return found


def numeric_options(command: str) -> list[tuple[str, list[str]]]:
    """(flag, values) of every int and float option `command` has."""
    found = []
    for param in commands()[command.split(":")[0]].params:
        annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
        annotation = next((a for a in typing.get_args(annotation) if a is not type(None)), annotation)  # Optional
        kind = {int: INT_VALUES, float: FLOAT_VALUES}.get(annotation)  # type: ignore[call-overload]
        if kind is not None and param.opts and param.opts[0].startswith("--"):
            found.append((param.opts[0], kind))
    return found


CASES = [
    (command, flag, value) for command in commands() for flag, values in numeric_options(command) for value in values
] + [  # a sound style takes train's basics
    ("train:sound", flag, value)
    for flag in ("--steps", "--batch-size", "--lr", "--seed", "--every", "--log-every")
    for value in (FLOAT_VALUES if flag == "--lr" else INT_VALUES)
]


def test_the_sweep_covers_every_command_s_numbers() -> None:
    flags = {(command, flag) for command, flag, _ in CASES}
    assert {("train", "--lr"), ("stylize", "--strength"), ("export", "--opset"), ("bench", "--repeat")} <= flags
    assert {("resume", "--steps"), ("train:sound", "--lr"), ("distill", "--distill-weight")} <= flags
    assert len(flags) >= 40


def call(command: str, inputs: dict[str, Path], out: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> int:
    out.mkdir()
    if command == "resume":
        shutil.copytree(inputs["run"], out / "run")
    return run_cli(monkeypatch, *base_args(command, inputs, out), *extra)


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted({command for command, _, _ in CASES}))
def test_each_smallest_call_succeeds(
    command: str, inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So that a refusal in the sweep is the swept value's doing, not a broken call's."""
    assert call(command, inputs, tmp_path / "out", monkeypatch) == 0


@pytest.mark.slow
@pytest.mark.parametrize(("command", "flag", "value"), CASES, ids=[f"{c}{f}={v}" for c, f, v in CASES])
def test_absurd_numbers_get_a_clear_outcome_and_write_nothing_non_finite(
    command: str,
    flag: str,
    value: str,
    inputs: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    status = call(command, inputs, out, monkeypatch, flag, value)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert status in (0, 1, 2), err
    if status:
        assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1, err
    for log in out.rglob("*.jsonl"):
        assert "NaN" not in log.read_text() and "Infinity" not in log.read_text()
    for saved in out.rglob("*.pth"):
        state = load_torch(saved, "fasttx-model")["state_dict"]
        assert all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point())
