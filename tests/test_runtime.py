"""Inference: sessions (PyTorch vs onnxruntime), input planning, colour options, tiling seams, stylize, bench."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import painting_net, write_photo
from PIL import Image
from torch import nn
from typer.testing import CliRunner

from fasttx.cli import app
from fasttx.config import parse_sizes
from fasttx.errors import FasttxError
from fasttx.io import load_image
from fasttx.modelfile import save_model
from fasttx.nets.transformer import ARCHITECTURES, ConvLayer, NetConfig, StyleNet, UpsampleConv, build_net, count_macs
from fasttx.runtime import tiling
from fasttx.runtime.bench import bench, parse_archs
from fasttx.runtime.color import blend, preserve_color
from fasttx.runtime.images import Shard, plan_jobs
from fasttx.runtime.session import OrtSession, TorchSession, open_session, ort_providers
from fasttx.runtime.stylize import StylizeOptions, Stylizer, stylize_inputs

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 'tiny' network far from the identity, so every pixel depends on the weights."""
    from fasttx.export import export_onnx

    folder = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    net = painting_net(NetConfig(arch="tiny"))
    save_model(net, folder / "tiny.pth", {})
    export_onnx(folder / "tiny.pth", folder / "tiny.onnx", verify=False)
    export_onnx(folder / "tiny.pth", folder / "tiny-uint8.onnx", uint8_io=True, verify=False)
    return folder


def _png(path: Path, size: tuple[int, int] = (40, 32), seed: int = 0) -> Path:
    return write_photo(path.with_suffix(".png"), size=size, seed=seed)


# --- sessions ---------------------------------------------------------------------------------------


def test_onnx_float_session_matches_pytorch(model_dir: Path) -> None:
    torch_session, ort_session = (
        open_session(model_dir / "tiny.pth", "cpu"),
        open_session(model_dir / "tiny.onnx", "cpu"),
    )
    assert isinstance(torch_session, TorchSession) and isinstance(ort_session, OrtSession)
    assert not ort_session.uint8_io and ort_session.device == "CPUExecutionProvider"
    images = torch.rand(2, 3, 37, 53, generator=torch.Generator().manual_seed(1))
    expected, got = torch_session.run(images), ort_session.run(images)
    assert got.shape == expected.shape == images.shape
    assert (expected - images).abs().mean() > 0.05  # the network really changes the image
    assert (got - expected).abs().max() < 1e-4


def test_onnx_uint8_session_is_detected_and_matches_pytorch(model_dir: Path) -> None:
    torch_session, ort_session = (
        open_session(model_dir / "tiny.pth", "cpu"),
        open_session(model_dir / "tiny-uint8.onnx", "cpu"),
    )
    assert isinstance(ort_session, OrtSession) and ort_session.uint8_io
    frames = np.random.default_rng(0).integers(0, 256, (3, 29, 42, 3), dtype=np.uint8)
    expected, got = torch_session.run_frames(frames), ort_session.run_frames(frames)
    assert got.dtype == np.uint8 and got.shape == frames.shape
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1  # rounding at a .5 boundary
    # the float interface works on a uint8 graph too (converted at the edges)
    images = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    assert (ort_session.run(images) - torch_session.run(images)).abs().max() <= 1 / 255 + 1e-6


def test_ort_session_is_deterministic_and_batches_like_single_images(model_dir: Path) -> None:
    """What the session's settings are for: the same frames give the same pixels run after run, and a batch of
    frames (how video runs) gives what each frame gives alone."""
    session = OrtSession(model_dir / "tiny.onnx", "cpu")
    images = torch.rand(3, 3, 24, 40, generator=torch.Generator().manual_seed(5))
    first = session.run(images)
    assert torch.equal(first, session.run(images))
    singles = torch.cat([session.run(image[None]) for image in images])
    assert torch.allclose(first, singles, atol=1e-6)


def test_ort_providers_ask_for_cuda_only_with_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime as ort

    preloaded = []
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "preload_dlls", lambda *a, **k: preloaded.append(True), raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert ort_providers("auto") == ["CPUExecutionProvider"]
    with pytest.raises(FasttxError, match="no GPU"):
        ort_providers("cuda")
    assert not preloaded
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert ort_providers("auto") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert preloaded
    with pytest.raises(FasttxError, match="TensorrtExecutionProvider"):
        ort_providers("tensorrt")
    with pytest.raises(FasttxError, match="not for ONNX"):
        ort_providers("mps")


