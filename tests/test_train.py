from __future__ import annotations

import json
import math
import os
import re
import signal
import sys
from pathlib import Path

import pytest
import torch
from conftest import run_cli
from PIL import Image

from fasttx.losses import LossConfig, PerceptualLoss
from fasttx.modelfile import load_model, load_torch, shipped_models
from fasttx.train import Interrupted, TrainConfig, resume, train

pytestmark = pytest.mark.filterwarnings("ignore:.*random.*:UserWarning")


def tiny_config(photo_folder: Path, style_image: Path, out: Path, steps: int) -> TrainConfig:
    return TrainConfig(
        style=[str(style_image)],
        dataset=str(photo_folder),
        out=str(out),
        loss=LossConfig(style_layers={"relu1_2": 1.0, "relu2_2": 1.0}, tv_weight=1e-3),
        vgg_weights="random",
        image_size=32,
        batch_size=2,
        steps=steps,
        workers=0,
        log_every=1,
        preview_every=2,
        checkpoint_every=2,
        onnx=False,  # the export has its own tests (tests/test_export.py); it costs seconds per run
    )


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    return load_torch(out / "checkpoint.pt", "fasttx-checkpoint")["model"]


def test_training_lowers_the_loss_and_writes_every_output(
    photo_folder: Path, style_image: Path, tmp_path: Path
) -> None:
    cfg = tiny_config(photo_folder, style_image, tmp_path / "run", steps=12)
    cfg.lr = 1e-2
    cfg.val, cfg.val_every = str(photo_folder), 6
    result = train(cfg, progress=False)
    out = tmp_path / "run"
    assert result.steps == 12 and result.model == out / "model.pth"
    records = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    val = [r for r in records if "val_total" in r]
    assert [r["step"] for r in val] == [6, 12]
    best = min(val, key=lambda r: r["val_total"])
    assert load_model(out / "best.pth")[1]["val"]["val_total"] == pytest.approx(best["val_total"])
    assert (out / "previews" / "val_step_000012.jpg").exists()
    lines = [r for r in records if "total" in r]
    assert [rec["step"] for rec in lines] == list(range(1, 13))
    assert {"content", "style", "tv", "total", "lr", "images_per_s"} <= set(lines[0])
    assert val[-1]["val_style"] < val[0]["val_style"]  # the saved (averaged) model on fixed photos; batches are noisy
    previews = sorted((out / "previews").glob("step_*.jpg"))
    assert [p.name for p in previews] == [f"step_{s:06d}.jpg" for s in range(2, 13, 2)]
    w, h = Image.open(previews[-1]).size
    assert w > h > 32  # photos above, stylised below
    net, meta = load_model(out / "model.pth")
    assert meta["style_name"] == "style" and meta["steps"] == 12 and len(meta["style_sha256"][0]) == 64
    assert net(torch.rand(1, 3, 21, 35)).shape == (1, 3, 21, 35)


