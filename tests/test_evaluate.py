"""Evaluation: the distances on cases whose answer is known, against a hand computation, and the visual report."""

from __future__ import annotations

import json
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import painting_net, run_cli, write_photo
from PIL import Image
from torch import nn

from fasttx.errors import FasttxError
from fasttx.evaluate import METRIC, evaluate_model, trained_style_size
from fasttx.io import load_image, open_rgb, pil_to_tensor, resize_long_side
from fasttx.losses import LossConfig
from fasttx.modelfile import save_model
from fasttx.nets.transformer import NetConfig, build_net, one_style
from fasttx.nets.vgg import VGGFeatures
from fasttx.report import THUMB, write_report
from fasttx.runtime.session import open_session

pytestmark = pytest.mark.filterwarnings("ignore:VGG weights are random")
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def vgg() -> VGGFeatures:
    return VGGFeatures(METRIC.layers, weights="random")


@pytest.fixture
def photos(tmp_path: Path) -> list[Path]:
    return [write_photo(tmp_path / "photos" / f"p{i}.png", size=(32, 32), seed=i) for i in range(2)]


@pytest.fixture
def style(tmp_path: Path) -> Path:
    return write_photo(tmp_path / "style.png", size=(32, 32), seed=99)


class FixedImage(nn.Module):
    """Always answers with one image, resized to the input: a model whose every output *is* the style."""

    def __init__(self, image: torch.Tensor) -> None:
        super().__init__()
        self.image = image.unsqueeze(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.image, size=x.shape[-2:], mode="bilinear", antialias=True, align_corners=False)


def test_identity_model_has_zero_content_distance(vgg: VGGFeatures, photos: list[Path], style: Path) -> None:
    report = evaluate_model(nn.Identity(), style, photos, vgg, size=32)
    assert len(report.rows) == 2
    for row in report.rows:
        assert row.scores["model"].content == pytest.approx(0.0, abs=1e-9)
        assert row.scores["photo"].content == pytest.approx(0.0, abs=1e-9)
        assert row.scores["model"].style == pytest.approx(row.scores["photo"].style)
        assert row.scores["photo"].style > 0.01  # a photo is not the style
    assert "gatys" not in report.means


def test_a_model_that_outputs_the_style_has_zero_style_distance(
    vgg: VGGFeatures, photos: list[Path], style: Path
) -> None:
    model = FixedImage(load_image(style))
    report = evaluate_model(model, style, photos, vgg, size=32, style_size=32)
    assert report.means["model"].style == pytest.approx(0.0, abs=1e-6)
    assert report.means["model"].content > 0.05  # ... and nothing of the photo
    assert report.means["photo"].style > 0.01


def test_strength_scores_the_mix_stylize_would_save(vgg: VGGFeatures, photos: list[Path], style: Path) -> None:
    model = FixedImage(load_image(style))
    none = evaluate_model(model, style, photos, vgg, size=32, style_size=32, strength=0.0)
    assert none.strength == 0.0
    assert none.means["model"].content == pytest.approx(0.0, abs=1e-9)
    assert none.means["model"].style == pytest.approx(none.means["photo"].style)

    half = evaluate_model(model, style, photos, vgg, size=32, style_size=32, strength=0.5)
    mixed = evaluate_model(lambda x: 0.5 * x + 0.5 * model(x), style, photos, vgg, size=32, style_size=32)
    assert half.means["model"].content == pytest.approx(mixed.means["model"].content, rel=1e-5)
    assert half.means["model"].style == pytest.approx(mixed.means["model"].style, rel=1e-5)
    with pytest.raises(FasttxError, match="--strength"):
        evaluate_model(model, style, photos, vgg, size=32, strength=1.5)


def _hand_gram(f: torch.Tensor) -> torch.Tensor:
    c, h, w = f.shape[1:]
    flat = f[0].reshape(c, h * w).double()
    return flat @ flat.T / (c * h * w)