def test_open_session_reports_bad_model_files(tmp_path: Path) -> None:
    (tmp_path / "bad.onnx").write_bytes(b"not a graph")
    with pytest.raises(FasttxError, match="cannot load"):
        open_session(tmp_path / "bad.onnx")
    with pytest.raises(FasttxError, match="no such"):
        open_session(tmp_path / "missing.onnx")


# --- planning inputs and outputs ----------------------------------------------------------------------


def test_plan_single_image_to_file_and_folders_mirrored(tmp_path: Path) -> None:
    photo = _png(tmp_path / "in" / "a")
    nested = _png(tmp_path / "in" / "sub" / "b")
    (tmp_path / "in" / "clip.gif").write_bytes(b"GIF89a")
    (jobs,), _ = plan_jobs([photo], tmp_path / "out.jpg")
    assert jobs.target == tmp_path / "out.jpg" and jobs.kind == "image"
    jobs, _ = plan_jobs([tmp_path / "in"], tmp_path / "out")
    assert {(j.source, j.target, j.kind) for j in jobs} == {
        (photo, tmp_path / "out" / "a.png", "image"),
        (nested, tmp_path / "out" / "sub" / "b.png", "image"),
        (tmp_path / "in" / "clip.gif", tmp_path / "out" / "clip.mp4", "video"),  # GIF -> H.264 .mp4
    }
    # a quoted glob is expanded; named files land at the top of the output folder
    jobs, _ = plan_jobs([str(tmp_path / "in" / "**" / "*.png")], tmp_path / "out")
    assert sorted(j.target for j in jobs) == [tmp_path / "out" / "a.png", tmp_path / "out" / "b.png"]


def test_plan_refuses_what_would_lose_data(tmp_path: Path) -> None:
    photo = _png(tmp_path / "a")
    with pytest.raises(FasttxError, match="would overwrite the input"):
        plan_jobs([photo], photo)
    _png(tmp_path / "out" / "a")
    with pytest.raises(FasttxError, match="--overwrite"):
        plan_jobs([photo], tmp_path / "out")
    assert plan_jobs([photo], tmp_path / "out", overwrite=True)[0][0].target == tmp_path / "out" / "a.png"
    other = _png(tmp_path / "sub" / "a")
    with pytest.raises(FasttxError, match="both be written"):
        plan_jobs([photo, other], tmp_path / "new")
    with pytest.raises(FasttxError, match="no such file"):
        plan_jobs([tmp_path / "missing.jpg"], tmp_path / "new")
    with pytest.raises(FasttxError, match="must be a folder"):
        plan_jobs([photo, other], tmp_path / "x.jpg")


def test_plan_skips_earlier_results_inside_the_input_folder(tmp_path: Path) -> None:
    photo = _png(tmp_path / "a")
    _png(tmp_path / "styled" / "a")  # a previous run's output folder inside the input folder
    jobs, _ = plan_jobs([tmp_path], tmp_path / "styled", overwrite=True)
    assert [j.source for j in jobs] == [photo]


def test_shards_cover_every_input_once_and_a_rerun_skips_finished_outputs(tmp_path: Path) -> None:
    for i in range(40):
        _png(tmp_path / "in" / f"sub{i % 3}" / f"p{i}")
    everything, _ = plan_jobs([tmp_path / "in"], tmp_path / "out")
    shards = [plan_jobs([tmp_path / "in"], tmp_path / "out", shard=Shard(i, 4))[0] for i in range(4)]
    assert sorted(j.target for shard in shards for j in shard) == sorted(j.target for j in everything)
    assert all(5 <= len(shard) <= 15 for shard in shards)  # a hash split: roughly even
    # the same split whatever order the inputs are listed in
    listed = [str(p) for p in sorted((tmp_path / "in").rglob("*.png"), reverse=True)]
    by_name, _ = plan_jobs(listed, tmp_path / "flat", shard=Shard(1, 4))
    assert {j.target.name for j in by_name} == {
        j.target.name for j in plan_jobs(listed[::-1], tmp_path / "flat", shard=Shard(1, 4))[0]
    }
    _png(shards[0][0].target)  # one output of shard 0 finished before the worker was preempted
    with pytest.raises(FasttxError, match="--overwrite"):
        plan_jobs([tmp_path / "in"], tmp_path / "out", shard=Shard(0, 4))
    todo, done = plan_jobs([tmp_path / "in"], tmp_path / "out", shard=Shard(0, 4), skip_existing=True)
    assert done == 1 and todo == shards[0][1:]
    assert plan_jobs([tmp_path / "in"], tmp_path / "out", shard=Shard(1, 4))[0] == shards[1]  # others unaffected
    for bad in ("4/4", "1", "a/b", "-1/2"):
        with pytest.raises(FasttxError, match="--shard takes I/N"):
            Shard.parse(bad)
    assert Shard.parse("3/4") == Shard(3, 4)


