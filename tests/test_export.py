from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from PIL import Image

# helpers shared with the training tests (tests/ is on sys.path under pytest)
from test_train import run_cli, tiny_config

import fasttx.export
from fasttx import __version__
from fasttx.errors import FasttxError
from fasttx.export import DEFAULT_OPSET, ExportReport, export_onnx, read_metadata
from fasttx.io import load_image
from fasttx.modelfile import load_model, save_model, shipped_models
from fasttx.nets.transformer import NetConfig, build_net, one_style
from fasttx.pixels import images_to_frames, quantize
from fasttx.train import train

META = {
    "style_name": "candy",
    "style_sha256": ["ab" * 32],
    "train_config": {"image_size": 256, "lr": 0.001, "loss": {"style_weight": 1.0}},
    "quality_content": 0.25,
}


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Johnson net with perturbed random weights, so its output is far from the identity.

    The head gets a smaller push: its output is added to the pixels, and a trained net's edits stay within about
    +-1 (much larger ones only test float32 rounding of values that the clamp throws away).
    """
    torch.manual_seed(0)
    net = build_net(NetConfig())
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.add_((0.005 if name.startswith("body.head") else 0.05) * torch.randn_like(p))
    return save_model(net, tmp_path_factory.mktemp("model") / "model.pth", META)


@pytest.fixture(scope="module")
def fp32_export(model_file: Path) -> ExportReport:
    return export_onnx(model_file, model_file.with_name("model.onnx"))


@pytest.fixture
def reuse_fp32_trace(fp32_export: ExportReport, monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip re-tracing the same model (seconds each): the variants under test start from the fp32 graph it gives."""

    def traced(net: object, uint8_io: bool, opset: int, style_map: bool, fixed_size: object) -> onnx.ModelProto:
        assert not uint8_io and opset == DEFAULT_OPSET and not style_map and fixed_size is None
        return onnx.load(fp32_export.path)

    monkeypatch.setattr(fasttx.export, "_trace", traced)


