"""Fetching training photo datasets (COCO 2014 train): resumable, checksummed downloads and all-or-nothing unpacking.

A 13.5 GB download breaks sometimes, so the bytes go to `<name>.part` and a rerun asks the server for the rest
(HTTP Range). The final name appears only after the size and MD5 check, and an unpacked folder appears only
whole (unpacked beside it, then renamed, with a `.complete` marker), so "the file/folder exists" always means
"it is good" and a rerun of a finished job is instant. Only the standard library talks to the network.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import re
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rich.progress import (
    Progress,
)

from fasttx.errors import FasttxError
from fasttx.io import check_output_folder
from fasttx.progress import progress_bar

MARKER = ".complete"


@dataclass(frozen=True)
class RemoteArchive:
    """A zip on the web: where it lives, what it must hash to, and the folder it unpacks to."""

    name: str  # file name on disk, e.g. "train2014.zip"
    url: str
    size: int | None  # bytes; None when unknown (then only the server's length is checked)
    md5: str | None  # hex digest; None skips the content check
    folder: str  # top-level folder inside the zip, e.g. "train2014"


# Published by cocodataset.org; size and MD5 as widely cited by download scripts (82,783 photos inside).
COCO2014_TRAIN = RemoteArchive(
    name="train2014.zip",
    url="http://images.cocodataset.org/zips/train2014.zip",
    size=13_510_573_713,
    md5="0da8c0bd3d6becc4dcb32757491aca88",
    folder="train2014",
)


def download_and_extract(
    archive: RemoteArchive, dest_dir: str | os.PathLike[str], progress: bool = True, keep_zip: bool = True
) -> Path:
    """Download `archive` into `dest_dir` (resuming), unpack it there and return the unpacked folder.

    An already unpacked folder returns at once, so `keep_zip=False` does not make a rerun download again.
    """
    target = Path(dest_dir) / archive.folder
    if _is_complete(target):
        return target
    check_output_folder(dest_dir)  # a file or a read-only place: one line now, not a traceback after the download
    zip_path = download(archive, dest_dir, progress=progress)
    folder = extract(zip_path, dest_dir, progress=progress, folder=archive.folder)
    if not keep_zip:
        zip_path.unlink()
    return folder


# --- download -----------------------------------------------------------------------------------


def download(
    archive: RemoteArchive,
    dest_dir: str | os.PathLike[str],
    progress: bool = True,
    chunk: int = 1 << 20,
    timeout: float = 60,
) -> Path:
    """Fetch `archive` to `dest_dir/<name>`, resuming a previous `.part`; return the verified file.

    Network failures and Ctrl-C keep the `.part` so a rerun continues where it stopped; a size or MD5
    mismatch deletes it (those bytes are wrong, resuming would only extend them) and raises FasttxError.
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / archive.name
    if final.is_file():
        # Only a verified download is ever renamed to the final name, so the size is enough here
        # (re-hashing 13.5 GB on every rerun would take minutes).
        if archive.size is not None and final.stat().st_size != archive.size:
            size = final.stat().st_size
            raise FasttxError(f"{final} is {size:,} bytes, expected {archive.size:,}; delete it and rerun")
        return final
    part = dest / f"{archive.name}.part"
    have = part.stat().st_size if part.exists() else 0
    if archive.size is not None and have > archive.size:
        part.unlink()
        have = 0
    if archive.size is not None:
        _require_space(dest, archive.size - have, f"downloading {archive.name}")

    with progress_bar(enabled=progress, bytes_=True) as bar:
        digest = _md5_of(part, bar) if have else hashlib.md5()
        if have and have == archive.size:  # killed between the last byte and the rename
            return _finish(part, final, have, digest, archive)
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            response = urllib.request.urlopen(urllib.request.Request(archive.url, headers=headers), timeout=timeout)
        except urllib.error.HTTPError as e:
            e.close()
            if e.code == 416 and have:  # nothing past our last byte: the part is already whole
                return _finish(part, final, have, digest, archive)
            raise FasttxError(f"cannot download {archive.url}: HTTP {e.code} {e.reason}; rerun to retry") from e
        except (OSError, http.client.HTTPException) as e:
            reason = e.reason if isinstance(e, urllib.error.URLError) else e
            raise FasttxError(f"cannot reach {archive.url} ({reason}); rerun to retry (partial files resume)") from e

        with response:
            if response.status == 206:
                _check_resume_start(response, have, part)
            elif have:  # the server ignored Range and sends the whole file: start over
                have = 0
                digest = hashlib.md5()
            remote = _remote_total(response)
            if archive.size is not None and remote is not None and remote != archive.size:
                raise FasttxError(
                    f"{archive.url} is {remote:,} bytes, expected {archive.size:,}; the file on the server has changed"
                )
            total = archive.size if archive.size is not None else remote
            task = bar.add_task(archive.name, total=total, completed=have)
            got = have
            try:
                with open(part, "ab" if have else "wb") as f:
                    while block := response.read(chunk):
                        f.write(block)
                        digest.update(block)
                        got += len(block)
                        bar.update(task, completed=got)
            except (OSError, http.client.HTTPException) as e:
                raise FasttxError(f"download of {archive.name} stopped at {got:,} bytes ({e}); rerun to resume") from e

    if total is not None and got < total:  # the connection closed early without an error
        raise FasttxError(f"download of {archive.name} stopped at {got:,} of {total:,} bytes; rerun to resume")
    return _finish(part, final, got, digest, archive)