# --- colour and strength --------------------------------------------------------------------------------


def _ycbcr(images: torch.Tensor) -> torch.Tensor:
    """JPEG's full-range BT.601 YCbCr, written out independently of fasttx.runtime.color."""
    matrix = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
    return torch.einsum("ij,njhw->nihw", matrix, images)


def test_preserve_color_keeps_the_photo_chroma_and_the_style_luminance() -> None:
    gen = torch.Generator().manual_seed(0)
    photo = 0.3 + 0.4 * torch.rand(2, 3, 8, 9, generator=gen)  # mid-range: nothing clips
    styled = 0.35 + 0.3 * torch.rand(2, 3, 8, 9, generator=gen)
    out = preserve_color(styled, photo)
    assert torch.allclose(_ycbcr(out)[:, 1:], _ycbcr(photo)[:, 1:], atol=1e-6)
    assert torch.allclose(_ycbcr(out)[:, :1], _ycbcr(styled)[:, :1], atol=1e-6)


def test_strength_blends_in_pixel_space() -> None:
    photo, styled = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
    assert torch.equal(blend(styled, photo, 0.0), photo)
    assert torch.allclose(blend(styled, photo, 0.25), torch.full_like(photo, 0.25))
    assert torch.equal(blend(styled, photo, 1.0), styled)
    for bad in (1.5, -0.1, float("nan")):  # checked once, with every other option, before any work
        with pytest.raises(FasttxError, match="--strength must be between 0"):
            StylizeOptions(strength=bad).validate()


def test_stylize_strength_zero_returns_the_input_and_preserve_color_its_chroma(model_dir: Path, tmp_path: Path) -> None:
    photo = _png(tmp_path / "in" / "a", size=(36, 28))
    options = StylizeOptions(strength=0.0)
    stylize_inputs(model_dir / "tiny.pth", [photo], tmp_path / "s0.png", options, device="cpu", progress=False)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "s0.png")), np.asarray(Image.open(photo)))

    stylize_inputs(
        model_dir / "tiny.onnx",
        [photo],
        tmp_path / "pc.png",
        StylizeOptions(preserve_color=True),
        device="cpu",
        progress=False,
    )
    source, out = load_image(photo)[None], load_image(tmp_path / "pc.png")[None]
    # where no channel clipped, the chroma is the photo's (up to 8-bit rounding of each channel)
    unclipped = ((out > 0.01) & (out < 0.99)).all(dim=1, keepdim=True).expand(-1, 2, -1, -1)
    chroma_error = (_ycbcr(out)[:, 1:] - _ycbcr(source)[:, 1:]).abs()[unclipped]
    assert chroma_error.numel() >= 100
    assert chroma_error.max() < 1.5 / 255
    assert (_ycbcr(out)[:, :1] - _ycbcr(source)[:, :1]).abs().mean() > 0.02  # the luminance did change


# --- tiling -------------------------------------------------------------------------------------------


