"""Dataset download: resume over HTTP Range, checksum checks, all-or-nothing unpacking, served from loopback."""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from fasttx.coco import MARKER, RemoteArchive, download, download_and_extract, extract
from fasttx.errors import FasttxError


@dataclass
class Served:
    """One request as the server saw it: the Range header, the status sent and how many body bytes went out."""

    range: str | None
    status: int
    sent: int


class ZipServer(ThreadingHTTPServer):
    """Serves one payload at /train2014.zip; can ignore Range or cut the next response short."""

    daemon_threads = True

    def __init__(self, payload: bytes) -> None:
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.payload = payload
        self.honour_range = True
        self.cut_next_after: int | None = None
        self.log: list[Served] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/train2014.zip"


class RangeHandler(BaseHTTPRequestHandler):
    """Minimal static server with single-range `bytes=N-` support (SimpleHTTPRequestHandler has none)."""

    server: ZipServer
    timeout = 5

    def do_GET(self) -> None:
        data, rng = self.server.payload, self.headers.get("Range")
        if self.path != "/train2014.zip":
            self.server.log.append(Served(rng, 404, 0))
            self.send_error(404)
            return
        start, status = 0, 200
        if rng is not None and self.server.honour_range:
            start, status = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1)), 206
            if start >= len(data):
                self.server.log.append(Served(rng, 416, 0))
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        body = data[start:]
        promised = len(body)
        if self.server.cut_next_after is not None:  # a dropped connection: promise everything, send less
            body, self.server.cut_next_after = body[: self.server.cut_next_after], None
        # Logged before anything is sent: the client may act on the response before this thread runs again.
        self.server.log.append(Served(rng, status, len(body)))
        self.send_response(status)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(promised))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def coco_zip(photo_folder: Path, tmp_path: Path) -> bytes:
    """A tiny stand-in for train2014.zip: the generated photos under train2014/, stored uncompressed."""
    path = tmp_path / "made.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for photo in sorted(photo_folder.iterdir()):
            zf.write(photo, f"train2014/{photo.name}")
    return path.read_bytes()


@pytest.fixture
def server(coco_zip: bytes) -> Iterator[ZipServer]:
    srv = ZipServer(coco_zip)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


@pytest.fixture
def archive(server: ZipServer) -> RemoteArchive:
    data = server.payload
    return RemoteArchive("train2014.zip", server.url, len(data), hashlib.md5(data).hexdigest(), "train2014")


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "coco"


def test_download_and_extract_unpacks_every_photo(
    archive: RemoteArchive, server: ZipServer, dest: Path, photo_folder: Path
) -> None:
    folder = download_and_extract(archive, dest, progress=False)

    assert folder == dest / "train2014"
    assert (folder / MARKER).is_file()
    originals = sorted(photo_folder.iterdir())
    assert sorted(p.name for p in folder.glob("*.jpg")) == [p.name for p in originals]
    for original in originals:
        assert (folder / original.name).read_bytes() == original.read_bytes()
        with Image.open(folder / original.name) as img:
            assert img.size == Image.open(original).size
    assert (dest / "train2014.zip").read_bytes() == server.payload
    assert sorted(p.name for p in dest.iterdir()) == ["train2014", "train2014.zip"]  # no .part, no staging
    assert server.log == [Served(None, 200, len(server.payload))]


def test_dropped_connection_keeps_the_part_and_rerun_fetches_only_the_rest(
    archive: RemoteArchive, server: ZipServer, dest: Path
) -> None:
    cut = len(server.payload) // 3
    server.cut_next_after = cut
    with pytest.raises(FasttxError, match="rerun to resume"):
        download(archive, dest, progress=False, timeout=5)
    part = dest / "train2014.zip.part"
    assert part.read_bytes() == server.payload[:cut]
    assert not (dest / "train2014.zip").exists()

    path = download(archive, dest, progress=False, timeout=5)

    assert path.read_bytes() == server.payload
    assert not part.exists()
    assert server.log[-1] == Served(f"bytes={cut}-", 206, len(server.payload) - cut)


def test_server_ignoring_range_restarts_from_zero(archive: RemoteArchive, server: ZipServer, dest: Path) -> None:
    server.honour_range = False
    dest.mkdir()
    (dest / "train2014.zip.part").write_bytes(b"\xff" * 100)  # wrong bytes: appending to them would fail the MD5

    path = download(archive, dest, progress=False, timeout=5)

    assert path.read_bytes() == server.payload
    assert server.log == [Served("bytes=100-", 200, len(server.payload))]


