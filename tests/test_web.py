"""The exported model where apps run it: onnxruntime-web under Node (the npm package, pinned) and the `fasttx web`
page in headless Chromium (a test image and the fake webcam), against onnxruntime in Python."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from conftest import run_cli
from PIL import Image

from fasttx.export import export_onnx
from fasttx.nets.transformer import NetConfig, build_net
from fasttx.pixels import frames_to_images, images_to_frames
from fasttx.web import ORT_WEB_VERSION, SiteHandler, SiteServer, build_site, cache_dir

CHROMIUM = shutil.which("chromium")
NODE, NPM = shutil.which("node"), shutil.which("npm")
SIZES = ((33, 47), (50, 29))  # odd, and not the exporter's example size


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A random johnson network pushed away from the identity, exported with float and with uint8 I/O."""
    folder = tmp_path_factory.mktemp("web-models")
    torch.manual_seed(0)
    net = build_net(NetConfig()).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return {io: export_onnx(net, folder / f"{io}.onnx", uint8_io=io == "uint8").path for io in ("float", "uint8")}


def frames(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (1, height, width, 3), dtype=np.uint8)


def python_output(model: Path, pixels: np.ndarray, io: str) -> np.ndarray:
    """What onnxruntime in Python makes of uint8 frames [1, H, W, 3], as uint8 frames."""
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    feed = pixels if io == "uint8" else frames_to_images(pixels).numpy()
    out = session.run(None, {"image": feed})[0]
    return out if io == "uint8" else images_to_frames(torch.from_numpy(out)).numpy()


@pytest.fixture(scope="module")
def node_ort() -> Path:
    """onnxruntime-web (and its one dependency, onnxruntime-common) from npm at the pinned version, once."""
    if not (NODE and NPM):
        pytest.skip("needs node and npm")
    prefix = cache_dir() / f"node-onnxruntime-web-{ORT_WEB_VERSION}"
    if not (prefix / "node_modules" / "onnxruntime-web" / "package.json").is_file():
        install = [
            NPM,
            "install",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(prefix),
            f"onnxruntime-web@{ORT_WEB_VERSION}",
        ]
        result = subprocess.run(install, capture_output=True, text=True, timeout=600)
        if result.returncode:
            pytest.skip(f"npm install onnxruntime-web failed (no registry?): {result.stderr[-300:]}")
    return prefix / "node_modules"


NODE_SCRIPT = """
const ort = require("onnxruntime-web");
const fs = require("fs");
const [model, io, ...jobs] = process.argv.slice(2);
ort.env.wasm.numThreads = 1;
(async () => {
  const session = await ort.InferenceSession.create(fs.readFileSync(model).buffer, { executionProviders: ["wasm"] });
  for (const job of jobs) {
    const [file, h, w] = job.split(":");
    const bytes = new Uint8Array(fs.readFileSync(file));
    const shape = io === "uint8" ? [1, +h, +w, 3] : [1, 3, +h, +w];
    const data = io === "uint8" ? bytes : new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    const out = await session.run({ image: new ort.Tensor(io === "uint8" ? "uint8" : "float32", data, shape) });
    fs.writeFileSync(file + ".out", Buffer.from(out.stylized.data.buffer));
  }
})().catch((e) => { console.error(e); process.exit(1); });
"""