def session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * math.log10(1 / float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def test_fp32_matches_pytorch_at_sizes_and_batches_never_exported(fp32_export: ExportReport, model_file: Path) -> None:
    net, _ = load_model(model_file)
    sess = session(fp32_export.path)
    assert [(i.name, i.shape) for i in sess.get_inputs()] == [("image", ["batch", 3, "height", "width"])]
    assert [(o.name, o.shape) for o in sess.get_outputs()] == [("stylized", ["batch", 3, "height", "width"])]
    gen = torch.Generator().manual_seed(1)
    # odd, non-square, below the net's min_size (replicate padding), stride-aligned, single pixel
    for shape in [(2, 3, 47, 33), (3, 3, 31, 97), (1, 3, 5, 3), (2, 3, 64, 64), (1, 3, 1, 1)]:
        x = torch.rand(shape, generator=gen)
        with torch.no_grad():
            expected = net(x).numpy()
        got = sess.run(None, {"image": x.numpy()})[0]
        assert got.shape == shape
        assert np.abs(got - expected).max() <= 1e-4, shape
        if shape[-1] > 16:
            assert np.abs(expected - x.numpy()).mean() > 0.05  # the net really transforms: not a trivial pass
    report = fp32_export
    assert (report.variant, report.io, report.opset, report.criterion) == (
        "fp32",
        "float",
        DEFAULT_OPSET,
        "max_abs_diff",
    )
    assert set(report.max_abs_diff) == {"64x64", "47x33", "96x128"}
    assert all(d <= 1e-4 < report.tolerance == fasttx.export.FP32_TOLERANCE for d in report.max_abs_diff.values())
    assert report.size_bytes == report.path.stat().st_size > 4 * build_net(NetConfig()).parameter_count()


def test_metadata_round_trip(fp32_export: ExportReport) -> None:
    meta = read_metadata(fp32_export.path)
    assert meta["style_name"] == "candy"
    assert json.loads(meta["style_sha256"]) == META["style_sha256"]
    assert json.loads(meta["train_config"]) == META["train_config"]
    assert float(meta["quality_content"]) == 0.25
    assert meta["fasttx_version"] == __version__
    assert (meta["variant"], meta["io"], meta["opset"]) == ("fp32", "float", str(DEFAULT_OPSET))
    assert meta["io_convention"].startswith("input 'image': float32 NCHW RGB in [0, 1]")
    assert json.loads(meta["net"]) == {"arch": "johnson", "colour": True, "styles": 1}
    assert "/" not in onnx.load(fp32_export.path).graph.node[0].doc_string  # no local paths in a shared file


def test_uint8_io_equals_float_io_after_rounding(fp32_export: ExportReport, model_file: Path, tmp_path: Path) -> None:
    report = export_onnx(model_file, tmp_path / "u8.onnx", uint8_io=True, opset=20, meta={"quality_psnr": 31.5})
    assert (report.io, report.opset) == ("uint8", 20)
    assert max(report.max_abs_diff.values()) <= 1 / 255 + 1e-6
    assert onnx.load(report.path).opset_import[0].version == 20
    meta = read_metadata(report.path)
    assert (meta["style_name"], meta["quality_psnr"], meta["io"]) == (
        "candy",
        "31.5",
        "uint8",
    )  # merged over the file's
    frames = np.random.default_rng(0).integers(0, 256, (2, 37, 50, 3), dtype=np.uint8)  # NHWC, as decoders give
    got = session(report.path).run(None, {"image": frames})[0]
    assert got.dtype == np.uint8 and got.shape == frames.shape
    as_float = frames.transpose(0, 3, 1, 2).astype(np.float32) / 255
    reference = session(fp32_export.path).run(None, {"image": as_float})[0]
    reference = np.round(reference * 255).astype(np.int16).transpose(0, 2, 3, 1)
    diff = np.abs(got.astype(np.int16) - reference)
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


@pytest.mark.usefixtures("reuse_fp32_trace")
def test_fp16_via_cli_stays_close_to_fp32(
    model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "model.fp16.onnx"
    assert run_cli(monkeypatch, "export", str(model_file), "-o", str(target), "--fp16", "--json") == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert (report["variant"], report["criterion"], report["tolerance"]) == ("fp16", "psnr_db", 40.0)
    assert min(report["psnr_db"].values()) >= 40 and "fp16" in captured.err
    model = onnx.load(target)
    assert {onnx.TensorProto.FLOAT16} <= {i.data_type for i in model.graph.initializer}
    sess = session(target)
    assert sess.get_inputs()[0].type == "tensor(float)"  # clients keep feeding float32
    x = torch.rand(1, 3, 50, 70, generator=torch.Generator().manual_seed(2))
    net, _ = load_model(model_file)
    with torch.no_grad():
        expected = net(x).numpy()
    assert psnr(sess.run(None, {"image": x.numpy()})[0], expected) > 40


@pytest.mark.usefixtures("reuse_fp32_trace")
def test_int8_is_calibrated_on_photos_and_stays_close(
    fp32_export: ExportReport, model_file: Path, photo_folder: Path, tmp_path: Path
) -> None:
    report = export_onnx(model_file, tmp_path / "model.int8.onnx", int8_calibration=photo_folder)
    assert (report.variant, report.criterion) == ("int8", "psnr_db")
    assert min(report.psnr_db.values()) >= 25
    model = onnx.load(report.path)
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in model.graph.node}
    assert report.size_bytes < 0.4 * fp32_export.size_bytes  # int8 weights
    photo = load_image(next(photo_folder.iterdir())).unsqueeze(0)
    net, _ = load_model(model_file)
    with torch.no_grad():
        expected = net(photo).numpy()
    assert psnr(session(report.path).run(None, {"image": photo.numpy()})[0], expected) > 25


def test_info_cli(
    fp32_export: ExportReport, model_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(monkeypatch, "info", str(fp32_export.path)) == 0
    out = capsys.readouterr().out
    assert "style_name: candy" in out and "variant: fp32" in out and "quality_content: 0.25" in out
    assert "image float32 ['batch', 3, 'height', 'width']" in out

    assert run_cli(monkeypatch, "info", str(fp32_export.path), "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["metadata"]["io_convention"] == read_metadata(fp32_export.path)["io_convention"]
    assert info["outputs"] == [{"name": "stylized", "dtype": "float32", "shape": ["batch", 3, "height", "width"]}]

    assert run_cli(monkeypatch, "info", str(model_file), "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["meta"] == META and info["net"]["arch"] == "johnson" and info["parameters"] == 1_679_235 + 12

    assert run_cli(monkeypatch, "info", str(model_file.with_name("missing.onnx"))) == 1
    assert "no such file" in capsys.readouterr().err


def test_the_shipped_network_is_listed_and_used_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    [(name, path)] = shipped_models().items()
    assert run_cli(monkeypatch, "info", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    styles = listed[name]["styles"].split(", ")
    assert listed[name]["path"] == str(path) and len(styles) >= 4
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(photo)
    args = ["stylize", "--model", name, "--style", styles[-1], str(photo), "-o", str(tmp_path / "out.png")]
    assert run_cli(monkeypatch, *args, "--no-progress") == 0
    net, _ = load_model(path)
    with torch.no_grad():  # the last style, as the file holds it
        expected = net(load_image(photo)[None], one_style(len(styles) - 1, net.styles)).clamp(0, 1)[0]
    assert (load_image(tmp_path / "out.png") - expected).abs().max() <= 1 / 255 + 1e-6
    assert run_cli(monkeypatch, "stylize", "--model", "no_such_name", str(photo), "-o", str(tmp_path / "x.png")) == 1
    assert f"fasttx ships: {name}" in capsys.readouterr().err


@pytest.mark.usefixtures("reuse_fp32_trace")
def test_failed_check_leaves_the_previous_file(
    model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous")
    monkeypatch.setattr(fasttx.export, "FP32_TOLERANCE", -1.0)  # no graph can pass
    with pytest.raises(FasttxError, match="differs from PyTorch"):
        export_onnx(model_file, target, overwrite=True)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # no temp file left behind


@pytest.mark.parametrize(
    ("output", "options", "message"),
    [
        ("model.pth", {}, "written as a .onnx file"),
        ("x.onnx", {"fp16": True, "int8_calibration": "photos"}, "not both"),
        ("x.onnx", {"int8_calibration": "empty"}, "no readable photos"),
        ("x.onnx", {"opset": 16}, "--opset must be 18"),
        ("x.onnx", {"opset": 99}, "--opset must be 18"),
        ("photo.jpg", {}, "written as a .onnx file"),
        ("folder.onnx", {"overwrite": True}, "is a folder"),
    ],
)
def test_user_mistakes(model_file: Path, tmp_path: Path, output: str, options: dict[str, object], message: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "folder.onnx").mkdir()
    (tmp_path / "photo.jpg").write_bytes(b"a photo that must survive")
    options = {k: tmp_path / v if k == "int8_calibration" else v for k, v in options.items()}
    target = model_file.with_name(output) if output == "model.pth" else tmp_path / output
    with pytest.raises(FasttxError, match=message):
        export_onnx(model_file, target, **options)  # type: ignore[arg-type]
    assert not (tmp_path / "x.onnx").exists()
    assert (tmp_path / "photo.jpg").read_bytes() == b"a photo that must survive"


@pytest.mark.filterwarnings("ignore:.*random.*:UserWarning")
def test_training_writes_a_checked_model_onnx(photo_folder: Path, style_image: Path, tmp_path: Path) -> None:
    cfg = tiny_config(photo_folder, style_image, tmp_path / "run", steps=2)
    cfg.net = NetConfig(arch="tiny")
    cfg.onnx = True
    result = train(cfg, progress=False)
    onnx_path = result.out / "model.onnx"
    meta = read_metadata(onnx_path)
    assert meta["style_name"] == "style" and meta["steps"] == "2" and json.loads(meta["train_config"])["steps"] == 2
    net, _ = load_model(result.model)
    x = torch.rand(2, 3, 29, 45, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = net(x)
    got = session(onnx_path).run(None, {"image": x.numpy()})[0]
    assert np.abs(got - expected.clamp(0, 1).numpy()).max() <= 1e-4


@pytest.mark.parametrize("uint8_io", [False, True])
def test_fixed_size_export_runs_in_opencv_dnn_like_in_onnxruntime(tmp_path: Path, uint8_io: bool) -> None:
    cv2 = pytest.importorskip("cv2")
    torch.manual_seed(0)
    net = build_net(NetConfig(arch="johnson")).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.02 * torch.randn_like(p))  # away from the identity the untrained net is
    report = export_onnx(net, tmp_path / "fixed.onnx", fixed_size=(52, 76), uint8_io=uint8_io)
    assert list(report.max_abs_diff) == ["52x76"]  # checked against PyTorch at its one size
    meta = read_metadata(tmp_path / "fixed.onnx")
    assert meta["fixed_size"] == "52x76" and "exactly H=52, W=76" in meta["io_convention"]
    image = torch.rand(1, 3, 52, 76)
    feed = quantize(image) if uint8_io else image
    feed = images_to_frames(feed).numpy() if uint8_io else feed.numpy()
    expected = ort.InferenceSession(str(tmp_path / "fixed.onnx")).run(None, {"image": feed})[0]
    dnn = cv2.dnn.readNetFromONNX(str(tmp_path / "fixed.onnx"))
    dnn.setInput(feed)
    got = dnn.forward()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.astype(np.float32), expected.astype(np.float32), atol=1.0 if uint8_io else 1e-4)
