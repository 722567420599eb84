"""A sound model as ONNX: log-magnitude frames in, stylised frames out, any number of frames, checked against
PyTorch before it replaces anything. The metadata says how to make the frames and how to rebuild the sound, so a
plain onnxruntime + numpy program can use it (docs/sound.md)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from fasttx import __version__
from fasttx.config import shareable_meta
from fasttx.errors import FasttxError
from fasttx.export import DEFAULT_OPSET, OUTPUT_NAME, onnx_graph
from fasttx.io import atomic_write, check_output
from fasttx.modelfile import load_sound_model
from fasttx.runtime.session import load_onnx_session
from fasttx.sound.net import MIN_FRAMES

SOUND_INPUT = "log_magnitude"
VERIFY_FRAMES = (MIN_FRAMES, 37, 400)
TOLERANCE = 1e-3  # largest difference allowed between onnxruntime and PyTorch, in log(1 + magnitude)


def export_sound(
    model: str | os.PathLike[str],
    output: str | os.PathLike[str],
    meta: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the sound model file `model` as `output` (.onnx), atomically, after checking it against PyTorch."""
    output = Path(output)
    if output.suffix.lower() != ".onnx":
        raise FasttxError(f"-o {output}: an exported model is written as a .onnx file")
    check_output(output, overwrite, [model])
    net, spectrum, stored = load_sound_model(model)
    example = torch.rand(1, spectrum.bins, 40)
    dims = {0: torch.export.Dim("batch"), 2: torch.export.Dim("frames", min=MIN_FRAMES)}
    proto = onnx_graph(net, (example,), [SOUND_INPUT], (dims,), DEFAULT_OPSET)
    for value in (proto.graph.input[0], *proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
        value.type.tensor_type.shape.dim[2].dim_param = "frames"
    props = {
        k: v if isinstance(v, str) else json.dumps(v) for k, v in shareable_meta({**stored, **(meta or {})}).items()
    }
    props.update(
        fasttx_version=__version__,
        kind="sound",
        spectrum=json.dumps(asdict(spectrum)),
        net=json.dumps(net.config.to_dict()),
        min_frames=str(MIN_FRAMES),
        io_convention=(
            f"{SOUND_INPUT}: float32 [batch, {spectrum.bins}, frames >= {MIN_FRAMES}], log(1 + |STFT|) of mono sound "
            f"at {spectrum.rate} Hz (Hann window {spectrum.n_fft}, hop {spectrum.hop}, centred, zero padding); "
            f"{OUTPUT_NAME}: the same shape; rebuild the sound with expm1(output) and the input's phase (inverse STFT)"
        ),
    )
    onnx.helper.set_model_props(proto, props)
    proto.doc_string = f"fasttx sound style network: {props['io_convention']}"
    with atomic_write(output) as tmp:
        onnx.save(proto, tmp)
        _verify(tmp, net, spectrum.bins)
    return output


def _verify(path: Path, net: torch.nn.Module, bins: int) -> None:
    session, _ = load_onnx_session(path, "cpu")
    generator = torch.Generator().manual_seed(0)
    for frames in VERIFY_FRAMES:
        x = 3 * torch.rand(2, bins, frames, generator=generator)
        with torch.no_grad():
            expected = net(x).numpy()
        got = session.run(None, {SOUND_INPUT: x.numpy()})[0]
        worst = float(np.abs(got - expected).max())
        if not worst <= TOLERANCE:
            raise FasttxError(f"the exported graph differs from PyTorch by {worst:.2g} at {frames} frames; not written")