def test_distances_match_the_formulas_by_hand(vgg: VGGFeatures, tmp_path: Path, style: Path) -> None:
    paths = [write_photo(tmp_path / f"q{i}.png", size=(48, 40), seed=10 + i) for i in range(2)]
    big_style = write_photo(tmp_path / "big_style.png", size=(80, 60), seed=5)
    report = evaluate_model(lambda x: 0.5 * x, big_style, paths, vgg, size=32)
    assert report.style_size == 64  # 2x the photo size, as in training

    style_img = F.interpolate(load_image(big_style)[None], size=(48, 64), mode="bilinear", antialias=True)
    with torch.no_grad():
        style_feats = vgg(style_img)
        for path, row in zip(paths, report.rows, strict=True):
            photo = pil_to_tensor(resize_long_side(open_rgb(path), 32))[None]
            assert (row.width, row.height) == (32, 27)
            out_feats, photo_feats = vgg(0.5 * photo), vgg(photo)
            fo, fp = out_feats["relu2_2"].double(), photo_feats["relu2_2"].double()
            content = ((fo - fp) ** 2).sum() / (fp**2).sum()
            style_d = 0.0
            for j in ("relu1_2", "relu2_2", "relu3_3", "relu4_3"):
                target = _hand_gram(style_feats[j])
                style_d += float(((_hand_gram(out_feats[j]) - target) ** 2).sum() / (target**2).sum())
            assert row.scores["model"].content == pytest.approx(float(content), rel=1e-4)
            assert row.scores["model"].style == pytest.approx(style_d, rel=1e-4)
    for kind in ("photo", "model"):
        assert report.means[kind].style == pytest.approx(np.mean([r.scores[kind].style for r in report.rows]))


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources.append(dict(attrs)["src"] or "")


def test_vs_optimize_and_the_report(vgg: VGGFeatures, photos: list[Path], style: Path, tmp_path: Path) -> None:
    out = tmp_path / "my report"  # a space: links must be URL-quoted
    report = evaluate_model(nn.Identity(), style, photos, vgg, size=32, vs_optimize=4, image_dir=out / "images")
    for row in report.rows:
        gatys, photo = row.scores["gatys"], row.scores["photo"]
        assert gatys.content + gatys.style < photo.content + photo.style  # the objective (weights 1, 1) went down

    files = write_report(report, out)
    page = files.html.read_text(encoding="utf-8")
    assert str(tmp_path) not in page  # names, not local folders: a report is shared
    assert page.index("<img") < page.index("Means over")  # the pictures first, then the numbers explained
    parser = _Images()
    parser.feed(page)
    assert len(parser.sources) == 2 * 4  # content | model | Gatys | style per photo
    for src in parser.sources:
        assert not src.startswith(("/", "file:"))
        assert (out / src.replace("%20", " ")).is_file(), src

    with Image.open(files.contact_sheet) as sheet:
        assert sheet.size == (4 * (THUMB + 12), 20 + 2 * (THUMB + 30 + 12))
        cell = np.asarray(sheet.convert("L"))[20 + 6 : 20 + 6 + 32, 6 : 6 + 32]
        assert cell.std() > 5  # a photo was pasted there, not blank paper

    data = json.loads(report.to_json())
    assert set(data["means"]) == {"photo", "model", "gatys"}
    assert all(Path(p).is_file() for p in data["rows"][0]["images"].values())


def test_unreadable_photos_are_skipped(vgg: VGGFeatures, photos: list[Path], style: Path) -> None:
    bad = photos[0].with_name("broken.jpg")
    bad.write_bytes(b"not a jpeg")
    with pytest.warns(UserWarning, match="broken.jpg"):
        report = evaluate_model(nn.Identity(), style, [*photos, bad], vgg, size=32)
    assert report.skipped == [str(bad)] and len(report.rows) == 2


