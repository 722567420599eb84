"""fasttx: fast feed-forward style transfer — train per-style networks, export to ONNX, stylize in real time."""

from fasttx.errors import FasttxError

__version__ = "0.1.0"
__all__ = ["FasttxError", "__version__"]
