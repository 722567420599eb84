"""Training a style network: `loop` is the run read top to bottom; the other modules are its parts.

loop.py            train / resume: set-up, then one loop, then the files
start.py           where a fresh run starts (the shipped base, a trained model, the identity)
optimizer.py       parameter groups, warm-up, the saved moving average
content_target.py  the content weight that holds the content distance
outputs.py         previews, held-out distances, the model's metadata
state.py           checkpoint parts, train.jsonl, the stop flag
recipes.py         recipes derived from a trained model (add a style, distil)
"""

from fasttx.config import TrainConfig
from fasttx.train.content_target import ContentTarget
from fasttx.train.loop import TrainResult, resume, train
from fasttx.train.optimizer import lr_at, param_groups
from fasttx.train.outputs import batch_styles
from fasttx.train.recipes import add_style_config, distill_config
from fasttx.train.start import initial_network, nearest_styles
from fasttx.train.state import Interrupted

__all__ = [
    "ContentTarget",
    "Interrupted",
    "TrainConfig",
    "TrainResult",
    "add_style_config",
    "batch_styles",
    "distill_config",
    "initial_network",
    "lr_at",
    "nearest_styles",
    "param_groups",
    "resume",
    "train",
]
