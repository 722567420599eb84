"""The `fasttx` command line: parse options, call the package, print. No logic a test would want without the CLI.

Human-readable text goes to stderr; `--json` prints a machine-readable result on stdout.
User mistakes (FasttxError) print one line and exit with status 1; Ctrl-C during training exits with 130.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console

from fasttx import __version__
from fasttx.errors import FasttxError

if TYPE_CHECKING:
    from fasttx.train import TrainConfig

err = Console(stderr=True)

app = typer.Typer(
    name="fasttx",
    help="Fast feed-forward style transfer: train a network per style, export it to ONNX, stylize images and video.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
datasets_app = typer.Typer(help="Download training photo datasets.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")


def _print_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fasttx {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Fast feed-forward style transfer.

    Typical use: [bold]fasttx train --style painting.jpg --dataset photos/[/] then
    [bold]fasttx stylize --model models/painting/model.pth photo.jpg -o out.jpg[/].
    """


@app.command()
def train(
    style: Annotated[
        Optional[list[Path]], typer.Option("--style", "-s", help="Style image. Repeat to mix several styles equally.")
    ] = None,
    dataset: Annotated[Optional[Path], typer.Option(help="Folder of training photos (recursive; COCO 2014 train is the classic).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder. Default: models/<style name>/.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Total optimiser steps (also the total when resuming).")] = None,
    epochs: Annotated[Optional[float], typer.Option(help="Passes over the dataset, instead of --steps.")] = None,
    image_size: Annotated[int, typer.Option(help="Training crop size in pixels.")] = 256,
    batch_size: Annotated[int, typer.Option(help="Photos per step.")] = 4,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    lr_schedule: Annotated[str, typer.Option(help="'constant' or 'cosine' (decays to lr/10).")] = "constant",
    content_weight: Annotated[float, typer.Option(help="Weight of the content loss (relative feature error).")] = 1.0,
    style_weight: Annotated[float, typer.Option(help="Weight of the style loss (relative Gram error).")] = 1.0,
    tv_weight: Annotated[float, typer.Option(help="Weight of the total-variation smoothness loss.")] = 0.0,
    content_layer: Annotated[str, typer.Option(help="VGG layer for the content loss.")] = "relu2_2",
    style_layers: Annotated[
        str, typer.Option(help="VGG layers for the style loss, NAME[:WEIGHT] comma-separated.")
    ] = "relu1_2,relu2_2,relu3_3,relu4_3",
    style_size: Annotated[
        Optional[int], typer.Option(help="Long side of the style image for its Gram targets. Default: 2x --image-size.")
    ] = None,
    arch: Annotated[str, typer.Option(help="Transformation network architecture.")] = "johnson",
    output_mode: Annotated[
        str, typer.Option("--output", help="'residual' (edit the photo; keeps content from step one) or 'direct'.")
    ] = "residual",
    vgg: Annotated[str, typer.Option(help="Perceptual network: vgg16 or vgg19.")] = "vgg16",
    vgg_weights: Annotated[
        Optional[str],
        typer.Option(help="VGG weights: torchvision, hed, random, or a .pth/.h5 file. Default: $FASTTX_VGG_WEIGHTS or torchvision."),
    ] = None,
    preview: Annotated[Optional[list[Path]], typer.Option(help="Photos (or folders) for the preview grids.")] = None,
    preview_every: Annotated[int, typer.Option(help="Write a preview grid every N steps.")] = 500,
    val: Annotated[
        Optional[Path], typer.Option(help="Held-out photos: content/style distances logged and the best model kept as best.pth.")
    ] = None,
    val_every: Annotated[int, typer.Option(help="Validate every N steps (with --val).")] = 500,
    checkpoint_every: Annotated[int, typer.Option(help="Write checkpoint.pt every N steps.")] = 500,
    log_every: Annotated[int, typer.Option(help="Append metrics to train.jsonl every N steps.")] = 10,
    seed: Annotated[int, typer.Option(help="Random seed (data order, crops, init).")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
    amp: Annotated[bool, typer.Option(help="Mixed precision on CUDA (bf16 where supported).")] = True,
    workers: Annotated[Optional[int], typer.Option(help="DataLoader worker processes. Default: min(4, cores-1).")] = None,
    resume: Annotated[
        Optional[Path], typer.Option(help="Continue the run in this folder (or from this checkpoint.pt) exactly where it stopped.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Start afresh even if the output folder holds a previous run.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Train a style network on a folder of photos.

    Writes model.pth, checkpoint.pt, train.jsonl and previews/ into the output folder. Ctrl-C saves a checkpoint;
    [bold]--resume FOLDER[/] continues exactly where it stopped. Offline? Set FASTTX_VGG_WEIGHTS (see README).
    """
    from fasttx.losses import LossConfig, parse_layer_weights
    from fasttx.nets.transformer import NetConfig
    from fasttx.train import TrainConfig, load_resume_config

    if resume is not None:
        cfg = load_resume_config(resume)
        if steps is not None:
            cfg.steps = steps
        cfg.device = device
        cfg.workers = workers
    else:
        if not style:
            raise FasttxError("give a style image with --style painting.jpg")
        if dataset is None:
            raise FasttxError("give a folder of training photos with --dataset DIR (see datasets/README.md)")
        for path in style:
            if not path.is_file():
                raise FasttxError(f"no such style image: {path}")
        if steps is None and epochs is None:
            epochs = 2.0
        out = out or Path("models") / style[0].stem
        if (out / "checkpoint.pt").exists() and not overwrite:
            raise FasttxError(f"{out} holds a previous run; continue it with --resume {out} or start afresh with --overwrite")
        cfg = TrainConfig(
            style=[str(p) for p in style],
            dataset=str(dataset),
            out=str(out),
            net=NetConfig(arch=arch, output=output_mode),
            loss=LossConfig(
                content_layer=content_layer,
                style_layers=parse_layer_weights(style_layers),
                content_weight=content_weight,
                style_weight=style_weight,
                tv_weight=tv_weight,
                style_size=style_size,
            ),
            vgg_arch=vgg,
            vgg_weights=vgg_weights,
            image_size=image_size,
            batch_size=batch_size,
            steps=steps,
            epochs=epochs,
            lr=lr,
            lr_schedule=lr_schedule,
            seed=seed,
            device=device,
            amp=amp,
            workers=workers,
            log_every=log_every,
            preview_every=preview_every,
            checkpoint_every=checkpoint_every,
            preview=[str(p) for p in preview or []],
            val=str(val) if val else None,
            val_every=val_every,
        )
    _run_training(cfg, resume=resume is not None, progress=progress, as_json=as_json)


@app.command()
def distill(
    teacher: Annotated[Path, typer.Option(help="A trained model.pth to reproduce.")],
    arch: Annotated[str, typer.Option(help="Student architecture: small, tiny, ...")] = "small",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder. Default: <teacher folder>-<arch>/.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Total steps. Default: the teacher's.")] = None,
    dataset: Annotated[Optional[Path], typer.Option(help="Training photos. Default: the teacher's dataset.")] = None,
    style: Annotated[Optional[list[Path]], typer.Option(help="Style image(s). Default: the teacher's.")] = None,
    distill_weight: Annotated[float, typer.Option(help="Weight of the mean absolute difference to the teacher's output.")] = 10.0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
    workers: Annotated[Optional[int], typer.Option(help="DataLoader worker processes.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Start afresh even if the output folder holds a previous run.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Train a small, fast student network to reproduce a trained teacher (its outputs plus the perceptual losses).

    The student inherits the teacher's recipe (style, dataset, losses, VGG); options given here override it.
    Resume an interrupted distillation with [bold]fasttx train --resume FOLDER[/].
    """
    from fasttx.train import distill_config

    cfg = distill_config(teacher, arch, out)
    if steps is not None:
        cfg.steps = steps
    if dataset is not None:
        cfg.dataset = str(dataset)
    if style:
        cfg.style = [str(p) for p in style]
    missing = [p for p in [*cfg.style, cfg.dataset] if not Path(p).exists()]
    if missing:
        raise FasttxError(f"the teacher's {missing[0]} is not on this machine; give --style/--dataset")
    if (Path(cfg.out) / "checkpoint.pt").exists() and not overwrite:
        raise FasttxError(f"{cfg.out} holds a previous run; continue it with fasttx train --resume {cfg.out} or pass --overwrite")
    cfg.distill_weight, cfg.device, cfg.workers = distill_weight, device, workers
    _run_training(cfg, resume=False, progress=progress, as_json=as_json)


def _run_training(cfg: "TrainConfig", resume: bool, progress: bool, as_json: bool) -> None:
    from fasttx.train import Interrupted
    from fasttx.train import train as run_training

    try:
        result = run_training(cfg, resume=resume, progress=progress, console=err)
    except Interrupted as stopped:
        err.print(f"[yellow]{stopped}[/]")
        raise typer.Exit(130) from None
    err.print(f"[green]done[/]: {result.steps} steps; model {result.model}; previews in {result.out / 'previews'}")
    if result.skipped_files:
        err.print(f"[yellow]{result.skipped_files} unreadable training images were skipped[/]")
    if as_json:
        _print_json(
            {"out": result.out, "model": result.model, "steps": result.steps, "metrics": result.last_metrics, "skipped_files": result.skipped_files}
        )


@app.command()
def stylize(
    inputs: Annotated[list[Path], typer.Argument(help="Images to stylize.")],
    model: Annotated[Path, typer.Option("--model", "-m", help="A trained model.pth.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image (one input) or folder (several).")],
    max_size: Annotated[Optional[int], typer.Option(help="Downscale so the long side is at most this many pixels.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
    overwrite: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
) -> None:
    """Apply a trained style to images."""
    import torch

    from fasttx.device import pick_device
    from fasttx.io import load_image, load_model, save_image

    dev = pick_device(device)
    net, _ = load_model(model)
    net = net.to(dev)
    targets = [output] if len(inputs) == 1 and output.suffix else [output / f"{p.stem}.jpg" for p in inputs]
    for source, target in zip(inputs, targets):
        if target.resolve() == source.resolve():
            raise FasttxError(f"output {target} would overwrite its input")
        if target.exists() and not overwrite:
            raise FasttxError(f"{target} exists; pass --overwrite to replace it")
        image = load_image(source, max_size=max_size).unsqueeze(0).to(dev)
        with torch.no_grad():
            result = net(image)
        save_image(result, target)
        err.print(f"{source} -> {target}")


@datasets_app.command("coco2014")
def coco2014(
    directory: Annotated[Path, typer.Option("--dir", help="Where to put the zip and the train2014/ photos.")] = Path("datasets/coco"),
    keep_zip: Annotated[bool, typer.Option(help="Keep the 13.5 GB zip after unpacking.")] = True,
) -> None:
    """Download and unpack COCO 2014 train (~83k photos, 13.5 GB); rerun to resume a broken download."""
    from fasttx.coco import COCO2014_TRAIN, download_and_extract

    folder = download_and_extract(COCO2014_TRAIN, directory, progress=True, keep_zip=keep_zip)
    err.print(f"[green]ready[/]: train with --dataset {folder}")


def main() -> None:
    """Console entry point: user mistakes become one red line and exit status 1; Ctrl-C exits with 130."""
    try:
        app()
    except FasttxError as e:
        err.print(f"[red]error:[/] {e}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(130)
