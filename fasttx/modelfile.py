"""The model and checkpoint files: what `fasttx train` writes and every other command reads.

A model.pth holds the weights, the network's config (to rebuild it, no flags needed) and metadata; a checkpoint.pt
everything a run needs to continue exactly. Both load with `torch.load(weights_only=True)`, so opening a shared file
never runs pickled code, and both are written through io.write_bytes (whole or not at all).
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from fasttx.errors import FasttxError, load_failure
from fasttx.io import write_bytes
from fasttx.nets.transformer import NetConfig, StyleNet, build_net
from fasttx.sound.config import SoundNetConfig, Spectrum
from fasttx.sound.net import SoundNet

MODEL_FORMAT = "fasttx-model"
CHECKPOINT_FORMAT = "fasttx-checkpoint"
# The layout of model.pth and checkpoint.pt. Only this version is read: a file of another is refused in one line
# (no migrations: formats 1 and 2 were development versions, never released).
FORMAT_VERSION = 3
# The networks that ship with fasttx: ready styles by file name (--model NAME), and what --init base starts from.
SHIPPED = Path(__file__).parent / "bases"


def save_torch(obj: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """torch.save through a temp file: an interrupted or failed write never leaves a half file.

    Serialised in memory first: torch.save's own file writer reports a full disk as a RuntimeError ("unexpected
    pos"), a plain write as the OSError (ENOSPC) that atomic_write turns into "disk full".
    """
    path = Path(path)
    buffer = io.BytesIO()
    torch.save({**obj, "sha256": content_digest(obj)}, buffer)
    return write_bytes(path, buffer.getbuffer())


def content_digest(obj: Any) -> str:
    """SHA-256 of everything a model or checkpoint holds (every tensor's bytes, dtype and shape; the plain data):
    stored in the file and checked on load, so bytes damaged inside it (a flipped disk block, a bad copy) are
    refused instead of training on, or painting with, garbage."""
    digest = hashlib.sha256()

    def feed(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().contiguous()
            digest.update(f"tensor {value.dtype} {tuple(value.shape)};".encode())
            digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes() if value.numel() else b"")
        elif isinstance(value, dict):
            digest.update(b"{")
            for key in sorted(value, key=str):
                feed(key)
                feed(value[key])
            digest.update(b"}")
        elif isinstance(value, (list, tuple)):
            digest.update(b"[")
            for item in value:
                feed(item)
            digest.update(b"]")
        else:
            digest.update(f"{type(value).__name__} {value!r};".encode())

    feed({key: value for key, value in obj.items() if key != "sha256"})  # the file's own digest: only at the top
    return digest.hexdigest()


def load_torch(path: str | os.PathLike[str], expected_format: str) -> dict[str, Any]:
    """Load a fasttx model or checkpoint safely (weights_only) and check it is what the caller expects."""
    path = Path(path)
    if path.is_dir():
        raise FasttxError(f"{path} is a folder; give a {_kind(expected_format)} file")
    if not path.is_file():
        raise FasttxError(f"no such file: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for foreign or corrupt files
        raise FasttxError(
            f"{path} is not a fasttx {_kind(expected_format)} file (cannot be loaded safely: {load_failure(e)})"
        ) from e
    if not isinstance(obj, dict) or obj.get("format") != expected_format:
        raise FasttxError(f"{path} is not a fasttx {_kind(expected_format)} file")
    version = obj.get("format_version")
    if version != FORMAT_VERSION:
        age = (
            "a newer fasttx; upgrade fasttx"
            if isinstance(version, int) and version > FORMAT_VERSION
            else ("an older fasttx, whose files this version does not read; train it again")
        )
        raise FasttxError(f"{path} is a fasttx {_kind(expected_format)} file of format {version}, written by {age}")
    if obj.get("sha256") != content_digest(obj):
        raise FasttxError(f"{path} is damaged: its contents do not match the digest it was saved with")
    return obj


def _kind(fmt: str) -> str:
    return "model" if fmt == MODEL_FORMAT else "checkpoint"


def save_model(net: StyleNet, path: str | os.PathLike[str], meta: dict[str, Any]) -> Path:
    """Write a shareable model file: weights plus the recipe to rebuild the network and how it was trained."""
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    return save_torch(
        {
            "format": MODEL_FORMAT,
            "format_version": FORMAT_VERSION,
            "net": net.config.to_dict(),
            "state_dict": state,
            "meta": meta,
        },
        path,
    )


def shipped_models() -> dict[str, Path]:
    """The networks that ship with fasttx, by name: `--model NAME` anywhere a model file is taken."""
    return {path.stem: path for path in sorted(SHIPPED.glob("*.pth"))}


def find_model(model: str | os.PathLike[str]) -> Path:
    """`model` as a path, or the file of the shipped network so named when there is no such file here."""
    path = Path(model)
    if path.exists() or path.suffix or len(path.parts) != 1:
        return path
    shipped = shipped_models()
    if path.name not in shipped:
        raise FasttxError(f"no such file or shipped model: {model} (fasttx ships: {', '.join(shipped) or 'none'})")
    return shipped[path.name]


def model_kind(path: str | os.PathLike[str]) -> str:
    """'image' or 'sound': which network a model file or shipped name holds."""
    return load_torch(find_model(path), MODEL_FORMAT).get("kind", "image")


def load_model(path: str | os.PathLike[str]) -> tuple[StyleNet, dict[str, Any]]:
    """Rebuild a trained network from its model file or shipped name (no flags needed), in eval mode on the CPU,
    with its metadata."""
    path = find_model(path)
    obj = load_torch(path, MODEL_FORMAT)
    if obj.get("kind") == "sound":
        raise FasttxError(f"{path} is a sound model; give it a sound file")
    try:
        net = build_net(NetConfig.from_dict(obj["net"]))
    except (KeyError, TypeError) as e:
        raise FasttxError(f"{path} is a damaged fasttx model file: {e}") from e
    _load_weights(net, obj.get("state_dict"), path)
    return net.eval(), obj.get("meta", {})


def _load_weights(net: torch.nn.Module, state: Any, path: str | os.PathLike[str]) -> None:
    """The file's weights into `net`. The digest has passed, so weights that do not fit were written for another
    version of the network, not damaged."""
    if not isinstance(state, dict):
        raise FasttxError(f"{path} is a damaged fasttx model file: it holds no weights")
    expected = net.state_dict()
    if set(state) != set(expected) or any(getattr(state[k], "shape", None) != expected[k].shape for k in expected):
        raise FasttxError(f"{path} was written for another version of fasttx's network; train it again")
    net.load_state_dict(state)


def save_sound_model(net: SoundNet, path: str | os.PathLike[str], spectrum: Spectrum, meta: dict[str, Any]) -> Path:
    """A sound model file: weights, the network's config and the Spectrum its frames are made with."""
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    record = {"format": MODEL_FORMAT, "format_version": FORMAT_VERSION, "kind": "sound", "meta": meta}
    return save_torch({**record, "net": net.config.to_dict(), "spectrum": asdict(spectrum), "state_dict": state}, path)


def load_sound_model(path: str | os.PathLike[str]) -> tuple[SoundNet, Spectrum, dict[str, Any]]:
    """Rebuild a trained sound network from its model file, in eval mode on the CPU."""
    obj = load_torch(path, MODEL_FORMAT)
    if obj.get("kind") != "sound":
        raise FasttxError(f"{path} is an image model, not a sound model")
    try:
        net = SoundNet(SoundNetConfig.from_dict(obj["net"]))
        spectrum = Spectrum(**obj["spectrum"])
    except (KeyError, TypeError) as e:
        raise FasttxError(f"{path} is a damaged fasttx sound model file: {e}") from e
    _load_weights(net, obj.get("state_dict"), path)
    return net.eval(), spectrum, obj.get("meta", {})