@pytest.mark.slow
@pytest.mark.parametrize("io", ["float", "uint8"])
def test_onnxruntime_web_under_node_matches_onnxruntime(
    models: dict[str, Path], node_ort: Path, io: str, tmp_path: Path
) -> None:
    script = tmp_path / "run.cjs"
    script.write_text(NODE_SCRIPT)
    jobs, inputs = [], {}
    for i, (h, w) in enumerate(SIZES):
        pixels = frames(h, w, seed=i)
        feed = pixels if io == "uint8" else frames_to_images(pixels).numpy()
        path = tmp_path / f"in{i}.bin"
        path.write_bytes(np.ascontiguousarray(feed).tobytes())
        jobs.append(f"{path}:{h}:{w}")
        inputs[path] = pixels
    env = {"NODE_PATH": str(node_ort), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [NODE, str(script), str(models[io]), io, *jobs], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for path, pixels in inputs.items():
        h, w = pixels.shape[1:3]
        raw = (path.parent / (path.name + ".out")).read_bytes()
        if io == "uint8":
            got = np.frombuffer(raw, np.uint8).reshape(1, h, w, 3)
            expected = python_output(models[io], pixels, io)
            assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1  # a rounding tie either way
        else:
            got = np.frombuffer(raw, np.float32).reshape(1, 3, h, w)
            feed = frames_to_images(pixels).numpy()
            expected = ort.InferenceSession(str(models[io])).run(None, {"image": feed})[0]
            np.testing.assert_allclose(got, expected, atol=1e-4)
            assert got.min() >= 0 and got.max() <= 1


class _Results(SiteHandler):
    """The site's own server, plus POST /result, where the page reports what it computed."""

    posted: list[dict[str, object]] = []
    arrived = threading.Event()

    def do_POST(self) -> None:  # noqa: N802  (the http.server name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).posted.append(json.loads(body))
        type(self).arrived.set()
        self.send_response(204)
        self.end_headers()


@contextlib.contextmanager
def serving(site: Path) -> Iterator[str]:
    """The site on a free localhost port (with POST /result); yields its index.html's URL."""
    _Results.posted, _Results.arrived = [], threading.Event()
    httpd = SiteServer(site, 0, _Results, extra=("test.png",))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{httpd.server_address[1]}/index.html"
    finally:
        httpd.shutdown()


def chromium(tmp_path: Path, profile: str) -> list[str]:
    """Headless Chromium with a fresh profile, no GPU, and a fake webcam that needs no permission prompt."""
    return [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--user-data-dir={tmp_path / profile}",
    ]


def open_page(site: Path, query: str, tmp_path: Path) -> dict[str, object]:
    """Load the page in headless Chromium and return what it posted."""
    with serving(site) as url:
        # a debugging port keeps headless Chromium running until the page has posted
        browser = subprocess.Popen(
            [*chromium(tmp_path, "profile"), "--remote-debugging-port=0", f"{url}?{query}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert _Results.arrived.wait(180), "the page posted no result"
            return _Results.posted[0]
        finally:
            browser.kill()
            browser.wait()


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM, reason="needs chromium")
@pytest.mark.parametrize("io", ["float", "uint8"])
def test_the_page_stylises_an_image_like_onnxruntime_in_python(
    models: dict[str, Path], io: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    assert run_cli(monkeypatch, "web", str(models[io]), "-o", str(site)) == 0
    assert {"index.html", "app.js", "model.onnx", "model.json"} <= {p.name for p in site.iterdir()}
    pixels = frames(*SIZES[0])
    Image.fromarray(pixels[0]).save(site / "test.png")
    report = open_page(site, "test=test.png&backend=wasm", tmp_path)
    assert "error" not in report, report
    assert (report["height"], report["width"]) == SIZES[0] and report["backend"].startswith("WASM")
    rgba = np.frombuffer(base64.b64decode(report["rgba"]), np.uint8).reshape(*SIZES[0], 4)
    expected = python_output(models[io], pixels, io)[0]
    assert np.abs(rgba[..., :3].astype(int) - expected.astype(int)).max() <= 2  # float rounding in WASM and canvas
    if io == "float":  # what a person sees
        shot = screenshot(site, "test=test.png&backend=wasm", tmp_path)
        assert shot.std() > 10 and (shot.max(axis=2) - shot.min(axis=2)).max() > 100  # text, photo and output drawn


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM, reason="needs chromium")
@pytest.mark.parametrize("style_map", [False, True])
def test_the_page_stylises_with_a_multi_style_model(style_map: bool, tmp_path: Path) -> None:
    """onnxruntime-web refuses to be fed an input that has a default: the site's copy drops the default and the page
    feeds the mix (a 1x1 map for a --style-map-input export); the result is the first style's, as in Python."""
    torch.manual_seed(0)
    net = build_net(NetConfig(arch="tiny", styles=2)).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model = export_onnx(net, tmp_path / "multi.onnx", style_map=style_map, meta={"styles": ["sky", "sea"]}).path
    site = tmp_path / "site"
    build_site(model, site)
    assert json.loads((site / "model.json").read_text())["style_map"] is style_map
    pixels = frames(*SIZES[0])
    Image.fromarray(pixels[0]).save(site / "test.png")
    report = open_page(site, "test=test.png&backend=wasm", tmp_path)
    assert "error" not in report, report
    rgba = np.frombuffer(base64.b64decode(report["rgba"]), np.uint8).reshape(*SIZES[0], 4)
    expected = python_output(model, pixels, "float")[0]
    assert np.abs(rgba[..., :3].astype(int) - expected.astype(int)).max() <= 2


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM, reason="needs chromium")
def test_the_page_opened_as_a_file_says_it_must_be_served(models: dict[str, Path], tmp_path: Path) -> None:
    site = tmp_path / "site"
    build_site(models["float"], site)
    command = [*chromium(tmp_path, "file-profile"), "--virtual-time-budget=5000", "--dump-dom"]
    dom = subprocess.run([*command, (site / "index.html").as_uri()], capture_output=True, text=True, timeout=120)
    assert "must be served" in dom.stdout and "fasttx web" in dom.stdout


def screenshot(site: Path, query: str, tmp_path: Path) -> np.ndarray:
    """The page as headless Chromium draws it once the model has run (virtual time lets the WASM work finish)."""
    shot = tmp_path / "page.png"
    with serving(site) as url:
        command = [*chromium(tmp_path, "shot-profile"), "--window-size=900,560", "--virtual-time-budget=120000"]
        subprocess.run([*command, f"--screenshot={shot}", f"{url}?{query}"], capture_output=True, timeout=180)
    with Image.open(shot) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float64)


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM, reason="needs chromium")
def test_the_page_stylises_the_webcam(models: dict[str, Path], tmp_path: Path) -> None:
    site = tmp_path / "site"
    build_site(models["uint8"], site)
    report = open_page(site, "camera=3&backend=wasm", tmp_path)
    assert "error" not in report, report
    assert report["frames"] == 3 and report["width"] > 0 and "frames/s" in report["fps"]


def test_the_site_refuses_what_it_cannot_run(models: dict[str, Path], tmp_path: Path) -> None:
    from fasttx.errors import FasttxError

    with pytest.raises(FasttxError, match="not an exported .onnx"):
        build_site(tmp_path / "missing.onnx", tmp_path / "site")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(FasttxError, match="--overwrite"):
        build_site(models["float"], tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
