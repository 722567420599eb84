"""Files in and out: atomic, checked writes, the rule for outputs, and image decoding that survives odd files.

Everything fasttx writes goes through here, so the conventions hold everywhere: files appear whole or not at all
(temp + rename, every byte checked), outputs never replace inputs, and images become float32 RGB tensors in [0, 1].
The model and checkpoint files are fasttx.modelfile's.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import glob
import hashlib
import io
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps

from fasttx.errors import FasttxError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

# Decompression-bomb guard: real photos up to 250 MP are fine; larger ones are refused (open_rgb).
MAX_PIXELS = 250_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temp path beside `path`; rename it over `path` only if the block succeeds.

    The temp file keeps the target's suffix (so writers that infer the format from the name work).
    A full disk or any error leaves the previous file untouched and no temp file behind. The file is flushed to
    disk before the rename and the folder after it (whole or not at all, also across a power cut), and gets the
    mode a plain open() would give it (0666 minus the umask), not mkstemp's private 0600.
    A writer killed outright (SIGKILL, a power cut) cannot clean up: its temp file names its process, and the
    next write of the same path removes those whose process is gone (_remove_orphans).
    """
    path = Path(path)
    suffix = suffix or path.suffix
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_orphans(path, suffix)
        fd, tmp = tempfile.mkstemp(prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=suffix, dir=path.parent)
    except OSError as e:  # read-only mount, immutable folder, /proc or /sys, no permission
        raise FasttxError(f"cannot write {path}: {e.strerror or e} (in {path.parent})") from e
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as written:
            os.fsync(written.fileno())
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
        _fsync_folder(path.parent)
    except OSError as e:
        tmp_path.unlink(missing_ok=True)
        if e.errno == errno.ENOSPC:
            raise FasttxError(f"disk full while writing {path}; the previous file (if any) is untouched") from e
        raise FasttxError(f"cannot write {path}: {e.strerror or e}; the previous file (if any) is untouched") from e
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes | memoryview) -> Path:
    """Write `data` to `path` atomically, every byte checked: the one way fasttx writes encoded files.

    Encoders that write to a file themselves can lose bytes silently: Pillow's C encoders ignore a short write
    (the disk filling in the middle of a buffer), which left truncated JPEGs reported as written. Here a short
    write is followed by another write of the rest, which then raises ENOSPC, and the size is checked before the
    rename."""
    path = Path(path)
    view = memoryview(data).cast("B")
    with atomic_write(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            written = 0
            while written < len(view):
                written += os.write(fd, view[written:])
            if os.fstat(fd).st_size != len(view):
                raise OSError(errno.EIO, f"{os.fstat(fd).st_size} of {len(view)} bytes reached the disk")
        finally:
            os.close(fd)
    return path


def _temp_prefix(path: Path) -> str:
    return f".{path.stem}.fasttx-"


def _remove_orphans(path: Path, suffix: str) -> None:
    """Delete the temp files of `path` left by writers that no longer run (the PID in the name is not alive)."""
    prefix = _temp_prefix(path)
    for orphan in path.parent.glob(f"{glob.escape(prefix)}*{glob.escape(suffix)}"):
        pid = orphan.name[len(prefix) :].partition(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            orphan.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def check_output(
    output: str | os.PathLike[str], overwrite: bool, inputs: Sequence[str | os.PathLike[str]] = ()
) -> None:
    """The one rule for every file fasttx writes for a user: never an input, never a folder, and an existing file
    only with `overwrite`."""
    output = Path(output)
    for source in inputs:
        if Path(source).exists() and output.exists() and output.resolve() == Path(source).resolve():
            raise FasttxError(f"output {output} would overwrite the input {source}; choose another -o")
    if output.is_dir():
        raise FasttxError(f"output {output} is a folder; give a file name")
    if output.exists() and not overwrite:
        raise FasttxError(f"{output} exists; pass --overwrite to replace it")
    _check_writable(output.parent)


def _check_writable(folder: Path) -> None:
    """Refuse an unwritable destination before the work, not after it (the nearest folder that exists decides)."""
    existing = next(p for p in (folder.absolute(), *folder.absolute().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise FasttxError(f"cannot write into {folder}: {existing} is read-only or not a folder")


def check_output_folder(
    folder: str | os.PathLike[str], inputs: Sequence[str | os.PathLike[str] | None] = (), overwrite: bool = True
) -> None:
    """The rule for a folder fasttx fills (a run, a report, a site): not a file, never a folder that holds an input
    or lies inside an input folder (a run's previews in its own dataset), and a non-empty one only with
    `overwrite`."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FasttxError(f"{folder} is a file; give a folder")
    resolved = folder.resolve()
    for source in filter(None, inputs):
        source = Path(source).resolve()
        if source == resolved or resolved in source.parents or (source.is_dir() and source in resolved.parents):
            raise FasttxError(f"the output folder {folder} would mix with the input {source}; choose another folder")
    if not overwrite and folder.is_dir() and any(folder.iterdir()):
        raise FasttxError(f"{folder} is not empty; pass --overwrite to replace what fasttx writes in it")
    _check_writable(folder)


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it; done once, before any thread writes files
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (where the platform can open folders)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in chunks (style images and downloads are identified by it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- images -------------------------------------------------------------------------------------


def open_rgb(path: str | os.PathLike[str], min_side: int | None = None, max_side: int | None = None) -> Image.Image:
    """Decode any image PIL reads into an upright 8-bit sRGB image.

    Handles EXIF rotation, CMYK, 16-bit and float greyscale, palette and alpha (composited on white), and an
    embedded ICC profile (Display P3 from phones, Adobe RGB), converted to sRGB, the space the networks learnt
    in. A JPEG decodes at a reduced scale (draft mode) when it is much larger than needed: short side down to
    `min_side` (most of the decode time on COCO-sized photos) or long side down to `max_side` (an 8000x6000
    photo for --max-size 256 decodes at 1000x750). Raises FasttxError for unreadable files.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # refuse past MAX_PIXELS
            img = Image.open(path)
        with img:
            if img.format == "JPEG" and (min_side or max_side):
                w, h = img.size
                scale = min(w, h) / min_side if min_side else max(w, h) / max_side  # type: ignore[operator]
                if scale >= 2:
                    img.draft("RGB", (int(w / scale) + 1, int(h / scale) + 1))
            img.load()
            icc = img.info.get("icc_profile")
            if max_side and max(img.size) >= 2 * max_side:
                img = _reduce(img, max(img.size) // max_side)
            return _to_srgb(_to_rgb(ImageOps.exif_transpose(img)), icc)
    except FileNotFoundError as e:
        raise FasttxError(f"no such image: {path}") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise FasttxError(
            f"{path} is larger than the {MAX_PIXELS // 1_000_000} megapixels fasttx decodes (a decompression bomb?)"
        ) from e
    except (OSError, SyntaxError, ValueError) as e:
        raise FasttxError(f"cannot read image {path}: {e}") from e


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        if img.mode == "F" and arr.max() <= 1.0:
            top = 1.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _reduce(img: Image.Image, factor: int) -> Image.Image:
    """`img` shrunk by an integer factor before the colour conversion multiplies its bytes (PIL keeps a 1-bit
    12000x9000 scan in 108 MB, as RGB in 432 MB). A 1-bit or palette image (which reduce() does not take) is
    converted to L or RGBA a band of rows at a time, so the full-size conversion never exists."""
    if img.mode not in ("1", "P"):
        return img.reduce(factor)
    mode = "L" if img.mode == "1" else "RGBA"
    out = Image.new(mode, (-(-img.width // factor), -(-img.height // factor)))
    band = 8 * factor
    for top in range(0, img.height, band):
        rows = img.crop((0, top, img.width, min(img.height, top + band))).convert(mode)
        out.paste(rows.reduce(factor), (0, top // factor))
    return out


def _to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """An RGB image whose pixels are in the colour space of the embedded profile `icc`, converted to sRGB."""
    if not icc or img.mode != "RGB":
        return img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(source).lower().replace(" ", ""):
            return img
        return ImageCms.profileToProfile(img, source, _srgb_profile(), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, TypeError):  # a broken or non-RGB profile: the pixels as they are
        return img


@functools.cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """8-bit RGB PIL image -> float32 tensor [3, H, W] in [0, 1]."""
    # numpy, not torch: torch's multi-threaded permute+cast of one small image costs ~15 ms, numpy's ~0.2 ms
    arr = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) * np.float32(1 / 255)
    return torch.from_numpy(np.ascontiguousarray(arr))


def tensor_to_pil(image: torch.Tensor) -> Image.Image:
    """Float tensor [3, H, W] (or [1, 3, H, W]) in [0, 1] -> 8-bit RGB PIL image (rounded, clamped)."""
    if image.dim() == 4:
        if image.shape[0] != 1:
            raise ValueError(f"expected one image, got a batch of {image.shape[0]}")
        image = image[0]
    arr = image.detach().cpu().float().numpy().transpose(1, 2, 0)
    return Image.fromarray(np.ascontiguousarray(np.clip(arr * 255.0 + 0.5, 0, 255).astype(np.uint8)), "RGB")


def load_image(path: str | os.PathLike[str], max_size: int | None = None) -> torch.Tensor:
    """Read an image file as float32 [3, H, W] RGB in [0, 1], the long side downscaled to `max_size` if given."""
    img = open_rgb(path, max_side=max_size)
    if max_size is not None and max(img.size) > max_size:
        img = resize_long_side(img, max_size)
    return pil_to_tensor(img)


def resize_long_side(img: Image.Image, size: int) -> Image.Image:
    """Resize so the longer side is `size` pixels, keeping the aspect ratio (Lanczos)."""
    w, h = img.size
    scale = size / max(w, h)
    return img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)


def save_image(image: torch.Tensor | Image.Image, path: str | os.PathLike[str], quality: int = 95) -> Path:
    """Write an image atomically; the format follows the suffix (JPEG quality `quality`)."""
    path = Path(path)
    pil = image if isinstance(image, Image.Image) else tensor_to_pil(image)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise FasttxError(f"unknown image format for {path} (use .jpg, .png, .webp, .bmp or .tif)")
    options: dict[str, Any] = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    if fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        options["icc_profile"] = _srgb_profile().tobytes()  # say what the pixels are: sRGB
    encoded = io.BytesIO()  # encoded in memory, then written checked (write_bytes: Pillow misses short writes)
    pil.save(encoded, format=fmt, **options)
    return write_bytes(path, encoded.getbuffer())


def find_images(root: str | os.PathLike[str]) -> list[Path]:
    """All image files under `root` (recursive, sorted, zero-byte files left out), or `root` itself if a file."""
    root = Path(root)
    if root.is_file():
        return [root]
    found = [
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and p.stat().st_size > 0 and not p.name.startswith(".")
    ]
    return sorted(found)