def _md5_of(path: Path, bar: Progress) -> hashlib._Hash:
    """Hash the bytes already on disk, so the final MD5 covers the whole file without a second pass."""
    digest = hashlib.md5()
    task = bar.add_task(f"checking {path.name}", total=path.stat().st_size)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            bar.advance(task, len(block))
    return digest


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-\d+/(\d+|\*)")


def _check_resume_start(response: http.client.HTTPResponse, have: int, part: Path) -> None:
    """A 206 must continue exactly at our last byte, or appending would silently corrupt the file."""
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if match is None or int(match.group(1)) != have:
        raise FasttxError(
            f"the server resumed at the wrong place ({response.headers.get('Content-Range')!r}, "
            f"expected byte {have}); delete {part} and rerun"
        )


def _remote_total(response: http.client.HTTPResponse) -> int | None:
    """Full file size as the server states it: the Content-Range total on a 206, else Content-Length."""
    if response.status == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        return int(match.group(2)) if match and match.group(2) != "*" else None
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _finish(part: Path, final: Path, got: int, digest: hashlib._Hash, archive: RemoteArchive) -> Path:
    """Check size and MD5, then give the file its final name; wrong bytes are deleted, resuming them cannot help."""
    problem = None
    if archive.size is not None and got != archive.size:
        problem = f"size mismatch: {got:,} bytes, expected {archive.size:,}"
    elif archive.md5 is not None and digest.hexdigest() != archive.md5.lower():
        problem = f"checksum mismatch: MD5 {digest.hexdigest()}, expected {archive.md5}"
    if problem:
        part.unlink(missing_ok=True)
        raise FasttxError(f"downloaded {archive.name} is corrupt ({problem}); deleted it, rerun to download again")
    os.replace(part, final)
    return final


# --- extract ------------------------------------------------------------------------------------


def extract(
    zip_path: str | os.PathLike[str], dest_dir: str | os.PathLike[str], progress: bool = True, folder: str | None = None
) -> Path:
    """Unpack the zip's top-level `folder` (default: the zip's stem) into `dest_dir` and return it.

    Everything is unpacked into a hidden sibling first and renamed into place with a `.complete` marker,
    so an interrupted run never leaves a folder that looks finished; a marked folder is returned at once.
    Members with absolute paths or `..` are refused before anything is written (zip-slip).
    """
    zip_path = Path(zip_path)
    dest = Path(dest_dir)
    target = dest / (folder or zip_path.stem)
    if _is_complete(target):
        return target
    if target.exists():
        raise FasttxError(f"{target} exists but was not unpacked completely by fasttx; remove it and rerun")
    if not zip_path.is_file():
        raise FasttxError(f"no such zip file: {zip_path}")
    dest.mkdir(parents=True, exist_ok=True)
    staging = dest / f".{target.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)  # left by a killed run
    try:
        with zipfile.ZipFile(zip_path) as zf:
            members = zf.infolist()
            for info in members:
                _check_member(info.filename, zip_path)
            _require_space(dest, sum(m.file_size for m in members), f"unpacking {zip_path.name}")
            with progress_bar(enabled=progress, bytes_=True) as bar:
                task = bar.add_task(f"unpacking {zip_path.name}", total=sum(m.file_size for m in members))
                for info in members:
                    zf.extract(info, staging)
                    bar.advance(task, info.file_size)
        unpacked = staging / target.name
        if not unpacked.is_dir():
            raise FasttxError(f"{zip_path} has no top-level folder {target.name}/")
        (unpacked / MARKER).touch()
        os.replace(unpacked, target)
    except zipfile.BadZipFile as e:
        raise FasttxError(f"{zip_path} is damaged ({e}); delete it and rerun to download it again") from e
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise FasttxError(f"disk full while unpacking {zip_path}; free space in {dest} and rerun") from e
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _check_member(name: str, zip_path: Path) -> None:
    """Refuse names that would land outside the destination (absolute, drive letters, `..`)."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or re.match(r"[A-Za-z]:", name):
        raise FasttxError(f"{zip_path} contains an unsafe path {name!r}; refusing to unpack it")


def _is_complete(folder: Path) -> bool:
    return (folder / MARKER).is_file()


# --- shared -------------------------------------------------------------------------------------


def _require_space(folder: Path, needed: int, what: str) -> None:
    """Fail in a second rather than after an hour: check free space before writing gigabytes."""
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise FasttxError(f"{what} needs {needed / 1e9:.1f} GB but {folder} has {free / 1e9:.1f} GB free")
