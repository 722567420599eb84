"""What every command module shares: the app, the console, JSON output and the options two commands have.

Human-readable text goes to stderr; `--json` prints a machine-readable result on stdout. The defaults of every
option are the recipe's (fasttx.config, which does not import torch: `--help` stays fast).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Annotated, Any, Optional

import typer

from fasttx.config import LossConfig, StylizeOptions, TrainConfig
from fasttx.errors import FasttxError
from fasttx.progress import stderr_console

err = stderr_console()

app = typer.Typer(
    name="fasttx",
    help="Fast feed-forward style transfer: train a network per style, export it to ONNX, stylize images and video.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)


def refuse_given(ctx: typer.Context, names: Iterable[str], why: str) -> None:
    """One line for the first option of `names` given on the command line (not left at its default), rather than
    ignoring it: `why` ends the sentence that starts with the option's flag."""
    for param in ctx.command.params:
        if param.name in names and ctx.get_parameter_source(param.name).name != "DEFAULT":
            raise FasttxError(f"{param.opts[0]} {why}")


def _print_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


_TRAIN, _LOSS = TrainConfig(style=["style"], dataset=""), LossConfig()
_STYLIZE = StylizeOptions()
TemporalBlend = Annotated[
    float,
    typer.Option(
        help="Video and webcam: carry this share of the previous stylised frame along the optical flow of the input "
        "(0: off; 0.5 halves the frame-to-frame changes the network makes where the motion is followed; occluded "
        "and new pixels take the network's frame alone). Any model; 0 for the most frames/s. "
        "README, 'Stable video', has its measured effect and cost.",
    ),
]


# The objective's options, shared by `train` and `optimize` (one objective, one set of defaults).
ContentWeight = Annotated[float, typer.Option(help="alpha: weight of the content term (relative feature error).")]
StyleWeight = Annotated[float, typer.Option(help="beta: weight of the style term (relative Gram error).")]
TVWeight = Annotated[float, typer.Option(help="Weight of the total-variation smoothness term.")]
ContentLayer = Annotated[str, typer.Option(help="VGG layer for the content term.")]
StyleLayers = Annotated[str, typer.Option(help="VGG layers for the style term, NAME[:WEIGHT] comma-separated.")]
VggArch = Annotated[str, typer.Option(help="Perceptual network: vgg16 or vgg19.")]
VggWeights = Annotated[
    Optional[str],
    typer.Option(
        help="VGG weights: torchvision, hed, random, or a .pth/.h5 file. Default: $FASTTX_VGG_WEIGHTS or torchvision."
    ),
]

Device = Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")]
Progress = Annotated[bool, typer.Option(help="Show a progress bar.")]
