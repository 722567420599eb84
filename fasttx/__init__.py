"""fasttx: fast feed-forward style transfer — train per-style networks, export to ONNX, stylize in real time."""

import os

# onnxruntime's Linux and macOS wheels (1.29 on) send usage telemetry from a background thread
# (mobile.events.data.microsoft.com); disable_telemetry_events() does not stop it, this variable does when it is set
# before onnxruntime loads. fasttx makes no network call but the downloads a user asks for. A user's own setting wins.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from fasttx.errors import FasttxError  # noqa: E402  (after the variable: nothing may load onnxruntime first)

__version__ = "0.2.0"
__all__ = ["FasttxError", "__version__"]