class _ShallowBody(nn.Module):
    """Three InstanceNorm layers around a stride-2 bottleneck: a style net whose look hangs on image-wide statistics."""

    stride = 2
    min_size = 4

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(ConvLayer(3, 8, 3), ConvLayer(8, 8, 3, stride=2), UpsampleConv(8, 8))
        self.head = nn.Conv2d(8, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _two_region_scene(height: int, width: int) -> torch.Tensor:
    """Dark smooth gradient on the left, bright stripes on the right: tiles with very different statistics."""
    yy, xx = torch.linspace(0, 1, height)[:, None], torch.linspace(0, 1, width)[None, :]
    left = torch.stack([0.2 + 0.1 * yy + 0.05 * xx, 0.25 + 0.1 * xx * yy, 0.3 - 0.1 * yy + 0 * xx])
    right = 0.5 + 0.35 * torch.sin(40 * xx + 25 * yy + torch.tensor([0.0, 2.0, 4.0])[:, None, None])
    return torch.where(xx > 0.5, right, left).clamp(0, 1)[None]


def _seam_ratio(image: torch.Tensor, starts: list[int], overlap: int) -> float:
    """Mean |horizontal gradient| where tiles meet (overlap zones, or the border column) over that elsewhere."""
    gradient = (image[..., 1:] - image[..., :-1]).abs().mean(dim=(0, 1, 2))
    at_seam = torch.zeros_like(gradient, dtype=torch.bool)
    for start in starts[1:]:
        if overlap:
            at_seam[start : start + overlap] = True
        else:
            at_seam[start - 1] = True
    return float(gradient[at_seam].mean() / gradient[~at_seam].mean())


def test_tiling_with_shared_statistics_has_no_seams(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    net = StyleNet(_ShallowBody(), NetConfig()).eval()
    nn.init.normal_(net.body.head.weight, std=0.3)
    image = _two_region_scene(96, 192)
    with torch.no_grad():
        untiled = net(image).clamp(0, 1)
    tile, overlap = 64, 16
    starts = tiling._origins(192, tile, overlap, net.stride)
    assert len(starts) >= 3

    shared = tiling.stylize_tiled(net, image, tile, overlap, batch_size=2)
    hard = tiling.stylize_tiled(net, image, tile, 0, batch_size=2)  # no overlap: the tile borders show
    with monkeypatch.context() as m:  # what naive tiling does: every tile normalised by its own statistics
        m.setattr(tiling, "use_statistics", lambda net, stats: contextlib.nullcontext())
        own = tiling.stylize_tiled(net, image, tile, overlap, batch_size=2)

    assert shared.shape == untiled.shape
    # seams: the gradient where tiles meet is what the untiled image has there; the metric does catch hard borders
    assert _seam_ratio(shared, starts, overlap) < 1.1 * _seam_ratio(untiled, starts, overlap)
    hard_starts = tiling._origins(192, tile, 0, net.stride)
    assert _seam_ratio(hard, hard_starts, 0) > 1.3 * _seam_ratio(untiled, hard_starts, 0)
    # shared statistics stay close to the untiled result, much closer than per-tile statistics
    shared_error, own_error = (shared - untiled).abs().mean(), (own - untiled).abs().mean()
    assert shared_error < 0.6 * own_error
    assert shared_error < 0.5 * (untiled - image).abs().mean()


def test_tiling_with_whole_image_statistics_reproduces_the_untiled_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a full-size statistics pass, what is left is the blend of tile borders: small on a real architecture."""
    torch.manual_seed(0)
    net = build_net(NetConfig(arch="small")).eval()
    nn.init.normal_(net.body.head.weight, std=0.025)  # edits of a few tenths, as trained nets make
    image = _two_region_scene(96, 176)
    with torch.no_grad():
        untiled = net(image).clamp(0, 1)
    assert torch.equal(tiling.stylize_tiled(net, image, 256, 32), untiled)  # one tile: the plain forward pass
    monkeypatch.setattr(tiling, "_downscale", lambda image, area: image)
    tiled = tiling.stylize_tiled(net, image, 64, 32, batch_size=4)
    assert (tiled - untiled).abs().mean() < 0.5 * (untiled - image).abs().mean()
    assert (tiled - untiled).abs().mean() < 0.02


def test_tile_needs_the_pytorch_model(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(FasttxError, match="--tile needs the PyTorch model"):
        Stylizer(open_session(model_dir / "tiny.onnx", "cpu"), StylizeOptions(tile=64))
    stylizer = Stylizer(open_session(model_dir / "tiny.pth", "cpu"), StylizeOptions(tile=32, overlap=8))
    image = load_image(_png(tmp_path / "big", size=(80, 56)))[None]
    assert stylizer.images(image).shape == image.shape


# --- stylize end to end ---------------------------------------------------------------------------------


def test_frame_folder_batched_matches_one_by_one(model_dir: Path, tmp_path: Path) -> None:
    frames = [_png(tmp_path / "frames" / f"{i:04d}", size=(40, 24), seed=i) for i in range(5)]
    _png(tmp_path / "frames" / "odd_one", size=(30, 20), seed=9)  # another size: its own batch
    report = stylize_inputs(
        model_dir / "tiny.onnx",
        [tmp_path / "frames"],
        tmp_path / "out",
        StylizeOptions(batch_size=3),
        device="cpu",
        progress=False,
    )
    assert report.images == 6 and not report.failed
    session = open_session(model_dir / "tiny.pth", "cpu")
    for frame in frames:
        expected = session.run(load_image(frame)[None])[0]
        got = load_image(tmp_path / "out" / frame.name)
        assert (got - expected).abs().max() <= 1 / 255 + 1e-6
    assert load_image(tmp_path / "out" / "odd_one.png").shape == (3, 20, 30)


def test_max_size_downscales_the_output(model_dir: Path, tmp_path: Path) -> None:
    photo = _png(tmp_path / "a", size=(80, 40))
    stylize_inputs(
        model_dir / "tiny.pth", [photo], tmp_path / "out.png", StylizeOptions(max_size=40), device="cpu", progress=False
    )
    assert Image.open(tmp_path / "out.png").size == (40, 20)


def test_cli_skips_a_corrupt_image_writes_the_others_and_exits_nonzero(model_dir: Path, tmp_path: Path) -> None:
    good = [_png(tmp_path / "in" / name, seed=i) for i, name in enumerate(["a", "b"])]
    (tmp_path / "in" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    result = runner.invoke(
        app,
        [
            "stylize",
            "-m",
            str(model_dir / "tiny.pth"),
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "out"),
            "--no-progress",
            "--json",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [p.name for p in good]  # and no temp files
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert [f["input"] for f in report["failed"]] == [str(tmp_path / "in" / "broken.jpg")]
    assert report["images"] == 2


def test_cli_workers_of_a_sharded_job_write_everything_once_and_reruns_skip_what_is_done(
    model_dir: Path, tmp_path: Path
) -> None:
    for i in range(6):
        _png(tmp_path / "in" / f"p{i}", seed=i)
    base = ["stylize", "-m", str(model_dir / "tiny.pth"), str(tmp_path / "in"), "-o", str(tmp_path / "out")]
    base += ["--no-progress", "--json", "--device", "cpu"]
    reports = []
    for worker in range(3):
        result = runner.invoke(app, [*base, "--shard", f"{worker}/3"])
        assert result.exit_code == 0, result.output
        reports.append(json.loads(result.stdout[result.stdout.index("{") :]))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"p{i}.png" for i in range(6)]
    assert sum(r["images"] for r in reports) == 6
    busiest = max(range(3), key=lambda worker: reports[worker]["images"])  # a worker preempted, then rerun
    again = runner.invoke(app, [*base, "--shard", f"{busiest}/3", "--skip-existing"])
    report = json.loads(again.stdout[again.stdout.index("{") :])
    assert again.exit_code == 0 and report["images"] == 0
    assert report["skipped_existing"] == reports[busiest]["images"] > 0 and "already done, skipped" in again.stderr
    bad = runner.invoke(app, [*base, "--shard", "3/3"])
    assert isinstance(bad.exception, FasttxError) and "--shard takes I/N" in str(bad.exception)


def test_cli_refuses_to_overwrite(model_dir: Path, tmp_path: Path) -> None:
    photo = _png(tmp_path / "a")
    target = tmp_path / "out.png"
    target.write_bytes(b"keep me")
    args = ["stylize", "-m", str(model_dir / "tiny.pth"), str(photo), "-o", str(target), "--no-progress"]
    result = runner.invoke(app, args)
    assert isinstance(result.exception, FasttxError) and "--overwrite" in str(result.exception)
    assert target.read_bytes() == b"keep me"
    result = runner.invoke(
        app, ["stylize", "-m", str(model_dir / "tiny.pth"), str(photo), "-o", str(photo), "--no-progress"]
    )
    assert isinstance(result.exception, FasttxError) and "overwrite the input" in str(result.exception)
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    assert Image.open(target).size == (40, 32)


# --- bench --------------------------------------------------------------------------------------------


def test_parse_sizes() -> None:
    assert [(s.width, s.height) for s in parse_sizes("256, 720p,64x48")] == [(256, 256), (1280, 720), (64, 48)]
    with pytest.raises(FasttxError, match="bad size"):
        parse_sizes("big")


def test_bench_measures_each_backend_and_size(model_dir: Path, tmp_path: Path) -> None:
    # the ORT file beside the model is used as it is (no export on the fly)
    for name in ("tiny.pth", "tiny.onnx"):
        (tmp_path / name).write_bytes((model_dir / name).read_bytes())
    rows = []
    report = bench(
        [tmp_path / "tiny.pth"],
        parse_sizes("32,48x24"),
        ["torch", "ort"],
        repeat=3,
        warmup=1,
        batch=2,
        on_row=rows.append,
    )
    assert {r.model for r in report.rows} == {str(tmp_path / "tiny.pth")}
    assert [(r.backend, r.device, r.size) for r in report.rows] == [
        ("torch", "cpu", "32"),
        ("torch", "cpu", "48x24"),
        ("ort", "CPUExecutionProvider", "32"),
        ("ort", "CPUExecutionProvider", "48x24"),
    ]
    assert rows == report.rows
    for row in report.rows:
        assert row.error is None and row.latency_ms is not None and row.fps is not None
        assert 0 < row.min_ms <= row.latency_ms
        assert row.fps == pytest.approx(2 * 1000 / row.latency_ms)
        assert row.megapixels_per_s == pytest.approx(row.fps * row.width * row.height / 1e6)
    assert json.loads(json.dumps(report.to_dict()))["rows"][0]["backend"] == "torch"
    int8 = bench([tmp_path / "tiny.pth"], parse_sizes("32"), ["ort-int8"], repeat=1, warmup=0)
    assert not int8.rows and "--calibration" in int8.skipped[0]


def test_bench_compares_models_and_architectures_in_one_table(model_dir: Path) -> None:
    report = bench(
        [model_dir / "tiny.onnx"],
        parse_sizes("40,24x16"),
        ["torch", "ort"],
        archs=["tiny", "small"],
        repeat=2,
        warmup=0,
    )
    # the ONNX file's architecture comes from its metadata; untrained architectures are built from the registry
    assert [(m.name, m.arch) for m in report.models] == [
        (str(model_dir / "tiny.onnx"), "tiny"),
        ("tiny", "tiny"),
        ("small", "small"),
    ]
    tiny, small = build_net(NetConfig(arch="tiny")), build_net(NetConfig(arch="small"))
    assert report.models[1].params == sum(p.numel() for p in tiny.parameters())
    assert report.models[2].params == sum(p.numel() for p in small.parameters())
    assert report.models[2].gmacs_720p == pytest.approx(count_macs(small, 720, 1280) / 1e9)
    assert report.models[1].gmacs_720p == pytest.approx(report.models[0].gmacs_720p)  # the trained tiny's own count
    assert report.models[1].gmacs_720p < report.models[2].gmacs_720p
    assert [(r.model, r.backend) for r in report.rows if r.size == "40"] == [
        (str(model_dir / "tiny.onnx"), "ort"),
        ("tiny", "torch"),
        ("tiny", "ort"),
        ("small", "torch"),
        ("small", "ort"),
    ]
    for size in ("40", "24x16"):
        rows = [r for r in report.rows if r.size == size]
        assert rows[0].speedup == 1.0
        for row in rows:
            assert row.speedup == pytest.approx(rows[0].latency_ms / row.latency_ms)
    with pytest.raises(FasttxError, match="unknown architecture"):
        parse_archs("tiny,huge")
    assert parse_archs("all") == sorted(ARCHITECTURES)


def test_bench_cli_prints_architecture_costs_and_json() -> None:
    result = runner.invoke(
        app,
        ["bench", "--arch", "tiny", "--sizes", "24", "--backends", "torch", "--repeat", "1", "--warmup", "0", "--json"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["models"][0]["arch"] == "tiny" and report["models"][0]["params"] > 0
    assert [(r["model"], r["backend"], r["speedup"]) for r in report["rows"]] == [("tiny", "torch", 1.0)]
    assert "GMAC per 720p frame" in result.stderr
    assert runner.invoke(app, ["bench", "--sizes", "24"]).exit_code != 0  # nothing to measure


def test_frame_batches_run_a_batch_engines_columns_uniform_or_ragged(model_dir: Path) -> None:
    from fasttx.runtime.stylize import FrameBatches

    stylise = FrameBatches(model_dir / "tiny.onnx", device="cpu")
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 24, 32, 3), dtype=np.uint8)
    expected = open_session(model_dir / "tiny.onnx", "cpu").run_frames(frames)
    out = stylise({"image": frames, "path": np.array(["a", "b", "c"])})
    np.testing.assert_array_equal(out["image"], expected)
    assert out["path"].tolist() == ["a", "b", "c"]  # other columns pass through
    ragged = [frames[0], rng.integers(0, 256, (17, 40, 3), dtype=np.uint8)]
    out = stylise({"image": ragged})["image"]
    assert out[0].shape == (24, 32, 3) and out[1].shape == (17, 40, 3)
    np.testing.assert_array_equal(out[0], expected[0])


def test_rates_read_right_at_any_speed() -> None:
    from fasttx.progress import format_rate

    assert [format_rate(r, "img") for r in (0, 0.037, 0.37, 1.44, 12.3)] == [
        "- img/s",
        "27 s/img",
        "0.37 img/s",
        "1.4 img/s",
        "12 img/s",
    ]
