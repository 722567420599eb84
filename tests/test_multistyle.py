"""Several styles in one network (conditional instance norm, Dumoulin et al. 2017): training, mixing, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from conftest import run_cli, write_photo
from PIL import Image
from test_hostile import tiny_config

from fasttx.config import STYLE_INPUT, NetConfig, TrainConfig
from fasttx.errors import FasttxError
from fasttx.export import export_onnx
from fasttx.losses import LossConfig, PerceptualLoss
from fasttx.modelfile import load_model
from fasttx.nets.transformer import ConditionalInstanceNorm2d, build_net, one_style
from fasttx.nets.vgg import VGGFeatures
from fasttx.train import batch_styles, resume, train

pytestmark = [pytest.mark.filterwarnings("ignore:.*random.*:UserWarning"), pytest.mark.usefixtures("one_torch_thread")]


def perturbed(config: NetConfig) -> torch.nn.Module:
    """A network whose styles differ (fresh ones are all the identity), in eval mode."""
    torch.manual_seed(0)
    net = build_net(config).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return net


@pytest.mark.parametrize("arch", ["johnson", "small", "tiny"])
def test_every_architecture_gets_a_scale_and_shift_per_style_and_mixes_them_linearly(arch: str) -> None:
    net = perturbed(NetConfig(arch=arch, styles=3))
    norms = [m for m in net.modules() if isinstance(m, ConditionalInstanceNorm2d)]
    assert norms and all(m.weight.shape[0] == 3 for m in norms)
    assert not any(isinstance(m, torch.nn.InstanceNorm2d) and m.affine for m in net.modules())
    single = build_net(NetConfig(arch=arch)).parameter_count()
    per_style = sum(m.weight[0].numel() + m.bias[0].numel() for m in norms) + 12  # + the colour map
    assert net.parameter_count() == single + 2 * per_style
    photo = torch.rand(2, 3, 40, 36)
    with torch.no_grad():
        pure = [net(photo, one_style(s, 3)) for s in range(3)]
        assert (pure[0] - pure[1]).abs().max() > 0.05  # the styles differ
        assert torch.equal(net(photo), pure[0])  # the default is the first style
        # the norms' vectors mix linearly; the image is a blend of the styles, not one of them
        blend = net(photo, torch.tensor([[0.5, 0.5, 0.0]]))
        assert (blend - pure[0]).abs().mean() > 0.01 and (blend - pure[1]).abs().mean() > 0.01
        norm = norms[0]
        x = torch.randn(1, norm.weight.shape[1], 8, 8)
        net.condition.weights = torch.tensor([[0.25, 0.75, 0.0]])
        mixed = norm(x)
        net.condition.weights = one_style(0, 3)
        first = norm(x)
        net.condition.weights = one_style(1, 3)
        second = norm(x)
        torch.testing.assert_close(mixed, 0.25 * first + 0.75 * second, rtol=1e-5, atol=1e-5)
        # what the weights leave below 1 goes to the photo: the strength is part of the mix
        torch.testing.assert_close(net(photo, 0.3 * one_style(1, 3)), photo + 0.3 * (pure[1] - photo))
        torch.testing.assert_close(net(photo, torch.zeros(1, 3)), photo)
        # one weight row per photo: a batch can hold several mixes
        both = net(photo, torch.cat([one_style(0, 3), one_style(1, 3)]))
        torch.testing.assert_close(both, torch.cat([pure[0][:1], pure[1][1:]]))


def test_each_photo_of_a_batch_trains_its_own_style_in_turn() -> None:
    cpu = torch.device("cpu")
    assert batch_styles(0, 4, 1, cpu) is None
    counts = torch.bincount(torch.cat([batch_styles(step, 4, 3, cpu) for step in range(3)]), minlength=3)
    assert counts.tolist() == [4, 4, 4]
    assert batch_styles(1, 2, 3, cpu).tolist() == [2, 0]


def test_separate_targets_score_each_output_against_its_own_style() -> None:
    torch.manual_seed(0)
    vgg = VGGFeatures(["relu1_2", "relu2_2"], weights="random")
    styles = [torch.rand(3, 32, 32), torch.rand(3, 32, 32) * 0.3]
    loss = LossConfig(style_layers={"relu1_2": 1.0, "relu2_2": 1.0})
    separate = PerceptualLoss(vgg, styles, loss, separate=True)
    outputs = torch.stack(styles)  # each output is exactly one of the styles
    targets = separate.content_targets(outputs)
    matched = separate.distances(outputs, targets, torch.tensor([0, 1]))["style"]
    swapped = separate.distances(outputs, targets, torch.tensor([1, 0]))["style"]
    assert float(matched) == pytest.approx(0.0, abs=1e-6) and float(swapped) > 0.1
    one = PerceptualLoss(vgg, styles[1:], loss)
    assert float(separate.distances(outputs[1:], targets[1:], torch.tensor([1]))["style"]) == pytest.approx(
        float(one.distances(outputs[1:], targets[1:])["style"]), abs=1e-6
    )


def two_style_config(tmp_path: Path, **settings: object) -> TrainConfig:
    return tiny_config(tmp_path, photos=4, styles=("red", "blue"), log_every=1, **settings)


def test_several_styles_train_one_network_with_a_preview_row_and_distances_each(tmp_path: Path) -> None:
    cfg = two_style_config(tmp_path, steps=4, preview_every=4, checkpoint_every=2, val_every=4)
    cfg.val = cfg.dataset
    assert cfg.net.styles == 2 and not cfg.blend
    result = train(cfg, progress=False)
    net, meta = load_model(result.model)
    assert net.styles == 2 and meta["styles"] == ["red", "blue"]
    records = [json.loads(line) for line in (result.out / "train.jsonl").read_text().splitlines()]
    val = [r for r in records if "val_total" in r][-1]
    assert set(val["val_style_by_style"]) == {"red", "blue"}
    assert val["val_style"] == pytest.approx(sum(val["val_style_by_style"].values()) / 2)
    logged = [r for r in records if "content_scale_red" in r]  # a content multiplier per style, each its own
    assert len(logged) == 4 and "content_scale" not in logged[-1]
    assert logged[-1]["content_scale_red"] != logged[-1]["content_scale_blue"]
    from PIL import Image

    preview = Image.open(result.out / "previews" / "step_000004.jpg")
    assert preview.height == 3 * 32 + 4 * 2  # photos, then a row per style

    # resumed from the step-2 checkpoint, the run ends where the uninterrupted one did
    again = two_style_config(tmp_path / "b", steps=2, checkpoint_every=2)
    train(again, progress=False)
    resumed = resume(again.out, steps=4, progress=False)
    for name, value in load_model(resumed.model)[0].state_dict().items():
        torch.testing.assert_close(value, net.state_dict()[name], msg=name)


def test_blend_makes_one_style_of_several_images(tmp_path: Path) -> None:
    cfg = two_style_config(tmp_path, steps=1, blend=True)
    assert cfg.net.styles == 1
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(Exception, match="needs as many --style images"):
        TrainConfig(style=cfg.style[:1], dataset=cfg.dataset, net=NetConfig(styles=2)).validate()


@pytest.mark.parametrize("uint8_io", [False, True])
def test_the_onnx_graph_takes_the_mix_as_an_input_with_the_first_style_as_default(
    uint8_io: bool, tmp_path: Path
) -> None:
    net = perturbed(NetConfig(arch="tiny", styles=3))
    path = tmp_path / "multi.onnx"
    report = export_onnx(net, path, uint8_io=uint8_io)  # verified: default, last style and an equal blend
    assert len(report.max_abs_diff) == 3
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_overridable_initializers()] == [STYLE_INPUT]
    photo = torch.rand(2, 3, 37, 45)
    feed = (photo * 255).round().byte().permute(0, 2, 3, 1).numpy() if uint8_io else photo.numpy()
    source = photo if not uint8_io else torch.from_numpy(feed).permute(0, 3, 1, 2).float() / 255
    tolerance = 1 / 255 + 1e-6 if uint8_io else 1e-4
    for weights in ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [0.1, 0.2, 0.0], None):
        with torch.no_grad():
            mix = torch.tensor([weights]) if weights is not None else None
            expected = net(source, mix).clamp(0, 1)
        inputs = {"image": feed} if weights is None else {"image": feed, STYLE_INPUT: np.float32(weights)}
        got = torch.from_numpy(session.run(None, inputs)[0])
        got = got.permute(0, 3, 1, 2).float() / 255 if uint8_io else got
        assert (got - expected).abs().max() <= tolerance, weights


def test_fp16_and_int8_exports_keep_the_mix_input(tmp_path: Path) -> None:
    net = perturbed(NetConfig(arch="tiny", styles=2))
    for variant in ("fp16", "int8"):
        path = tmp_path / f"{variant}.onnx"
        write_photo(tmp_path / "calibration" / "c.jpg")
        options = {"fp16": True} if variant == "fp16" else {"int8_calibration": tmp_path / "calibration"}
        export_onnx(net, path, **options)  # type: ignore[arg-type]  # verified against PyTorch at three mixes
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        photo = torch.rand(1, 3, 32, 32).numpy()
        first = session.run(None, {"image": photo})[0]
        second = session.run(None, {"image": photo, STYLE_INPUT: np.float32([0, 1])})[0]
        assert np.abs(first - second).max() > 0.05, variant


def test_cli_trains_lists_and_mixes_styles_in_pth_and_onnx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = two_style_config(tmp_path)
    out = tmp_path / "multi"
    args = ["train", *[a for s in cfg.style for a in ("--style", s)], "--dataset", cfg.dataset, "--out", str(out)]
    args += ["--steps", "2", "--image-size", "32", "--batch-size", "2", "--vgg-weights", "random", "--arch", "tiny"]
    assert run_cli(monkeypatch, *args, "--no-progress") == 0
    capsys.readouterr()
    for model in ("model.pth", "model.onnx"):
        assert run_cli(monkeypatch, "info", str(out / model)) == 0
        assert "styles: red, blue" in capsys.readouterr().out
    photo = write_photo(tmp_path / "photo.png", size=(40, 32), seed=3)
    results = {}
    for model in ("model.pth", "model.onnx"):
        for mix in ("red", "blue", "red=1,blue=1", "1", "blue=1,photo=3"):
            target = tmp_path / f"{model}_{mix}.png"
            argv = ["stylize", "-m", str(out / model), str(photo), "-o", str(target), "--style-mix", mix]
            assert run_cli(monkeypatch, *argv, "--no-progress") == 0
            results[model, mix] = np.asarray(Image.open(target), dtype=np.float32)
    net = load_model(out / "model.pth")[0]
    source = torch.from_numpy(np.asarray(Image.open(photo), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        expected = (net(source, torch.tensor([[0.5, 0.5]])).clamp(0, 1)[0].permute(1, 2, 0) * 255).numpy()
    for model in ("model.pth", "model.onnx"):
        assert np.abs(results[model, "red=1,blue=1"] - expected).max() <= 1.0  # normalised: the 50/50 blend
        assert np.array_equal(results[model, "blue"], results[model, "1"])  # a name or its index
        quarter = results[model, "blue=1,photo=3"]  # a quarter of the style over the photo: the strength in the mix
        photo_pixels = np.asarray(Image.open(photo), dtype=np.float32)
        assert np.abs(quarter - (photo_pixels + 0.25 * (results[model, "blue"] - photo_pixels))).max() <= 1.5
    assert np.abs(results["model.pth", "blue"] - results["model.onnx", "blue"]).max() <= 1.0
    capsys.readouterr()
    bad = ["stylize", "-m", str(out / "model.onnx"), str(photo), "-o", str(tmp_path / "x.png"), "--style", "green"]
    assert run_cli(monkeypatch, *bad) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no style 'green'") and "red, blue" in err and len(err.splitlines()) == 1


def test_add_style_trains_only_the_new_styles_vectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fasttx.train import add_style_config

    base_cfg = two_style_config(tmp_path, steps=2, checkpoint_every=2)
    base_cfg.lr = 1e-2
    base = train(base_cfg, progress=False).model
    green = write_photo(tmp_path / "green.png", size=(64, 64), seed=11)
    with pytest.raises(FasttxError, match="give --dataset"):  # a shared model.pth names its dataset, no folder
        add_style_config(base, green, tmp_path / "grown", steps=3)
    cfg = add_style_config(base, green, tmp_path / "grown", steps=3, dataset=base_cfg.dataset)
    assert cfg.net.styles == 3 and cfg.style_names == ["red", "blue", "green"]
    result = train(cfg, progress=False)
    old, _ = load_model(base)
    grown, meta = load_model(result.model)
    assert meta["styles"] == ["red", "blue", "green"]
    photo = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        for s in range(2):  # the old styles paint exactly what they did
            torch.testing.assert_close(grown(photo, one_style(s, 3)), old(photo, one_style(s, 2)), rtol=0, atol=0)
        start = torch.tensor([[0.5, 0.5, 0.0]])  # where the new style started: the mean of the old vectors
        assert (grown(photo, one_style(2, 3)) - grown(photo, start)).abs().max() > 1e-4  # it trained
    shared = {k: v for k, v in old.state_dict().items() if v.shape == grown.state_dict()[k].shape}
    assert all(torch.equal(v, grown.state_dict()[k]) for k, v in shared.items())  # the convolutions are frozen

    capsys.readouterr()
    args = ["add-style", "-s", str(green), "--from", str(base), "--out", str(tmp_path / "cli"), "--steps", "1"]
    args += ["--dataset", base_cfg.dataset]
    assert run_cli(monkeypatch, *args, "--lr", "0.1") == 2  # the base's recipe: no such option
    assert "No such option: --lr" in capsys.readouterr().err
    assert run_cli(monkeypatch, *args, "--no-progress", "--no-onnx") == 0
    assert load_model(tmp_path / "cli" / "model.pth")[0].styles == 3


def test_a_style_map_mixes_per_pixel_in_pytorch_and_in_a_map_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    net = perturbed(NetConfig(arch="tiny", styles=2))
    photo = torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        first, second = net(photo, one_style(0, 2)), net(photo, one_style(1, 2))
        uniform = one_style(1, 2)[:, :, None, None].expand(1, 2, 6, 8)
        torch.testing.assert_close(net(photo, uniform), second, rtol=0, atol=1e-5)  # a flat map is that mix
        halves = torch.zeros(1, 2, 48, 64)
        halves[:, 0, :, :32], halves[:, 1, :, 32:] = 1.0, 1.0
        split = net(photo, halves)
    left, right = (slice(None), slice(None), slice(None), slice(0, 24)), (Ellipsis, slice(40, None))
    assert (split[left] - first[left]).abs().mean() < 0.5 * (split[left] - second[left]).abs().mean()
    assert (split[right] - second[right]).abs().mean() < 0.5 * (split[right] - first[right]).abs().mean()

    model = tmp_path / "two.pth"
    from fasttx.modelfile import save_model

    save_model(net, model, {"styles": ["sky", "sea"]})
    export_onnx(model, tmp_path / "global.onnx")
    export_onnx(model, tmp_path / "map.onnx", style_map=True)  # checked against PyTorch with a varied map
    mask = tmp_path / "mask.png"
    Image.fromarray(np.uint8(halves[0, 1].numpy() * 255)).save(mask)
    source = tmp_path / "photo.png"
    Image.fromarray(np.uint8(photo[0].permute(1, 2, 0).numpy() * 255)).save(source)
    with torch.no_grad():
        loaded = torch.from_numpy(np.asarray(Image.open(source), dtype=np.float32) / 255).permute(2, 0, 1)[None]
        expected = (net(loaded, halves).clamp(0, 1)[0].permute(1, 2, 0) * 255).numpy()
    for name in ("two.pth", "map.onnx"):
        out = tmp_path / f"{name}.png"
        argv = ["stylize", "-m", str(tmp_path / name), str(source), "-o", str(out), "--style-mix", "sky,sea"]
        assert run_cli(monkeypatch, *argv, "--style-map", str(mask), "--no-progress") == 0
        assert np.abs(np.asarray(Image.open(out), dtype=np.float32) - expected).max() <= 1.0, name
    capsys.readouterr()
    argv = ["stylize", "-m", str(tmp_path / "global.onnx"), str(source), "-o", str(tmp_path / "g.png")]
    assert run_cli(monkeypatch, *argv, "--style-mix", "sky,sea", "--style-map", str(mask)) == 1
    assert "export it with --style-map-input" in capsys.readouterr().err
    # a map export given one mix (no --style-map) paints that mix everywhere, as the global export does
    for name in ("map.onnx", "global.onnx"):
        argv = ["stylize", "-m", str(tmp_path / name), str(source), "-o", str(tmp_path / f"sea-{name}.png")]
        assert run_cli(monkeypatch, *argv, "--style-mix", "sea", "--no-progress") == 0
    sea = [
        np.asarray(Image.open(tmp_path / f"sea-{name}.png"), dtype=np.float32) for name in ("map.onnx", "global.onnx")
    ]
    assert np.abs(sea[0] - sea[1]).max() <= 1.0


def test_a_multi_style_teacher_distils_into_a_multi_style_student(tmp_path: Path) -> None:
    from fasttx.train import distill_config

    teacher = train(two_style_config(tmp_path, steps=1), progress=False).model
    first = two_style_config(tmp_path)
    cfg = distill_config(teacher, "tiny", tmp_path / "student", steps=2, dataset=first.dataset, style=first.style)
    assert cfg.net.styles == 2 and cfg.net.arch == "tiny"
    student, meta = load_model(train(cfg, progress=False).model)
    assert student.styles == 2 and meta["styles"] == ["red", "blue"]


def test_init_from_a_trained_network_takes_its_convolutions_and_the_mean_of_its_styles(tmp_path: Path) -> None:
    from fasttx.errors import FasttxError
    from fasttx.nets.transformer import start_from

    trained = perturbed(NetConfig(arch="tiny", styles=2))
    one, three = build_net(NetConfig(arch="tiny")).eval(), build_net(NetConfig(arch="tiny", styles=3)).eval()
    start_from(one, trained)
    start_from(three, trained)
    photo = torch.rand(1, 3, 40, 48)
    # the norms and the colour map are linear in the style weights: the mean style is the 50/50 mix
    with torch.no_grad():
        halfway = trained(photo, torch.tensor([[0.5, 0.5]]))
        torch.testing.assert_close(one(photo), halfway)
        for style in range(3):
            torch.testing.assert_close(three(photo, one_style(style, 3)), halfway)
    conv = "body.features.0.1.weight"
    torch.testing.assert_close(one.state_dict()[conv], trained.state_dict()[conv])
    with pytest.raises(FasttxError, match="same kind"):
        start_from(build_net(NetConfig(arch="small")), trained)


def test_each_style_starts_from_the_trained_style_nearest_to_it() -> None:
    from fasttx.nets.transformer import start_from
    from fasttx.train import nearest_styles

    trained = perturbed(NetConfig(arch="tiny", styles=2))
    photo = torch.rand(1, 3, 32, 40)
    with torch.no_grad():
        painted = [trained(photo, one_style(style, 2))[0] for style in range(2)]
    vgg = VGGFeatures(LossConfig().layers, weights="random")
    # a style image that is the trained style's own output on the photo scores 0 there: that style is the start
    one = PerceptualLoss(vgg, [painted[1]], LossConfig())
    assert nearest_styles(trained, one, photo).tolist() == [[0.0, 1.0]]
    two = PerceptualLoss(vgg, [painted[1], painted[0]], LossConfig(), separate=True)
    mixes = nearest_styles(trained, two, photo)
    assert mixes.tolist() == [[0.0, 1.0], [1.0, 0.0]]
    net = build_net(NetConfig(arch="tiny", styles=2)).eval()
    start_from(net, trained, mixes)
    with torch.no_grad():
        for style, painting in enumerate(reversed(painted)):
            torch.testing.assert_close(net(photo, one_style(style, 2))[0], painting)