def test_cli_evaluate_json_and_report(
    photos: list[Path], style: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model.pth"
    trained = LossConfig(style_layers={"relu1_2": 1.0, "relu3_3": 1.0}, style_weight=2.0)  # Gatys: the model's own loss
    train_config = {"loss": trained.to_dict(), "image_size": 24}
    save_model(build_net(NetConfig(arch="tiny")), model, {"train_config": train_config})
    args = ["evaluate", "--model", str(model), "--style", str(style), "--photos", str(photos[0].parent), "--size", "32"]
    args += ["--vs-optimize", "2", "--report", str(tmp_path / "report"), "--vgg-weights", "random", "--device", "cpu"]
    assert run_cli(monkeypatch, *args, "--strength", "0.5", "--no-progress", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["strength"] == 0.5
    assert [Path(r["photo"]).name for r in data["rows"]] == ["p0.png", "p1.png"]
    assert data["vs_optimize"] == 2 and data["style_size"] == 48  # the style's scale in training: 2 x 24, not 2 x 32
    assert set(data["means"]) == {"photo", "model", "gatys"}
    assert (tmp_path / "report" / "index.html").is_file() and (tmp_path / "report" / "contact_sheet.png").is_file()

    assert run_cli(monkeypatch, "evaluate", "--model", str(model), "--style", str(style), "--photos", "nowhere") == 1
    assert "no such photo or folder" in capsys.readouterr().err


def test_style_size_follows_the_training_recipe() -> None:
    assert trained_style_size({}) is None  # no recipe recorded: the caller's default (2 x the photo size) applies
    assert trained_style_size({"train_config": {"image_size": 128, "loss": {"style_size": None}}}) == 256
    assert trained_style_size({"train_config": {"image_size": 128, "loss": {"style_size": 300}}}) == 300


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_onnx_models_run_through_onnxruntime(tmp_path: Path) -> None:
    class Invert(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 1 - x

    class InvertUint8Nhwc(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (255 - x.float()).to(torch.uint8)

    axes = {"image": {2: "h", 3: "w"}, "out": {2: "h", 3: "w"}}
    torch.onnx.export(
        Invert(),
        (torch.rand(1, 3, 8, 8),),
        tmp_path / "f.onnx",
        input_names=["image"],
        output_names=["out"],
        dynamic_axes=axes,
        dynamo=False,
    )
    axes = {"image": {1: "h", 2: "w"}, "out": {1: "h", 2: "w"}}
    torch.onnx.export(
        InvertUint8Nhwc(),
        (torch.zeros(1, 8, 8, 3, dtype=torch.uint8),),
        tmp_path / "u.onnx",
        input_names=["image"],
        output_names=["out"],
        dynamic_axes=axes,
        dynamo=False,
    )
    image = torch.rand(1, 3, 12, 10)
    for name, tolerance in (("f.onnx", 1e-6), ("u.onnx", 0.5 / 255 + 1e-6)):
        with pytest.warns(UserWarning, match="no fasttx metadata"):
            session = open_session(tmp_path / name, "cpu")
        assert session.meta == {}
        assert torch.allclose(session.run(image), 1 - image, atol=tolerance)


def test_a_multi_style_models_named_style_is_scored(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = painting_net(NetConfig(arch="tiny", styles=2))
    with torch.no_grad():  # make the styles differ
        for module in net.modules():
            if hasattr(module, "bias") and getattr(module, "bias", None) is not None and module.bias.dim() == 2:
                module.bias[1].add_(0.5)
    save_model(net, tmp_path / "multi.pth", {"styles": ["sky", "sea"]})
    image = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        first, second = net(image).clamp(0, 1), net(image, one_style(1, 2)).clamp(0, 1)
    default = open_session(tmp_path / "multi.pth", "cpu")
    sea = open_session(tmp_path / "multi.pth", "cpu", style="sea")
    assert default.meta["styles"] == ["sky", "sea"]
    torch.testing.assert_close(default.run(image), first)
    torch.testing.assert_close(sea.run(image), second)
    assert (first - second).abs().max() > 0.01


@pytest.mark.skipif(not CHROMIUM.is_file(), reason="needs /usr/bin/chromium")
@pytest.mark.slow
def test_report_renders_in_headless_chromium(vgg: VGGFeatures, photos: list[Path], style: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    write_report(evaluate_model(nn.Identity(), style, photos, vgg, size=32, image_dir=out / "images"), out)
    shot = tmp_path / "shot.png"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1200,900",
        (out / "index.html").as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    with Image.open(shot) as img:
        assert img.size == (1200, 900)
        pixels = np.asarray(img.convert("RGB"), dtype=np.float64)
    assert pixels.std() > 10  # not a blank page: text, tables and the images were drawn
    # the photos themselves were drawn: some pixels are far from grey (the test images are saturated colour)
    assert (pixels.max(axis=2) - pixels.min(axis=2)).max() > 100
