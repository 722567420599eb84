"""Inference: sessions over onnxruntime and PyTorch, images and folders, video, tiling, colour, benchmarks.

`stylize_inputs` is what `fasttx stylize` runs; `open_session` is the one way to load a model for inference.
"""

from fasttx.runtime.session import OrtSession, Session, TorchSession, open_session
from fasttx.runtime.stylize import StylizeOptions, Stylizer, StylizeReport, stylize_inputs

__all__ = [
    "OrtSession",
    "Session",
    "StylizeOptions",
    "StylizeReport",
    "Stylizer",
    "TorchSession",
    "open_session",
    "stylize_inputs",
]