def test_complete_part_is_verified_without_downloading_again(
    archive: RemoteArchive, server: ZipServer, dest: Path
) -> None:
    dest.mkdir()
    (dest / "train2014.zip.part").write_bytes(server.payload)

    assert download(archive, dest, progress=False).read_bytes() == server.payload
    assert server.log == []  # known size reached: nothing to ask for

    (dest / "train2014.zip").rename(dest / "train2014.zip.part")
    unknown_size = replace(archive, size=None)
    assert download(unknown_size, dest, progress=False, timeout=5).read_bytes() == server.payload
    assert server.log == [Served(f"bytes={len(server.payload)}-", 416, 0)]


def test_wrong_md5_deletes_the_download(archive: RemoteArchive, dest: Path) -> None:
    with pytest.raises(FasttxError, match="checksum mismatch"):
        download(replace(archive, md5="0" * 32), dest, progress=False, timeout=5)
    assert list(dest.iterdir()) == []  # neither the final file nor a .part to resume from


def test_part_the_server_calls_whole_but_too_short_is_deleted(
    archive: RemoteArchive, server: ZipServer, dest: Path
) -> None:
    dest.mkdir()
    (dest / "train2014.zip.part").write_bytes(server.payload[:50])
    server.payload = server.payload[:50]  # answers 416 to "bytes=50-"

    with pytest.raises(FasttxError, match="size mismatch"):
        download(archive, dest, progress=False, timeout=5)
    assert list(dest.iterdir()) == []


def test_server_size_differing_from_the_known_size_fails_before_writing(
    archive: RemoteArchive, server: ZipServer, dest: Path
) -> None:
    with pytest.raises(FasttxError, match="has changed"):
        download(replace(archive, size=archive.size + 1), dest, progress=False, timeout=5)
    assert list(dest.iterdir()) == []


def test_unreachable_server_says_rerun(archive: RemoteArchive, dest: Path) -> None:
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FasttxError, match="rerun"):
        download(replace(archive, url=f"http://127.0.0.1:{port}/x.zip"), dest, progress=False, timeout=5)


@pytest.mark.parametrize("member", ["../evil.jpg", "train2014/../../evil.jpg", "/tmp/evil.jpg", "C:/evil.jpg"])
def test_zip_slip_member_is_refused_before_writing(tmp_path: Path, member: str) -> None:
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("train2014/ok.jpg", b"fine")
        zf.writestr(member, b"evil")
    dest = tmp_path / "out" / "coco"

    with pytest.raises(FasttxError, match="unsafe path"):
        extract(bad, dest, progress=False, folder="train2014")

    assert not list(tmp_path.rglob("evil.jpg"))
    assert not list(dest.iterdir())


def test_damaged_zip_leaves_no_folder_behind(tmp_path: Path, coco_zip: bytes) -> None:
    data = bytearray(coco_zip)
    second = data.index(b"train2014/", data.index(b"train2014/") + 1)  # inside the second member's header
    data[second + 200] ^= 0xFF  # flip a byte of its JPEG data: CRC check fails midway through unpacking
    broken = tmp_path / "train2014.zip"
    broken.write_bytes(bytes(data))
    dest = tmp_path / "coco"

    with pytest.raises(FasttxError, match="damaged"):
        extract(broken, dest, progress=False)

    assert list(dest.iterdir()) == []


def test_rerun_is_a_no_op_even_without_the_zip(archive: RemoteArchive, server: ZipServer, dest: Path) -> None:
    folder = download_and_extract(archive, dest, progress=False, keep_zip=False)
    assert not (dest / "train2014.zip").exists()
    marker_time = (folder / MARKER).stat().st_mtime_ns

    assert download_and_extract(archive, dest, progress=False, keep_zip=False) == folder

    assert len(server.log) == 1
    assert (folder / MARKER).stat().st_mtime_ns == marker_time


def test_foreign_folder_is_not_overwritten(tmp_path: Path, coco_zip: bytes) -> None:
    (tmp_path / "train2014.zip").write_bytes(coco_zip)
    (tmp_path / "train2014").mkdir()
    (tmp_path / "train2014" / "mine.jpg").write_bytes(b"x")

    with pytest.raises(FasttxError, match="remove it"):
        extract(tmp_path / "train2014.zip", tmp_path, progress=False)
    assert [p.name for p in (tmp_path / "train2014").iterdir()] == ["mine.jpg"]


def test_progress_goes_to_stderr_only_when_asked(
    archive: RemoteArchive, dest: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    download_and_extract(archive, dest, progress=False)
    assert capsys.readouterr() == ("", "")
    download_and_extract(archive, dest / "again", progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "train2014.zip" in captured.err
