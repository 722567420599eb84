"""`fasttx train`, `resume`, `add-style` and `distill`: the commands that write a model folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from fasttx.cli.common import _LOSS, _TRAIN, Device, Progress, _print_json, app, err, refuse_given
from fasttx.config import (
    DEFAULT_EPOCHS,
    DISTILL_ARCH,
    STYLE_SCALE,
    LossConfig,
    NetConfig,
    TrainConfig,
)
from fasttx.errors import FasttxError
from fasttx.sound.config import SoundTrainConfig

if TYPE_CHECKING:
    from fasttx.train import TrainResult

BASICS, LOSS, OPTIMISER, OUTPUT, HARDWARE = "Basics", "Loss", "Optimiser", "Output", "Hardware"
_SOUND = SoundTrainConfig(style="", dataset="")

Workers = Annotated[
    Optional[int],
    typer.Option(
        help="DataLoader worker processes. Default: 0 on CPU (cores compute), min(4, cores-1) on GPU.",
        rich_help_panel=HARDWARE,
    ),
]
Overwrite = Annotated[bool, typer.Option(help="Start afresh even if the output folder holds a previous run.")]
Onnx = Annotated[
    bool, typer.Option(help="Also export model.onnx at the end (checked against PyTorch).", rich_help_panel=OUTPUT)
]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.", rich_help_panel=OUTPUT)]


# the options a sound style has no use for: given with one, they are refused rather than ignored
_IMAGE_ONLY = ("image_size", "blend", "init", "val", "content_target", "style_size")
_IMAGE_ONLY += ("vgg_weights", "arch", "amp", "compile_", "workers")


@app.command()
def train(
    ctx: typer.Context,
    style: Annotated[
        list[Path],
        typer.Option(
            "--style",
            "-s",
            help="Style image (or a sound: a sound model). Repeat for one network that paints each of them (mix "
            "them at run time with stylize --style-mix), or see --blend.",
            rich_help_panel=BASICS,
        ),
    ],
    dataset: Annotated[
        Path,
        typer.Option(
            help="Folder of training photos (recursive; COCO 2014 train is the classic), or of sounds for a sound "
            "style.",
            rich_help_panel=BASICS,
        ),
    ],
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="Output folder. Default: models/<style name>/.", rich_help_panel=BASICS),
    ] = None,
    steps: Annotated[
        Optional[int],
        typer.Option(
            help=f"Total optimiser steps. Default: {DEFAULT_EPOCHS:g} passes over the photos.", rich_help_panel=BASICS
        ),
    ] = None,
    image_size: Annotated[
        int, typer.Option(help="Training crop size in pixels.", rich_help_panel=BASICS)
    ] = _TRAIN.image_size,
    batch_size: Annotated[int, typer.Option(help="Photos per step.", rich_help_panel=BASICS)] = _TRAIN.batch_size,
    blend: Annotated[
        bool,
        typer.Option(
            "--blend", help="Several --style images make one style: their statistics averaged.", rich_help_panel=BASICS
        ),
    ] = _TRAIN.blend,
    init: Annotated[
        str,
        typer.Option(
            help="Start from 'base' (the network fasttx ships: it paints from the first step), 'scratch' (the "
            "identity) or a trained model.pth of the same --arch.",
            rich_help_panel=BASICS,
        ),
    ] = _TRAIN.init,
    val: Annotated[
        Optional[Path],
        typer.Option(
            help="Held-out photos: content/style distances logged, the best model kept as best.pth, the first four "
            "previewed (default previews: the first four training photos).",
            rich_help_panel=BASICS,
        ),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(help="Start afresh even if the output folder holds a previous run.", rich_help_panel=BASICS),
    ] = False,
    content_target: Annotated[
        Optional[float],
        typer.Option(
            help="Hold the content distance of the training photos near this value by adapting the content weight: "
            "higher is bolder. 0: the recipe's fixed content weight instead.",
            rich_help_panel=LOSS,
        ),
    ] = _LOSS.content_target,
    style_size: Annotated[
        Optional[int],
        typer.Option(
            help=f"Long side of the style image for its statistics. Default: {STYLE_SCALE}x --image-size.",
            rich_help_panel=LOSS,
        ),
    ] = _LOSS.style_size,
    vgg_weights: Annotated[
        Optional[str],
        typer.Option(
            help="VGG weights: torchvision, hed (offline; see README), or a .pth/.h5 file. Default: "
            "$FASTTX_VGG_WEIGHTS or torchvision.",
            rich_help_panel=LOSS,
        ),
    ] = _TRAIN.vgg_weights,
    lr: Annotated[
        Optional[float],
        typer.Option(
            help=f"Learning rate. Default: {_TRAIN.lr:g} (images), {_SOUND.lr:g} (sound).", rich_help_panel=OPTIMISER
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Random seed (data order, crops).", rich_help_panel=OPTIMISER)
    ] = _TRAIN.seed,
    every: Annotated[
        int,
        typer.Option(help="Write a preview, validate and checkpoint every N steps.", rich_help_panel=OUTPUT),
    ] = _TRAIN.checkpoint_every,
    log_every: Annotated[
        int, typer.Option(help="Append metrics to train.jsonl every N steps.", rich_help_panel=OUTPUT)
    ] = _TRAIN.log_every,
    onnx: Onnx = _TRAIN.onnx,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.", rich_help_panel=OUTPUT)] = True,
    as_json: Json = False,
    arch: Annotated[
        str, typer.Option(help="Transformation network: johnson, small, tiny.", rich_help_panel=HARDWARE)
    ] = NetConfig().arch,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.", rich_help_panel=HARDWARE)] = _TRAIN.device,
    amp: Annotated[
        bool,
        typer.Option(help="Mixed precision where the hardware runs it natively.", rich_help_panel=HARDWARE),
    ] = _TRAIN.amp,
    compile_: Annotated[
        bool,
        typer.Option(
            "--compile/--no-compile",
            help="torch.compile: a minute or two of compiling, then faster steps (long GPU runs).",
            rich_help_panel=HARDWARE,
        ),
    ] = _TRAIN.compile,
    workers: Workers = _TRAIN.workers,
) -> None:
    """Train a style network on a folder of photos (a sound as the style: a sound model on a folder of sounds).

    Writes model.pth, model.onnx, checkpoint.pt, train.jsonl and previews/ into the output folder. Ctrl-C saves a
    checkpoint; [bold]fasttx resume FOLDER[/] continues exactly where it stopped.
    """
    from fasttx.sound.audio import is_sound

    if any(is_sound(p) for p in style):
        if len(style) > 1:
            raise FasttxError("a sound model learns one style: give one --style sound")
        refuse_given(ctx, _IMAGE_ONLY, "is for image styles: a sound model does not use it")
        from fasttx.sound.train import train_sound

        sound = SoundTrainConfig(
            style=str(style[0]),
            dataset=str(dataset),
            out=str(out or ""),
            **({"steps": steps} if steps is not None else {}),
            batch_size=batch_size,
            lr=_SOUND.lr if lr is None else lr,
            seed=seed,
            device=device,
            log_every=log_every,
            preview_every=every,
            checkpoint_every=every,
            onnx=onnx,
        )
        _report_training(lambda: train_sound(sound, overwrite=overwrite, progress=progress), as_json)
        return
    from fasttx import train as training

    cfg = TrainConfig(
        style=[str(p) for p in style],
        blend=blend,
        dataset=str(dataset),
        out=str(out or ""),
        net=NetConfig(arch=arch),
        loss=LossConfig(
            style_size=style_size,
            content_target=content_target or None,  # 0: off
        ),
        vgg_weights=vgg_weights,
        image_size=image_size,
        batch_size=batch_size,
        steps=steps,
        lr=_TRAIN.lr if lr is None else lr,
        seed=seed,
        device=device,
        amp=amp,
        compile=compile_,
        workers=workers,
        log_every=log_every,
        preview_every=every,
        checkpoint_every=every,
        val_every=every,
        val=str(val) if val else None,
        init=init,
        onnx=onnx,
    )
    _report_training(lambda: training.train(cfg, overwrite=overwrite, progress=progress, console=err), as_json)


@app.command()
def resume(
    run: Annotated[Path, typer.Argument(help="The run's folder (or its checkpoint.pt).")],
    steps: Annotated[Optional[int], typer.Option(help="A new total of steps (to train on past the first).")] = None,
    device: Annotated[Optional[str], typer.Option(help="Where to continue: auto, cpu, cuda or mps.")] = None,
    workers: Workers = None,
    progress: Progress = True,
    as_json: Json = False,
) -> None:
    """Continue an interrupted (or finished) run exactly where it stopped, with its own recipe."""
    from fasttx.sound.train import is_sound_run, resume_sound
    from fasttx.train import resume as resume_run

    if is_sound_run(run):
        _report_training(lambda: resume_sound(run, steps=steps, progress=progress), as_json)
        return

    _report_training(
        lambda: resume_run(run, steps=steps, device=device, workers=workers, progress=progress, console=err), as_json
    )


@app.command("add-style")
def add_style(
    base: Annotated[Path, typer.Option("--from", help="The trained model.pth to grow by one style.")],
    style: Annotated[Path, typer.Option("--style", "-s", help="The style image to add.")],
    dataset: Annotated[Path, typer.Option(help="Training photos (a shared model names its own without a folder).")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Default: <base folder>+<style name>/.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Total steps. Default: the base's.")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda or mps. Default: the base's.")] = None,
    workers: Workers = None,
    overwrite: Overwrite = False,
    onnx: Onnx = True,
    progress: Progress = True,
    as_json: Json = False,
) -> None:
    """Add a style to a trained network: only the new style's few thousand numbers train, on the base's recipe, so
    it takes a fraction of a full training; the old styles paint exactly as before."""
    from fasttx import train as training

    cfg = training.add_style_config(base, style, out, steps=steps, dataset=dataset, device=device, workers=workers)
    cfg.onnx = onnx
    _report_training(lambda: training.train(cfg, overwrite=overwrite, progress=progress, console=err), as_json)


@app.command()
def distill(
    teacher: Annotated[Path, typer.Option(help="A trained model.pth to reproduce.")],
    style: Annotated[list[Path], typer.Option("--style", "-s", help="The teacher's style image(s).")],
    dataset: Annotated[Path, typer.Option(help="Training photos.")],
    arch: Annotated[str, typer.Option(help="Student architecture: small, tiny, ...")] = DISTILL_ARCH,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Default: <teacher folder>-<arch>/.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Total steps. Default: the teacher's.")] = None,
    distill_weight: Annotated[
        float, typer.Option(help="Weight of the mean absolute difference to the teacher's output.")
    ] = _TRAIN.distill_weight,
    device: Device = _TRAIN.device,
    workers: Workers = None,
    overwrite: Overwrite = False,
    progress: Progress = True,
    as_json: Json = False,
) -> None:
    """Train a small, fast student network to reproduce a trained teacher (its outputs plus the perceptual losses),
    on the teacher's recipe. Resume an interrupted one with [bold]fasttx resume FOLDER[/]."""
    from fasttx.train import distill_config
    from fasttx.train import train as train_model

    cfg = distill_config(
        teacher,
        arch,
        out,
        steps=steps,
        dataset=dataset,
        style=style,
        distill_weight=distill_weight,
        device=device,
        workers=workers,
    )
    _report_training(lambda: train_model(cfg, overwrite=overwrite, progress=progress, console=err), as_json)


def _report_training(run: Callable[[], TrainResult], as_json: bool) -> None:
    """Run a training and print its outcome (an interruption: the checkpoint and the shell's exit status)."""
    from fasttx.train import Interrupted

    try:
        result = run()
    except Interrupted as stopped:
        err.print(f"[yellow]{stopped}[/]")
        raise typer.Exit(stopped.exit_code) from None
    err.print(f"[green]done[/]: {result.steps} steps; wrote {', '.join(str(f) for f in result.files if f.exists())}")
    if result.content_distance is not None:
        err.print(
            f"the stylized training photos are at content distance {result.content_distance:.2f} from the photos "
            "(0: unchanged; the content target holds it there): fasttx evaluate scores held-out photos"
        )
    if result.skipped_files:
        err.print(f"[yellow]{result.skipped_files} unreadable training images were skipped[/]")
    if as_json:
        _print_json(
            {
                "out": result.out,
                "model": result.model,
                "steps": result.steps,
                "metrics": result.last_metrics,
                "skipped_files": result.skipped_files,
            }
        )