def test_resume_is_exact(photo_folder: Path, style_image: Path, tmp_path: Path) -> None:
    train(tiny_config(photo_folder, style_image, tmp_path / "straight", steps=6), progress=False)
    train(tiny_config(photo_folder, style_image, tmp_path / "split", steps=3), progress=False)
    assert resume(tmp_path / "split", steps=6, progress=False).steps == 6
    straight, split = final_weights(tmp_path / "straight"), final_weights(tmp_path / "split")
    for name, value in straight.items():
        assert torch.allclose(value, split[name], atol=1e-6), name
    steps = [json.loads(line)["step"] for line in (tmp_path / "split" / "train.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow
def test_compiled_training_follows_the_eager_one(photo_folder: Path, style_image: Path, tmp_path: Path) -> None:
    # torch.compile on the CPU needs a C++ compiler and ~1-2 minutes; the same code path serves CUDA
    losses = {}
    for compiled in (False, True):
        cfg = tiny_config(photo_folder, style_image, tmp_path / f"compiled-{compiled}", steps=3)
        cfg.compile, cfg.amp = compiled, False
        train(cfg, progress=False)
        records = (tmp_path / f"compiled-{compiled}" / "train.jsonl").read_text().splitlines()
        losses[compiled] = [json.loads(line)["total"] for line in records]
    # fused kernels round differently; Adam turns that into small weight differences by the third step
    assert losses[True] == pytest.approx(losses[False], rel=1e-2)
    assert (
        load_model(tmp_path / "compiled-True" / "model.pth")[0].state_dict().keys()
        == final_weights(tmp_path / "compiled-False").keys()
    )  # the eager module is what gets saved: no "_orig_mod." prefixes


def test_ctrl_c_checkpoints_and_resume_continues(
    photo_folder: Path, style_image: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    original = PerceptualLoss.forward

    def forward_then_interrupt_at_third_step(
        self: PerceptualLoss, *args: torch.Tensor, **kwargs: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        in_loop = len(args) > 2  # the loop passes the content scale; the nearest-start scoring before it does not
        calls["n"] += in_loop
        if in_loop and calls["n"] == 3:
            os.kill(os.getpid(), signal.SIGINT)  # the real signal, handled by the training loop
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PerceptualLoss, "forward", forward_then_interrupt_at_third_step)
    with pytest.raises(Interrupted) as stopped:
        train(tiny_config(photo_folder, style_image, tmp_path / "run", steps=6), progress=False)
    assert stopped.value.step == 3
    assert load_torch(tmp_path / "run" / "checkpoint.pt", "fasttx-checkpoint")["step"] == 3
    assert not (tmp_path / "run" / "model.pth").exists()
    monkeypatch.setattr(PerceptualLoss, "forward", original)

    train(tiny_config(photo_folder, style_image, tmp_path / "straight", steps=6), progress=False)
    resume(tmp_path / "run", progress=False)
    straight, resumed = final_weights(tmp_path / "straight"), final_weights(tmp_path / "run")
    assert all(torch.allclose(v, resumed[k], atol=1e-6) for k, v in straight.items())


def test_cli_train_then_stylize(
    photo_folder: Path,
    style_image: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "model"
    args = ["train", "--style", str(style_image), "--dataset", str(photo_folder), "--out", str(out), "--steps", "4"]
    args += ["--image-size", "32", "--batch-size", "2", "--vgg-weights", "random", "--workers", "0", "--no-progress"]
    args += ["--every", "2", "--no-onnx", "--json"]
    assert run_cli(monkeypatch, *args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["steps"] == 4
    assert {p.name for p in out.iterdir()} >= {"model.pth", "checkpoint.pt", "train.jsonl", "previews"}
    # every option left out is the library's default
    recorded = TrainConfig.from_dict(load_torch(out / "checkpoint.pt", "fasttx-checkpoint")["config"])
    [shipped] = shipped_models().values()  # one network ships: the base
    base_styles = load_model(shipped)[1]["styles"]
    assert len(recorded.started_from) == 1 and recorded.started_from[0] in [*base_styles, "mean"]  # chosen then
    recorded.started_from = []
    expected = TrainConfig(
        style=[str(style_image)],
        dataset=str(photo_folder),
        out=str(out),
        steps=4,
        image_size=32,
        batch_size=2,
        vgg_weights="random",
        workers=0,
        preview_every=2,
        checkpoint_every=2,
        val_every=2,
        onnx=False,
    )
    assert recorded == expected

    # a second run into the same folder must not clobber it by accident
    assert run_cli(monkeypatch, *args) == 1
    assert "fasttx resume" in capsys.readouterr().err

    # a resumed run keeps its recipe: there is no option to change it
    assert run_cli(monkeypatch, "resume", str(out), "--steps", "6", "--lr", "0.01", "--no-progress") == 2
    assert "No such option: --lr" in capsys.readouterr().err

    # resume with a larger total
    assert run_cli(monkeypatch, "resume", str(out), "--steps", "6", "--no-progress") == 0
    assert load_torch(out / "checkpoint.pt", "fasttx-checkpoint")["step"] == 6

    photo = next(photo_folder.iterdir())
    target = tmp_path / "styled.png"
    assert run_cli(monkeypatch, "stylize", "--model", str(out / "model.pth"), str(photo), "-o", str(target)) == 0
    assert Image.open(target).size == Image.open(photo).size
    assert run_cli(monkeypatch, "stylize", "--model", str(out / "model.pth"), str(photo), "-o", str(target)) == 1
    assert "--overwrite" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message", "status"),
    [
        (["train", "--dataset", "x"], "Missing option '--style'", 2),  # the command line: click's status 2
        (["train", "-s", "a.jpg", "--dataset", "x", "--bogus"], "No such option: --bogus", 2),
        (["train", "--style", "nope.jpg", "--dataset", "x"], "no such style image", 1),
        (["stylize", "--model", "missing.pth", "a.jpg", "-o", "b.jpg"], "no such file", 1),
    ],
)
def test_user_mistakes_are_one_line_errors(
    args: list[str],
    message: str,
    status: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli(monkeypatch, *args) == status
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_empty_dataset_is_a_one_line_error(
    style_image: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    args = ["train", "--style", str(style_image), "--dataset", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]
    assert run_cli(monkeypatch, *args, "--vgg-weights", "random") == 1
    assert "no images" in capsys.readouterr().err


def test_distill_trains_a_small_student_from_a_teacher(
    photo_folder: Path, style_image: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train(tiny_config(photo_folder, style_image, tmp_path / "teacher", steps=2), progress=False)
    student = tmp_path / "student"
    args = ["distill", "--teacher", str(tmp_path / "teacher" / "model.pth"), "--arch", "tiny", "--out", str(student)]
    args += ["--style", str(style_image), "--dataset", str(photo_folder)]
    assert run_cli(monkeypatch, *args, "--steps", "3", "--workers", "0", "--no-progress") == 0
    net, meta = load_model(student / "model.pth")
    assert net.config.arch == "tiny" and meta["train_config"]["teacher"].endswith("model.pth")
    records = [json.loads(line) for line in (student / "train.jsonl").read_text().splitlines()]
    assert all(r["distill"] > 0 for r in records)
    assert records[-1]["total"] == pytest.approx(
        records[-1]["content"] + records[-1]["style"] + records[-1]["tv"] + records[-1]["distill"], rel=1e-5
    )


def test_cli_help_does_not_import_torch() -> None:
    """The options' defaults come from fasttx.config, which is torch-free, so `fasttx train --help` is instant."""
    import subprocess

    code = "import sys, fasttx.cli; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sigterm_checkpoints_and_exits_143(photo_folder: Path, style_image: Path, tmp_path: Path) -> None:
    """What schedulers, `timeout` and container stops send: handled like Ctrl-C, in a real process."""
    import subprocess
    import time

    out = tmp_path / "run"
    args = [sys.executable, "-m", "fasttx", "train", "--style", str(style_image), "--dataset", str(photo_folder)]
    args += ["--out", str(out), "--steps", "100000", "--image-size", "32", "--batch-size", "2", "--log-every", "1"]
    args += ["--vgg-weights", "random", "--no-progress", "--no-onnx"]
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "train.jsonl").exists() or not (out / "train.jsonl").read_text().strip():
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.stderr else ""
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert "checkpoint saved" in stderr and "Traceback" not in stderr
    step = load_torch(out / "checkpoint.pt", "fasttx-checkpoint")["step"]
    assert 1 <= step < 100000
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no temp files left behind


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"ema": 1.0}, "ema must be in [0, 1)"),
        ({"muon_lr": math.inf}, "muon_lr must be a finite number"),
        ({"distill_weight": math.nan}, "--distill-weight must be a finite number"),
        ({"loss": LossConfig(content_weight=math.nan)}, "content_weight must be a finite number"),
        ({"loss": LossConfig(content_weight=-1)}, "content_weight must be 0 or more"),
        ({"loss": LossConfig(style_weight=-1)}, "style_weight must be positive"),
        ({"loss": LossConfig(style_layers={"relu1_2": -1.0})}, "style_layers weights must be 0 or more"),
    ],
)
def test_recipes_the_command_line_does_not_offer_are_checked_too(settings: dict, message: str) -> None:
    from fasttx.errors import FasttxError

    with pytest.raises(FasttxError, match=re.escape(message)):
        TrainConfig(style=["s.jpg"], dataset="d", **settings).validate()


@pytest.mark.parametrize(
    "option, message",
    [
        (["--steps", "0"], "--steps must be 1 to"),
        (["--steps", "-3"], "--steps must be 1 to"),
        (["--batch-size", "0"], "--batch-size must be 1 to"),
        (["--batch-size", "1000000"], "--batch-size must be 1 to 1024"),
        (["--image-size", "7"], "--image-size must be 16 to"),
        (["--image-size", "100000"], "--image-size must be 16 to"),
        (["--style-size", "-5"], "--style-size must be 16 to"),
        (["--lr", "inf"], "--lr must be a finite number"),
        (["--lr", "1e30"], "--lr must be in (0, 1]"),
        (["--lr", "nan"], "--lr must be a finite number"),
        (["--content-target", "nan"], "--content-target must be a finite number"),
        (["--seed", str(2**64)], "--seed must be 0 to 2^63 - 1"),
        (["--workers", "-1"], "--workers must be 0 to 64"),
        (["--style", "style.png"], "two styles have the same name"),
    ],
)
def test_bad_training_options_are_one_line_errors(
    photo_folder: Path,
    style_image: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    option: list[str],
    message: str,
) -> None:
    args = ["train", "--style", str(style_image), "--dataset", str(photo_folder), "--out", str(tmp_path / "m")]
    args += ["--vgg-weights", "random", "--no-progress", "--steps", "2", *option]
    assert run_cli(monkeypatch, *args) == 1
    stderr = capsys.readouterr().err
    assert message in stderr and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1  # one line, even when stderr is not a terminal (no wrapping)
    assert not (tmp_path / "m").exists()  # nothing written


def test_resume_drops_a_metrics_line_cut_short_by_a_hard_kill(
    photo_folder: Path, style_image: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    train(tiny_config(photo_folder, style_image, run, steps=2), progress=False)
    log = run / "train.jsonl"
    whole = log.read_text()
    log.write_text(whole + '{"time": 1, "content": 0.5, "st')  # killed in the middle of an append
    resume(run, steps=3, progress=False)
    lines = log.read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [json.loads(line)["step"] for line in whole.splitlines()] + [
        3
    ]


def test_content_target_moves_the_content_weight_towards_the_target() -> None:
    from fasttx.distributed import Processes
    from fasttx.train import ContentTarget

    above, below, off = ContentTarget(0.3), ContentTarget(0.3), ContentTarget(None)
    for _ in range(50):
        above.update_styles(torch.tensor([0.6, 0.6]), None, Processes())
        below.update_styles(torch.tensor([0.1, 0.1]), None, Processes())
        off.update_styles(torch.tensor([0.6, 0.6]), None, Processes())
    assert above.scales() > 2 and below.scales() < 0.6 and off.scales() == 1.0
    # by hand: the first average is the distance, then 0.95 / 0.05; each step moves the log-scale by 0.02 x the
    # relative excess, bounded to +-1
    hand, average = 0.0, 0.1
    for _ in range(50):
        hand += 0.02 * max(-1.0, (average - 0.3) / 0.3)
        average = 0.95 * average + 0.05 * 0.1
    assert float(below.scales()) == pytest.approx(math.exp(hand), rel=1e-5)
    for _ in range(500):
        above.update_styles(torch.tensor([100.0]), None, Processes())
    assert float(above.scales()) == pytest.approx(math.exp(ContentTarget.LIMIT))  # bounded
    restored = ContentTarget(0.3)
    restored.load_state_dict(below.state_dict())
    assert torch.equal(restored.log_scales, below.log_scales) and torch.equal(restored.averages, below.averages)


def test_a_multi_style_network_has_a_content_multiplier_per_style_fed_by_its_own_photos() -> None:
    from fasttx.distributed import Processes
    from fasttx.train import ContentTarget

    target = ContentTarget(0.3, styles=3)
    index = torch.tensor([0, 1, 0, 1])  # style 2 has no photo in these batches: its multiplier stays
    for _ in range(50):
        target.update_styles(torch.tensor([0.6, 0.1, 0.6, 0.1]), index, Processes())
    above, below, absent = target.log_scales.exp().tolist()
    assert above > 2 and below < 0.6 and absent == 1.0
    assert target.scales(torch.tensor([1, 0, 2])).tolist() == pytest.approx([below, above, 1.0])
    restored = ContentTarget(0.3, styles=3)
    restored.load_state_dict(target.state_dict())
    assert torch.equal(restored.log_scales, target.log_scales)


def test_the_content_target_is_on_by_default_and_0_turns_it_off(
    photo_folder: Path, style_image: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert LossConfig().content_target == 0.35
    args = ["train", "--style", str(style_image), "--dataset", str(photo_folder), "--steps", "1", "--no-onnx"]
    args += ["--image-size", "32", "--batch-size", "2", "--vgg-weights", "random", "--arch", "tiny", "--no-progress"]
    for value, expected in (("0", None), ("0.45", 0.45)):
        out = tmp_path / value
        assert run_cli(monkeypatch, *args, "--out", str(out), "--content-target", value) == 0
        assert load_model(out / "model.pth")[1]["train_config"]["loss"]["content_target"] == expected


def test_training_with_a_content_target_logs_its_scale_and_resumes_exactly(
    photo_folder: Path, style_image: Path, tmp_path: Path
) -> None:
    for name, steps in (("straight", 6), ("split", 3)):
        cfg = tiny_config(photo_folder, style_image, tmp_path / name, steps=steps)
        cfg.loss.content_target = 0.05
        train(cfg, progress=False)
    resume(tmp_path / "split", steps=6, progress=False)
    straight, split = final_weights(tmp_path / "straight"), final_weights(tmp_path / "split")
    assert all(torch.allclose(v, split[k], atol=1e-6) for k, v in straight.items())
    records = [json.loads(line) for line in (tmp_path / "split" / "train.jsonl").read_text().splitlines()]
    scales = [r["content_scale"] for r in records if "content_scale" in r]
    assert len(scales) == 6 and scales != [1.0] * 6


def test_a_run_starts_from_the_init_network_the_shipped_base_or_the_identity(
    photo_folder: Path,
    style_image: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dataclasses import replace

    from fasttx.config import NetConfig
    from fasttx.modelfile import save_model
    from fasttx.nets.transformer import build_net
    from fasttx.train import initial_network

    photo = torch.rand(1, 3, 32, 40)
    torch.manual_seed(0)
    trained = build_net(NetConfig(arch="tiny")).eval()
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    path = save_model(trained, tmp_path / "trained.pth", {"style_name": "wave"})
    cfg = tiny_config(photo_folder, style_image, tmp_path / "run", steps=1)
    tiny = replace(cfg, net=NetConfig(arch="tiny"))
    with torch.no_grad():
        net, started_from = initial_network(replace(tiny, init=str(path)))
        torch.testing.assert_close(net.eval()(photo), trained(photo))
        assert started_from == ["wave"]  # the trained network's one style
        starts = []
        for start in ("base", "scratch"):  # no base ships for tiny: both build a fresh network, ~ the identity
            torch.manual_seed(1)
            net, started_from = initial_network(replace(tiny, init=start))
            starts.append(net.eval()(photo))
            assert started_from == []
        torch.testing.assert_close(starts[0], starts[1], atol=0, rtol=0)
        torch.testing.assert_close(starts[0], photo, atol=0.05, rtol=0)  # the head starts near 0
        [shipped] = shipped_models().values()
        base, _ = load_model(shipped)  # the shipped base: a multi-style johnson network
        mean_style = torch.full((1, base.styles), 1 / base.styles)
        net, started_from = initial_network(cfg)  # without photos to score the base's styles on: their mean
        torch.testing.assert_close(net.eval()(photo), base(photo, mean_style), atol=1e-5, rtol=0)
        assert started_from == ["mean"]
        scratch = initial_network(replace(cfg, init="scratch"))[0].eval()(photo)
        assert (scratch - photo).abs().mean() < 0.03  # from scratch: the head starts near 0

    args = ["train", "--style", str(style_image), "--dataset", str(photo_folder), "--steps", "1", "--no-onnx"]
    args += ["--image-size", "32", "--batch-size", "2", "--vgg-weights", "random", "--arch", "tiny", "--no-progress"]
    assert run_cli(monkeypatch, *args, "--out", str(tmp_path / "a"), "--init", str(tmp_path / "missing.pth")) == 1
    assert "no such file" in capsys.readouterr().err
    assert run_cli(monkeypatch, *args, "--out", str(tmp_path / "b"), "--init", str(path)) == 0
    recipe = load_model(tmp_path / "b" / "model.pth")[1]["train_config"]
    assert recipe["init"] == path.name and recipe["started_from"] == ["wave"]  # recorded (shared: its name)
    assert f"starting from {path.name} (the nearest to each painting): {style_image.stem} from its wave style" in (
        capsys.readouterr().err
    )
