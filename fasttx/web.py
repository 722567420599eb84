"""`fasttx web`: a static page that runs an exported model in the browser (onnxruntime-web), on images or the webcam.

The page, the model and onnxruntime-web's files go into one folder that any static host serves; nothing leaves the
user's machine. onnxruntime-web is copied in at build time from its npm release, pinned (ORT_WEB_VERSION) and
checked against the registry's SHA-512 (ORT_WEB_INTEGRITY), rather than fetched by the page from a CDN: the page
then works offline and behind firewalls, and a CDN outage or a changed file cannot break a shipped site. The
tarball is downloaded once (no npm needed) and cached under $FASTTX_CACHE or ~/.cache/fasttx.

WebGPU where the browser has it, WASM otherwise (the WebGPU build carries both). Multi-threaded WASM needs a
cross-origin-isolated page: `serve` sends the COOP/COEP headers that allow it; other hosts fall back to one thread.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import json
import os
import shutil
import tarfile
import urllib.request
from pathlib import Path

from fasttx.errors import FasttxError
from fasttx.export import read_metadata
from fasttx.io import atomic_write

ORT_WEB_VERSION = "1.30.0"
ORT_WEB_INTEGRITY = "sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ=="
ORT_WEB_URL = f"https://registry.npmjs.org/onnxruntime-web/-/onnxruntime-web-{ORT_WEB_VERSION}.tgz"
# the WebGPU build (it also runs the WASM backend) and the one WASM binary it loads
ORT_WEB_FILES = ("ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm")
PAGE = Path(__file__).parent / "web_page"  # index.html and app.js, copied as they are


def cache_dir() -> Path:
    return Path(os.environ.get("FASTTX_CACHE") or Path.home() / ".cache" / "fasttx")


def ort_web_package() -> Path:
    """The unpacked pinned onnxruntime-web release (its `package/` folder), downloaded and checked once."""
    root = cache_dir() / f"onnxruntime-web-{ORT_WEB_VERSION}"
    if (root / "package" / "package.json").is_file():
        return root / "package"
    tarball = cache_dir() / f"onnxruntime-web-{ORT_WEB_VERSION}.tgz"
    if not tarball.is_file():
        tarball.parent.mkdir(parents=True, exist_ok=True)
        try:
            with urllib.request.urlopen(ORT_WEB_URL, timeout=60) as response, atomic_write(tarball) as tmp:
                tmp.write_bytes(response.read())
        except OSError as e:
            raise FasttxError(f"cannot download onnxruntime-web {ORT_WEB_VERSION} from {ORT_WEB_URL}: {e}") from e
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != ORT_WEB_INTEGRITY:
        tarball.unlink()
        raise FasttxError(f"{ORT_WEB_URL} does not match its published SHA-512; removed, try again")
    staging = root.with_name(root.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(tarball) as archive:
        archive.extractall(staging, filter="data")
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    return root / "package"


def build_site(model: str | os.PathLike[str], out: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write the page for `model` (an exported .onnx) into the folder `out`; returns its index.html."""
    model, out = Path(model), Path(out)
    if model.suffix.lower() != ".onnx" or not model.is_file():
        raise FasttxError(f"{model} is not an exported .onnx file (fasttx export model.pth -o model.onnx)")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FasttxError(f"{out} is not empty; pass --overwrite to replace the site in it")
    meta = read_metadata(model)
    if meta.get("fixed_size"):
        raise FasttxError("the page feeds images of any size: export without --fixed-size")
    config = {
        "model": "model.onnx",
        "io": meta.get("io", "float"),
        "styles": json.loads(meta["styles"]) if meta.get("styles") else [],
        "style": meta.get("style_name", model.stem),
    }
    package = ort_web_package()
    (out / "ort").mkdir(parents=True, exist_ok=True)
    for name in ORT_WEB_FILES:
        shutil.copyfile(package / "dist" / name, out / "ort" / name)
    shutil.copyfile(model, out / "model.onnx")
    for page in PAGE.iterdir():
        shutil.copyfile(page, out / page.name)
    (out / "model.json").write_text(json.dumps(config, indent=1))
    return out / "index.html"


class _IsolatedHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with the headers that make the page cross-origin isolated (multi-threaded WASM)."""

    def end_headers(self) -> None:
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (the base class's name)
        pass


def server(folder: str | os.PathLike[str], port: int = 8000) -> http.server.ThreadingHTTPServer:
    """A localhost server for `folder` (a secure context, so the webcam works); call serve_forever() on it."""
    handler = functools.partial(_IsolatedHandler, directory=str(folder))
    try:
        return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as e:
        raise FasttxError(f"cannot serve on localhost:{port} ({e}); choose another --port") from e
