"""`fasttx web`: a static page that runs an exported model in the browser (onnxruntime-web), on images or the webcam.

The page, the model and onnxruntime-web's files go into one folder that any static host serves; nothing leaves the
user's machine. onnxruntime-web is copied in at build time from its npm release, pinned (ORT_WEB_VERSION) and
checked against the registry's SHA-512 (ORT_WEB_INTEGRITY), rather than fetched by the page from a CDN: the page
then works offline and behind firewalls, and a CDN outage or a changed file cannot break a shipped site. The
tarball is downloaded once (no npm needed), cached under $FASTTX_CACHE or ~/.cache/fasttx, and checked on every use:
a damaged cache is fetched again.

WebGPU where the browser has it, WASM otherwise (the WebGPU build carries both). Multi-threaded WASM needs a
cross-origin-isolated page: `serve` sends the COOP/COEP headers that allow it; other hosts fall back to one thread.

The site's files are written as every fasttx output is (io.write_bytes: temp + rename), so a link planted in the
folder is replaced, never written through; `serve` answers only for the files the site consists of, only to
requests addressed to localhost (a foreign Host header is DNS rebinding), with no listings and no links followed.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import mimetypes
import os
import stat
import tarfile
import urllib.parse
import urllib.request
from pathlib import Path

import onnx

from fasttx.config import STYLE_INPUT
from fasttx.errors import FasttxError
from fasttx.io import check_output_folder, write_bytes

ORT_WEB_VERSION = "1.30.0"
ORT_WEB_INTEGRITY = "sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ=="
ORT_WEB_URL = f"https://registry.npmjs.org/onnxruntime-web/-/onnxruntime-web-{ORT_WEB_VERSION}.tgz"
# the WebGPU build (it also runs the WASM backend) and the one WASM binary it loads
ORT_WEB_FILES = ("ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm")
PAGE = Path(__file__).parent / "web_page"  # index.html and app.js, copied as they are
PAGE_FILES = ("index.html", "app.js")


def site_files() -> list[str]:
    """Every file of a site, relative to its folder: what build_site writes and all that serve answers for."""
    return [*PAGE_FILES, "model.onnx", "model.json", *(f"ort/{name}" for name in ORT_WEB_FILES)]


def cache_dir() -> Path:
    return Path(os.environ.get("FASTTX_CACHE") or Path.home() / ".cache" / "fasttx")


def ort_web_files() -> dict[str, bytes]:
    """The pinned onnxruntime-web release's files the page loads, read from its tarball: downloaded once, checked
    against the registry's SHA-512 on every use (a damaged or changed cache is downloaded again)."""
    tarball = cache_dir() / f"onnxruntime-web-{ORT_WEB_VERSION}.tgz"
    data = tarball.read_bytes() if tarball.is_file() else b""
    if _integrity(data) != ORT_WEB_INTEGRITY:
        data = _download(ORT_WEB_URL)
        if _integrity(data) != ORT_WEB_INTEGRITY:
            raise FasttxError(f"{ORT_WEB_URL} does not match its published SHA-512; nothing was written")
        write_bytes(tarball, data)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {name: archive.extractfile(f"package/dist/{name}").read() for name in ORT_WEB_FILES}  # type: ignore[union-attr]


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _download(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except OSError as e:
        raise FasttxError(f"cannot download onnxruntime-web {ORT_WEB_VERSION} from {url}: {e}") from e


def build_site(model: str | os.PathLike[str], out: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write the page for `model` (an exported .onnx) into the folder `out`; returns its index.html."""
    model, out = Path(model), Path(out)
    if model.suffix.lower() != ".onnx" or not model.is_file():
        raise FasttxError(f"{model} is not an exported .onnx file (fasttx export model.pth -o model.onnx)")
    check_output_folder(out, [model], overwrite)
    proto = _loadable(model)
    meta = {p.key: p.value for p in proto.metadata_props}
    if meta.get("fixed_size"):
        raise FasttxError("the page feeds images of any size: export without --fixed-size")
    graph, style_map = _for_the_web(proto, model)
    config = {
        "model": "model.onnx",
        "io": meta.get("io", "float"),
        "styles": json.loads(meta["styles"]) if meta.get("styles") else [],
        "style_map": style_map,
        "style": meta.get("style_name", model.stem),
    }
    files = {f"ort/{name}": data for name, data in ort_web_files().items()}
    files |= {name: (PAGE / name).read_bytes() for name in PAGE_FILES}
    files |= {"model.onnx": graph, "model.json": json.dumps(config, indent=1).encode()}
    ort = out / "ort"
    if ort.is_symlink() or (ort.exists() and not ort.is_dir()):
        ort.unlink()  # a link (or a file) where the runtime's folder goes is replaced, not followed
    for name in site_files():
        write_bytes(out / name, files[name])
    return out / "index.html"


def _for_the_web(proto: onnx.ModelProto, model: Path) -> tuple[bytes, bool]:
    """The graph the page loads, and whether its style mix is a per-pixel map. A multi-style export keeps its mix as
    an input with a default (an initializer of the same name), which onnxruntime in Python lets a caller override
    and onnxruntime-web refuses to be fed ("invalid input 'style_weights'"): the page always feeds the mix, so the
    default goes."""
    defaults = [t for t in proto.graph.initializer if t.name == STYLE_INPUT]
    for default in defaults:
        proto.graph.initializer.remove(default)
    mix = next((i for i in proto.graph.input if i.name == STYLE_INPUT), None)
    style_map = mix is not None and len(mix.type.tensor_type.shape.dim) == 4
    return (proto.SerializeToString() if defaults else model.read_bytes()), style_map


def _loadable(model: Path) -> onnx.ModelProto:
    """The graph, read once; the page fetches model.onnx alone: refuse an empty file, one that is not ONNX or one
    whose weights live in external data files."""
    try:
        proto = onnx.load(model, load_external_data=False)
    except Exception as e:  # protobuf raises its own DecodeError and friends
        raise FasttxError(f"{model} is not an ONNX file ({e})") from e
    if not proto.graph.node:
        raise FasttxError(f"{model} holds no graph (an empty or damaged file)")
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer):
        raise FasttxError(f"{model} keeps its weights in external data files; the page loads one file")
    return proto


class SiteHandler(http.server.BaseHTTPRequestHandler):
    """GET and HEAD for the site's own files (site_files), with the headers that make the page cross-origin
    isolated (multi-threaded WASM); anything else is 404, a request for another host 421."""

    server: SiteServer

    def do_GET(self) -> None:  # noqa: N802  (the http.server name)
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        if self.headers.get("Host", "").lower() not in self.server.hosts:
            self.send_error(421, "this server answers for localhost only")
            return
        name = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/") or "index.html"
        data = self.server.read(name)
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", mimetypes.guess_type(name)[0] or "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def end_headers(self) -> None:
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (the base class's name)
        pass


class SiteServer(http.server.ThreadingHTTPServer):
    """A localhost server for a site folder (a secure context, so the webcam works); serve_forever() runs it."""

    daemon_threads = True

    def __init__(self, folder: Path, port: int, handler: type[SiteHandler] = SiteHandler, extra: tuple[str, ...] = ()):
        self.folder = folder
        self.names = {*site_files(), *extra}
        super().__init__(("127.0.0.1", port), handler)
        self.port = int(self.server_address[1])
        self.hosts = {f"{host}:{self.port}" for host in ("localhost", "127.0.0.1")}

    def read(self, name: str) -> bytes | None:
        """A site file's bytes; None for a name outside the site, or a file that is a link or not a plain file."""
        if name not in self.names:
            return None
        path = self.folder
        for part in name.split("/"):  # no link anywhere on the way: the site's folder holds what it serves
            path = path / part
            if path.is_symlink():
                return None
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        with os.fdopen(fd, "rb") as f:
            return f.read() if stat.S_ISREG(os.fstat(f.fileno()).st_mode) else None


def check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        raise FasttxError(f"--port must be 0 (any free port) to 65535 (got {port})")


def server(folder: str | os.PathLike[str], port: int = 8000) -> SiteServer:
    """The site in `folder` on localhost:`port` (0: a free port, SiteServer.port says which)."""
    check_port(port)
    try:
        return SiteServer(Path(folder), port)
    except OSError as e:
        raise FasttxError(f"cannot serve on localhost:{port} ({e.strerror or e}); choose another --port") from e
