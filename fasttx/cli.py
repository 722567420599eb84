"""The `fasttx` command line: parse options, call the package, print. No logic a test would want without the CLI.

Human-readable text goes to stderr; `--json` prints a machine-readable result on stdout.
User mistakes (FasttxError) print one line and exit with status 1; Ctrl-C during training exits with 130.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from fasttx import __version__
from fasttx.config import (
    BENCH,
    DEFAULT_DEVICE,
    DEFAULT_EPOCHS,
    DISTILL_ARCH,
    EVAL_SIZE,
    OPTIMIZE,
    STYLE_SCALE,
    LossConfig,
    NetConfig,
    StylizeOptions,
    TrainConfig,
    format_layer_weights,
    parse_layer_weights,
    parse_style_views,
)
from fasttx.errors import FasttxError, exit_with_error
from fasttx.progress import stderr_console

if TYPE_CHECKING:
    from fasttx.train import TrainResult

err = stderr_console()

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


# The defaults of every option are the recipe's (fasttx.config, which does not import torch: --help stays fast).
_TRAIN, _LOSS, _NET = TrainConfig(style=["style"], dataset=""), LossConfig(), NetConfig()
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
RobustStyle = Annotated[
    bool,
    typer.Option(
        "--robust-style/--plain-style",
        help="Count each photo's Gram error per layer as log(1 + error), so photos far from the style do not drown "
        "the rest.",
    ),
]
BalanceLayers = Annotated[
    bool,
    typer.Option(
        "--balance-layers/--no-balance-layers",
        help="Scale each style layer so its pull on the pixels is the layers' average (measured on the photos at the "
        "start); without it the deep layers' edge texture drowns the shallow layers' palette.",
    ),
]
StyleTiles = Annotated[
    int,
    typer.Option(
        help="Also match the style's statistics in each cell of an NxN grid over every training image (1: the whole "
        "image only), so the style covers the image instead of gathering in a few patches.",
        min=1,
    ),
]
StyleViews = Annotated[
    str,
    typer.Option(
        help="Sizes, relative to the training crop, at which the output's style statistics are matched, each "
        "against the style image resized alike; the style term is their mean. '1,0.5' adds a half-size copy: grain "
        "a pixel wide vanishes in it, so the style must be met with coarser marks (fewer streaks, less style).",
    ),
]
VggArch = Annotated[str, typer.Option(help="Perceptual network: vgg16 or vgg19.")]
VggWeights = Annotated[
    Optional[str],
    typer.Option(
        help="VGG weights: torchvision, hed, random, or a .pth/.h5 file. Default: $FASTTX_VGG_WEIGHTS or torchvision."
    ),
]


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
    ctx: typer.Context,
    style: Annotated[
        Optional[list[Path]],
        typer.Option(
            "--style",
            "-s",
            help="Style image. Repeat for one network that paints each of them (a few thousand numbers per style; "
            "mix them at run time with stylize --style-mix), or see --blend.",
        ),
    ] = None,
    blend: Annotated[
        bool, typer.Option("--blend", help="Several --style images make one style: their statistics averaged.")
    ] = _TRAIN.blend,
    dataset: Annotated[
        Optional[Path], typer.Option(help="Folder of training photos (recursive; COCO 2014 train is the classic).")
    ] = None,
    out: Annotated[
        Optional[Path], typer.Option("--out", "-o", help="Output folder. Default: models/<style name>/.")
    ] = None,
    steps: Annotated[Optional[int], typer.Option(help="Total optimiser steps (also the total when resuming).")] = None,
    epochs: Annotated[
        Optional[float], typer.Option(help=f"Passes over the dataset, instead of --steps. Default: {DEFAULT_EPOCHS:g}.")
    ] = None,
    image_size: Annotated[int, typer.Option(help="Training crop size in pixels.")] = _TRAIN.image_size,
    batch_size: Annotated[int, typer.Option(help="Photos per step.")] = _TRAIN.batch_size,
    lr: Annotated[float, typer.Option(help="Adam learning rate (and the warm-up's and schedule's scale).")] = _TRAIN.lr,
    muon_lr: Annotated[
        float, typer.Option(help="Muon learning rate of the hidden convolutions (0: Adam trains every weight).")
    ] = _TRAIN.muon_lr,
    lr_schedule: Annotated[str, typer.Option(help="'constant' or 'cosine' (decays to lr/10).")] = _TRAIN.lr_schedule,
    warmup: Annotated[int, typer.Option(help="Steps of linear learning-rate warm-up.")] = _TRAIN.warmup,
    ema: Annotated[
        float, typer.Option(help="Save the moving average of the weights with this decay (0: the last weights).")
    ] = _TRAIN.ema,
    content_weight: ContentWeight = _LOSS.content_weight,
    style_weight: StyleWeight = _LOSS.style_weight,
    content_target: Annotated[
        Optional[float],
        typer.Option(
            help="Hold the content distance of the training photos near this value by adapting the content weight "
            "as training goes: the style gets as far as that allows, and longer runs buy style, not lost content. "
            "Higher is bolder; 0: a fixed --content-weight instead."
        ),
    ] = _LOSS.content_target,
    tv_weight: TVWeight = _LOSS.tv_weight,
    content_layer: ContentLayer = _LOSS.content_layer,
    style_layers: StyleLayers = format_layer_weights(_LOSS.style_layers),
    robust_style: RobustStyle = _LOSS.robust,
    balance_layers: BalanceLayers = _LOSS.balance,
    style_tiles: StyleTiles = _LOSS.style_tiles,
    style_views: StyleViews = ",".join(f"{v:g}" for v in _LOSS.style_views),
    style_size: Annotated[
        Optional[int],
        typer.Option(help=f"Long side of the style image for its Gram targets. Default: {STYLE_SCALE}x --image-size."),
    ] = _LOSS.style_size,
    temporal_weight: Annotated[
        float,
        typer.Option(
            help="Train for video: weight of the consistency term (a photo moved by a few pixels and stylised must "
            "be its stylisation moved the same way), which stops flicker. 0: off. See README, 'Stable video'."
        ),
    ] = _TRAIN.temporal_weight,
    arch: Annotated[str, typer.Option(help="Transformation network architecture.")] = _NET.arch,
    output_mode: Annotated[
        str,
        typer.Option(
            "--output",
            help="'additive' (an edit added to the photo's pixels, clamped; keeps content from step one), 'residual' "
            "(an edit of the photo's logits; saturates into blobs on short runs) or 'direct' (paint from scratch, as "
            "pytorch/examples).",
        ),
    ] = _NET.output,
    init: Annotated[
        str,
        typer.Option(
            help="The network to start from: 'base', the one fasttx ships (johnson, additive; trained on four "
            "paintings: it paints from the first step, and reaches in 1 000 steps what scratch needs more for), "
            "'scratch' (from the identity), or a trained model.pth of the same --arch and --output. Its "
            "convolutions are kept, and each style starts from the trained style (or their mean) nearest to it "
            "on the training photos.",
        ),
    ] = _TRAIN.init,
    vgg: VggArch = _TRAIN.vgg_arch,
    vgg_weights: VggWeights = _TRAIN.vgg_weights,
    preview: Annotated[Optional[list[Path]], typer.Option(help="Photos (or folders) for the preview grids.")] = None,
    preview_every: Annotated[int, typer.Option(help="Write a preview grid every N steps.")] = _TRAIN.preview_every,
    val: Annotated[
        Optional[Path],
        typer.Option(help="Held-out photos: content/style distances logged and the best model kept as best.pth."),
    ] = None,
    val_every: Annotated[int, typer.Option(help="Validate every N steps (with --val).")] = _TRAIN.val_every,
    checkpoint_every: Annotated[int, typer.Option(help="Write checkpoint.pt every N steps.")] = _TRAIN.checkpoint_every,
    log_every: Annotated[int, typer.Option(help="Append metrics to train.jsonl every N steps.")] = _TRAIN.log_every,
    seed: Annotated[int, typer.Option(help="Random seed (data order, crops, init).")] = _TRAIN.seed,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = _TRAIN.device,
    amp: Annotated[
        bool,
        typer.Option(help="Mixed precision: bf16/fp16 on CUDA, bf16 on CPUs that run it natively (AVX512-BF16, AMX)."),
    ] = _TRAIN.amp,
    compile_: Annotated[
        bool,
        typer.Option(
            "--compile/--no-compile",
            help="torch.compile the transformer and VGG: a minute or two of compiling, then faster steps (for long GPU "
            "runs; needs a C++ compiler on CPU).",
        ),
    ] = _TRAIN.compile,
    workers: Annotated[
        Optional[int],
        typer.Option(help="DataLoader worker processes. Default: 0 on CPU (cores compute), min(4, cores-1) on GPU."),
    ] = _TRAIN.workers,
    resume: Annotated[
        Optional[Path],
        typer.Option(
            help="Continue the run in this folder (or from this checkpoint.pt) exactly where it stopped, with its "
            "recipe; "
            "only --steps, --device, --workers and the display options may be given with it."
        ),
    ] = None,
    add_style: Annotated[
        Optional[Path],
        typer.Option(
            help="Add this style image to the trained network --from: only the new style's vectors train (the "
            "convolutions stay frozen), on the base's recipe; --dataset, --out, --steps, --device, --workers may "
            "change. Default out: <base folder>+<style name>/."
        ),
    ] = None,
    base: Annotated[
        Optional[Path], typer.Option("--from", help="The trained model.pth that --add-style grows by one style.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Start afresh even if the output folder holds a previous run.")
    ] = False,
    onnx: Annotated[
        bool, typer.Option(help="Also export model.onnx at the end (checked against PyTorch).")
    ] = _TRAIN.onnx,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Train a style network on a folder of photos.

    Writes model.pth, checkpoint.pt, train.jsonl and previews/ into the output folder. Ctrl-C saves a checkpoint;
    [bold]--resume FOLDER[/] continues exactly where it stopped. Offline? Set FASTTX_VGG_WEIGHTS (see README).
    """
    from fasttx import train as training

    if resume is not None:
        _refuse_options(ctx, _RESUMABLE, "cannot be given with --resume: the run keeps its recipe")
        _report_training(
            lambda: training.resume(
                resume, steps=steps, device=device, workers=workers, progress=progress, console=err
            ),
            as_json,
        )
    elif add_style is not None or base is not None:
        if add_style is None or base is None:
            raise FasttxError("--add-style IMAGE and --from MODEL.pth go together")
        _refuse_options(ctx, _ADD_STYLE_OPTIONS, "is not for --add-style: it keeps the base's recipe")
        cfg = training.add_style_config(
            base,
            add_style,
            out,
            steps=steps,
            dataset=dataset,
            device=device if _given(ctx, "device") else None,
            workers=workers,
        )
        cfg.onnx = onnx
        _report_training(lambda: training.train(cfg, overwrite=overwrite, progress=progress, console=err), as_json)
    else:
        if not style:
            raise FasttxError("give a style image with --style painting.jpg")
        if dataset is None:
            raise FasttxError("give a folder of training photos with --dataset DIR (see datasets/README.md)")
        cfg = TrainConfig(
            style=[str(p) for p in style],
            blend=blend,
            dataset=str(dataset),
            out=str(out or ""),
            net=NetConfig(arch=arch, output=output_mode),
            loss=_loss_config(
                content_layer,
                style_layers,
                content_weight,
                style_weight,
                tv_weight,
                style_size,
                robust_style,
                balance_layers,
                style_tiles,
                content_target,
                style_views,
            ),
            vgg_arch=vgg,
            vgg_weights=vgg_weights,
            image_size=image_size,
            batch_size=batch_size,
            steps=steps,
            epochs=epochs,
            lr=lr,
            muon_lr=muon_lr,
            lr_schedule=lr_schedule,
            warmup=warmup,
            ema=ema,
            seed=seed,
            device=device,
            amp=amp,
            compile=compile_,
            workers=workers,
            log_every=log_every,
            preview_every=preview_every,
            checkpoint_every=checkpoint_every,
            preview=[str(p) for p in preview or []],
            val=str(val) if val else None,
            val_every=val_every,
            temporal_weight=temporal_weight,
            init=init,
            onnx=onnx,
        )
        _report_training(lambda: training.train(cfg, overwrite=overwrite, progress=progress, console=err), as_json)


def _loss_config(
    content_layer: str,
    style_layers: str,
    content_weight: float,
    style_weight: float,
    tv_weight: float,
    style_size: int | None,
    robust_style: bool,
    balance_layers: bool,
    style_tiles: int = _LOSS.style_tiles,
    content_target: float | None = _LOSS.content_target,
    style_views: str = "1",
) -> LossConfig:
    """The objective's options (shared by train and optimize) as the recipe's dataclass."""
    return LossConfig(
        content_layer=content_layer,
        style_layers=parse_layer_weights(style_layers),
        content_weight=content_weight,
        style_weight=style_weight,
        tv_weight=tv_weight,
        style_size=style_size,
        robust=robust_style,
        balance=balance_layers,
        style_tiles=style_tiles,
        content_target=content_target or None,  # 0: off
        style_views=parse_style_views(style_views),
    )


_RESUMABLE = {"resume", "steps", "device", "workers", "progress", "as_json"}  # what --resume may be given with
_ADD_STYLE_OPTIONS = {
    "add_style",
    "base",
    "dataset",
    "out",
    "steps",
    "device",
    "workers",
    "overwrite",
    "onnx",
} | _RESUMABLE


def _refuse_options(ctx: typer.Context, allowed: set[str], why: str) -> None:
    """A one-line error naming the first option the user typed that is not in `allowed`."""
    given = [name for name in ctx.params if _given(ctx, name) and name not in allowed]
    if given:
        raise FasttxError(f"--{given[0].rstrip('_').replace('_', '-')} {why}")


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the user typed option `name` (not just left its default). By the source's name: typer's own click
    (typer >= 0.24) and click's ParameterSource are different classes."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


@app.command()
def distill(
    teacher: Annotated[Path, typer.Option(help="A trained model.pth to reproduce.")],
    arch: Annotated[str, typer.Option(help="Student architecture: small, tiny, ...")] = DISTILL_ARCH,
    out: Annotated[
        Optional[Path], typer.Option("--out", "-o", help="Output folder. Default: <teacher folder>-<arch>/.")
    ] = None,
    steps: Annotated[Optional[int], typer.Option(help="Total steps. Default: the teacher's.")] = None,
    dataset: Annotated[Optional[Path], typer.Option(help="Training photos. Default: the teacher's dataset.")] = None,
    style: Annotated[Optional[list[Path]], typer.Option(help="Style image(s). Default: the teacher's.")] = None,
    distill_weight: Annotated[
        float, typer.Option(help="Weight of the mean absolute difference to the teacher's output.")
    ] = _TRAIN.distill_weight,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = DEFAULT_DEVICE,
    workers: Annotated[Optional[int], typer.Option(help="DataLoader worker processes.")] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Start afresh even if the output folder holds a previous run.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Train a small, fast student network to reproduce a trained teacher (its outputs plus the perceptual losses).

    The student inherits the teacher's recipe (style, dataset, losses, VGG); options given here override it.
    Resume an interrupted distillation with [bold]fasttx train --resume FOLDER[/].
    """
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
    err.print(f"[green]done[/]: {result.steps} steps; model {result.model}; previews in {result.out / 'previews'}")
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


@app.command()
def stylize(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Images, videos (mp4 mov mkv webm avi gif), folders (recursive) or quoted globs like 'photos/*.jpg'."
        ),
    ],
    model: Annotated[
        Path, typer.Option("--model", "-m", help="A trained model.pth (PyTorch) or an exported .onnx (onnxruntime).")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="One image or video in and a file name with its kind of suffix: that file. Otherwise a folder: "
            "folders are mirrored under it, images keep their format, videos become H.264 (GIF, WebM and AVI "
            "inputs become .mp4).",
        ),
    ],
    device: Annotated[
        str,
        typer.Option(help="auto, cpu, cuda, mps (PyTorch) or tensorrt (.onnx; builds an engine per frame size first)."),
    ] = DEFAULT_DEVICE,
    max_size: Annotated[
        Optional[int], typer.Option(help="Downscale so the long side is at most this many pixels (images and videos).")
    ] = _STYLIZE.max_size,
    batch_size: Annotated[
        int, typer.Option(help="Video frames, same-size images or tiles per network call.")
    ] = _STYLIZE.batch_size,
    tile: Annotated[
        Optional[int],
        typer.Option(
            help="Run images in NxN tiles that share one set of InstanceNorm statistics (no seams); for images too "
            "large for memory. .pth models only."
        ),
    ] = _STYLIZE.tile,
    overlap: Annotated[
        int, typer.Option(help="Pixels neighbouring tiles share, blended with linear weights.")
    ] = _STYLIZE.overlap,
    preserve_color: Annotated[
        bool,
        typer.Option(
            "--preserve-color", help="Keep the photo's colours: take only the luminance (Y of YCbCr) from the style."
        ),
    ] = _STYLIZE.preserve_color,
    strength: Annotated[
        float,
        typer.Option(
            help="How much style, 0 to 1: the output is strength x stylized + (1 - strength) x photo, per pixel."
        ),
    ] = _STYLIZE.strength,
    crf: Annotated[
        int, typer.Option(help="H.264 quality for videos: 0 lossless, 18 visually lossless, 23 x264's default.")
    ] = _STYLIZE.crf,
    keep_partial: Annotated[
        bool,
        typer.Option(
            help="Write the frames a truncated or damaged video still gives (else: that video fails, nothing written)."
        ),
    ] = _STYLIZE.keep_partial,
    clip_stats: Annotated[
        Optional[float],
        typer.Option(
            help="Videos: normalise each frame with InstanceNorm statistics averaged over the frames before it, at "
            "this momentum (0.9: about 10 frames), so noise and compression do not make colours pulse. .pth models "
            "only. bench/temporal.py measures it (README, 'Stable video')."
        ),
    ] = _STYLIZE.clip_stats,
    temporal_blend: TemporalBlend = _STYLIZE.temporal_blend,
    style_mix: Annotated[
        Optional[str],
        typer.Option(
            "--style-mix",
            "--style",
            help="Multi-style models: which styles, e.g. starry=0.7,wave=0.3 (a blend; weights are normalised) or "
            "one name (`fasttx info` lists them; indices work too). Default: the first style.",
        ),
    ] = _STYLIZE.style,
    style_map: Annotated[
        Optional[Path],
        typer.Option(
            help="Multi-style models: a greyscale image (any size, stretched over each input) that mixes the two "
            "styles of --style-mix per pixel, black the first, white the second (a brush or a segmentation mask). "
            ".onnx models need an export with --style-map-input."
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
    skip_existing: Annotated[
        bool,
        typer.Option(
            help="Leave out inputs whose output exists (outputs are written whole or not at all, so an existing one "
            "is finished): rerun a crashed or preempted job and it does only what is left."
        ),
    ] = False,
    shard: Annotated[
        Optional[str],
        typer.Option(
            help="I/N: do only worker I's share (0-based) of N, split by a hash of each output path, so N workers "
            "(a SLURM array: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT) cover every input exactly once."
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the outputs, failures and timings as JSON on stdout.")
    ] = False,
) -> None:
    """Apply a trained style to images, folders and videos.

    Unreadable files are reported and skipped; the others are written, and the exit status is 1 if any failed.
    Outputs appear whole or not at all, never replace an input, and replace existing files only with --overwrite.
    Videos keep their frame count, frame rate, size and audio.
    """
    from fasttx.runtime.images import Shard
    from fasttx.runtime.stylize import stylize_inputs

    options = StylizeOptions(
        max_size=max_size,
        batch_size=batch_size,
        tile=tile,
        overlap=overlap,
        preserve_color=preserve_color,
        strength=strength,
        crf=crf,
        keep_partial=keep_partial,
        clip_stats=clip_stats,
        temporal_blend=temporal_blend,
        style=style_mix,
        style_map=str(style_map) if style_map else None,
    )
    report = stylize_inputs(
        model,
        inputs,
        output,
        options,
        device=device,
        overwrite=overwrite,
        console=err,
        progress=progress,
        shard=Shard.parse(shard) if shard else None,
        skip_existing=skip_existing,
    )
    done = [f"{report.images} image(s)"] if report.images or not report.videos else []
    if report.videos:
        rate = f" at {report.frames / report.seconds:.1f} frames/s" if report.seconds else ""
        done.append(f"{len(report.videos)} video(s), {report.frames} frames{rate}")
    failed = f"; [red]{len(report.failed)} failed[/]" if report.failed else ""
    skipped = f"; {report.skipped_existing} already done, skipped" if report.skipped_existing else ""
    err.print(
        f"[green]done[/]: {' and '.join(done)} in {report.seconds:.1f} s on {report.backend} ({report.device})"
        f"{failed}{skipped}"
    )
    if len(report.outputs) == 1:
        err.print(f"wrote {report.outputs[0]}")
    if as_json:
        _print_json(report.to_dict())
    if report.failed:
        raise typer.Exit(1)


@datasets_app.command("coco2014")
def coco2014(
    directory: Annotated[Path, typer.Option("--dir", help="Where to put the zip and the train2014/ photos.")] = Path(
        "datasets/coco"
    ),
    keep_zip: Annotated[bool, typer.Option(help="Keep the 13.5 GB zip after unpacking.")] = True,
) -> None:
    """Download and unpack COCO 2014 train (~83k photos, 13.5 GB); rerun to resume a broken download."""
    from fasttx.coco import COCO2014_TRAIN, download_and_extract

    folder = download_and_extract(COCO2014_TRAIN, directory, progress=True, keep_zip=keep_zip)
    err.print(f"[green]ready[/]: train with --dataset {folder}")


@app.command()
def optimize(
    content: Annotated[Path, typer.Option(help="The photo to stylize.")],
    style: Annotated[
        list[Path], typer.Option("--style", "-s", help="Style image. Repeat to mix several (see --style-mix).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image (.png, .jpg, .webp, .bmp).")],
    style_mix: Annotated[
        Optional[str], typer.Option(help="One weight per --style, comma-separated (e.g. 0.7,0.3). Default: equal.")
    ] = None,
    size: Annotated[
        int, typer.Option(help="Long side of the output in pixels (the photo is resized to it).")
    ] = OPTIMIZE.size,
    steps: Annotated[int, typer.Option(help="Optimiser steps per scale.")] = OPTIMIZE.steps,
    optimizer: Annotated[
        str, typer.Option(help="'lbfgs' (one objective evaluation per step) or 'adam'.")
    ] = OPTIMIZE.optimizer,
    lr: Annotated[
        Optional[float], typer.Option(help="Step size on the image's logits. Default: 1.0 (L-BFGS), 0.05 (Adam).")
    ] = None,
    content_weight: ContentWeight = _LOSS.content_weight,
    style_weight: StyleWeight = _LOSS.style_weight,
    tv_weight: TVWeight = _LOSS.tv_weight,
    content_layer: ContentLayer = _LOSS.content_layer,
    style_layers: StyleLayers = format_layer_weights(_LOSS.style_layers),
    robust_style: RobustStyle = _LOSS.robust,
    balance_layers: BalanceLayers = _LOSS.balance,
    style_size: Annotated[
        Optional[int],
        typer.Option(
            help=f"Long side of the style images for their Grams. Default: {STYLE_SCALE}x --size, as in training."
        ),
    ] = None,
    init: Annotated[str, typer.Option(help="Start from the 'content' photo or from uniform 'noise'.")] = OPTIMIZE.init,
    scales: Annotated[
        int, typer.Option(help="Coarse-to-fine: 2 optimises at size/2 then size; 3 at size/4, size/2, size.")
    ] = OPTIMIZE.scales,
    save_every: Annotated[int, typer.Option(help="Also write OUTPUT_stepNNNN every N steps (0: never).")] = 0,
    vgg: VggArch = _TRAIN.vgg_arch,
    vgg_weights: VggWeights = _TRAIN.vgg_weights,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = _TRAIN.device,
    seed: Annotated[int, typer.Option(help="Seed of the noise init.")] = OPTIMIZE.seed,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Stylize one photo by optimising its pixels (Gatys et al.) on the training objective; no model needed.

    Slow (seconds per step on a CPU) but the best the objective can do for this photo.
    """
    from fasttx.optimize import optimize_photo
    from fasttx.progress import progress_bar

    try:
        mix = [float(w) for w in style_mix.split(",")] if style_mix else None
    except ValueError as e:
        raise FasttxError(f"bad --style-mix {style_mix!r}; expected comma-separated numbers like 0.7,0.3") from e
    loss = _loss_config(
        content_layer, style_layers, content_weight, style_weight, tv_weight, style_size, robust_style, balance_layers
    )
    bar = progress_bar(err, enabled=progress)
    with bar:
        task = bar.add_task("optimizing", total=steps * scales, unit="steps")
        result = optimize_photo(
            content,
            style,
            output,
            loss,
            size=size,
            vgg_arch=vgg,
            vgg_weights=vgg_weights,
            device=device,
            overwrite=overwrite,
            save_every=save_every,
            steps=steps,
            optimizer=optimizer,
            lr=lr,
            init=init,
            scales=scales,
            style_mix=mix,
            seed=seed,
            callback=lambda step, objective, image: bar.update(
                task, completed=step, metrics=f"objective {objective:.4g}"
            ),
        )
    err.print(f"[green]done[/]: {output} (objective {result.history[0]:.4g} -> {result.history[-1]:.4g})")
    if as_json:
        _print_json({"output": output, "steps": len(result.history), "history": result.history})


@app.command()
def evaluate(
    model: Annotated[
        Path, typer.Option("--model", "-m", help="A trained model.pth, or an exported .onnx (onnxruntime, CPU).")
    ],
    style: Annotated[Path, typer.Option("--style", "-s", help="The style image the model was trained for.")],
    photos: Annotated[Optional[Path], typer.Option(help="A photo or a folder of photos (recursive).")] = None,
    video: Annotated[
        Optional[Path],
        typer.Option(
            help="Instead of photos, a video: how much the model flickers on it (the warping error of its frames "
            "along the input's optical flow, next to the input's own) and how much it stylises them. Needs OpenCV."
        ),
    ] = None,
    frames: Annotated[int, typer.Option(help="--video: how many of its first frames.")] = 48,
    clip_stats: Annotated[
        Optional[float], typer.Option(help="--video: stylise as `fasttx stylize --clip-stats` does.")
    ] = None,
    temporal_blend: Annotated[
        float, typer.Option(help="--video: stylise as `fasttx stylize --temporal-blend` does.")
    ] = 0.0,
    style_mix: Annotated[
        Optional[str],
        typer.Option(
            "--style-mix",
            help="Multi-style models: the style (or mix) to score, as for `fasttx stylize --style-mix`; give --style "
            "the image of that style. Default: the first style.",
        ),
    ] = None,
    strength: Annotated[
        float,
        typer.Option(
            help="Score the output as `fasttx stylize --strength` gives it: strength x stylized + (1 - strength) x "
            "photo. Lower trades style distance for content distance without retraining."
        ),
    ] = _STYLIZE.strength,
    size: Annotated[int, typer.Option(help="Long side the photos (or frames) are resized to.")] = EVAL_SIZE,
    style_size: Annotated[
        Optional[int],
        typer.Option(
            help="Long side of the style image for its Grams. Default: the style size the model was trained with "
            f"(a network paints strokes of a fixed size in pixels), else {STYLE_SCALE}x --size."
        ),
    ] = None,
    vs_optimize: Annotated[
        int,
        typer.Option(
            help="Also optimise each photo for N L-BFGS steps (Gatys, on the model's training loss) as a reference."
        ),
    ] = 0,
    report: Annotated[
        Optional[Path], typer.Option(help="Write index.html, contact_sheet.png and the images into this folder.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace the report in a non-empty --report folder.")] = False,
    vgg_weights: VggWeights = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = DEFAULT_DEVICE,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
) -> None:
    """Measure a model: content and style distances of its outputs, per photo and on average (see README).

    The unstyled photo is the baseline (content 0, style = how far a photo is from the style); --vs-optimize N
    adds Gatys optimisation as the reference. With --video: the temporal stability on a clip (README, 'Stable
    video').
    """
    from rich.table import Table

    from fasttx.evaluate import evaluate_file, evaluate_video
    from fasttx.io import check_output_folder
    from fasttx.report import write_report

    if (photos is None) == (video is None):
        raise FasttxError("give --photos (a photo or a folder) or --video (a clip), one of them")
    if video is not None:
        clip = evaluate_video(
            model,
            style,
            video,
            options=StylizeOptions(
                clip_stats=clip_stats, temporal_blend=temporal_blend, style=style_mix, strength=strength
            ),
            frames=frames,
            size=size,
            style_size=style_size,
            vgg_weights=vgg_weights,
            device=device,
        )
        table = Table(title=f"{model.name} on {clip.frames} frames of {video.name} ({clip.width}x{clip.height})")
        for column in ("frames", "warping error x 1e4", "content", "style"):
            table.add_column(column, justify="right")
        table.add_row("input (floor)", f"{clip.input_error * 1e4:.2f}", "0", f"{clip.input_style:.4f}")
        table.add_row("stylised", f"{clip.output_error * 1e4:.2f}", f"{clip.content:.4f}", f"{clip.style:.4f}")
        err.print(table)
        err.print(f"{clip.seconds_per_frame * 1000:.0f} ms per frame to stylise")
        if as_json:
            sys.stdout.write(clip.to_json() + "\n")
        return
    assert photos is not None
    if report:
        check_output_folder(report, [model, style, photos], overwrite)
    result = evaluate_file(
        model,
        style,
        photos,
        size=size,
        style_size=style_size,
        vs_optimize=vs_optimize,
        vgg_weights=vgg_weights,
        device=device,
        style_mix=style_mix,
        strength=strength,
        image_dir=report / "images" if report else None,
        console=err,
        progress=progress,
    )
    at = f" at strength {result.strength:g}" if result.strength != 1.0 else ""
    table = Table(title=f"{model.name}{at} on {len(result.rows)} photos ({result.vgg})")
    table.add_column("photo")
    kinds = list(result.means)
    for kind in kinds:
        table.add_column(f"{kind} content", justify="right")
        table.add_column(f"{kind} style", justify="right")
    for name, scores in [*((Path(r.photo).name, r.scores) for r in result.rows), ("mean", result.means)]:
        table.add_row(name, *(f"{getattr(scores[k], m):.4f}" for k in kinds for m in ("content", "style")))
    err.print(table)
    if report:
        files = write_report(result, report)
        err.print(f"[green]report[/]: {files.html} and {files.contact_sheet}")
    if as_json:
        sys.stdout.write(result.to_json() + "\n")


@app.command("export")
def export_model(
    model: Annotated[Path, typer.Argument(help="A trained model.pth.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The .onnx file to write (replaced atomically).")],
    uint8_io: Annotated[
        bool,
        typer.Option(
            "--uint8-io",
            help="uint8 NHWC RGB in and out (decoded frames as they are) instead of float32 NCHW in [0, 1].",
        ),
    ] = False,
    fp16: Annotated[
        bool, typer.Option("--fp16", help="float16 weights and compute (GPUs); I/O stays float32 or uint8.")
    ] = False,
    int8: Annotated[bool, typer.Option("--int8", help="Static int8 quantization (CPUs); needs --calibration.")] = False,
    calibration: Annotated[
        Optional[Path],
        typer.Option(help="Folder of photos whose activation ranges calibrate --int8 (the first 32 are read)."),
    ] = None,
    opset: Annotated[
        Optional[int], typer.Option(help="ONNX opset, 18 or newer. Default: fasttx.export.DEFAULT_OPSET (18).")
    ] = None,
    verify: Annotated[
        bool, typer.Option(help="Check the file against PyTorch (onnxruntime, CPU) before writing it.")
    ] = True,
    style_map_input: Annotated[
        bool,
        typer.Option(
            "--style-map-input",
            help="Multi-style models: style_weights is a per-pixel map [1, styles, h, w] (any h, w; stretched "
            "over the image) instead of one mix [styles]; a 1x1 map is one mix.",
        ),
    ] = False,
    fixed_size: Annotated[
        Optional[str],
        typer.Option(
            help="A static graph for one image of this size (WxH, N for NxN, or 720p, 1080p, ...) instead of any "
            "size: what OpenCV's DNN module (cv2.dnn.readNetFromONNX) and other runtimes without dynamic shapes "
            "load. The caller resizes or pads images to it."
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
) -> None:
    """Export a trained model to ONNX: any batch, height and width; checked against PyTorch before it is written."""
    from fasttx.export import DEFAULT_OPSET, export_onnx
    from fasttx.runtime.bench import parse_size

    if int8 != (calibration is not None):
        raise FasttxError("--int8 and --calibration DIR go together (int8 quantization is calibrated on photos)")
    fixed = None
    if fixed_size is not None:
        size = parse_size(fixed_size, "--fixed-size")
        fixed = (size.height, size.width)
    with err.status(f"exporting {model} and checking it against PyTorch"):
        report = export_onnx(
            model,
            output,
            uint8_io=uint8_io,
            fp16=fp16,
            int8_calibration=calibration,
            opset=opset or DEFAULT_OPSET,
            verify=verify,
            overwrite=overwrite,
            style_map=style_map_input,
            fixed_size=fixed,
        )
    err.print(
        f"[green]wrote[/] {report.path}: {report.variant}, {report.io} I/O, opset {report.opset}, "
        f"{report.size_bytes / 1e6:.2f} MB"
    )
    for size, diff in report.max_abs_diff.items():
        err.print(f"  {size:>9}  max |diff| {diff:.2e}  PSNR {report.psnr_db[size]:.1f} dB")
    if report.max_abs_diff:
        bound = (
            f"PSNR >= {report.tolerance:g} dB"
            if report.criterion == "psnr_db"
            else f"max |diff| <= {report.tolerance:.1e}"
        )
        err.print(f"  matches PyTorch fp32 ({bound})")
    if as_json:
        _print_json(report.to_dict())


@app.command()
def web(
    model: Annotated[Path, typer.Argument(help="An exported .onnx (fasttx export; float or uint8 I/O).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The folder to write the site into.")],
    serve: Annotated[
        bool, typer.Option(help="Then serve it on localhost (a secure context: the webcam works).")
    ] = False,
    port: Annotated[int, typer.Option(help="The port for --serve.")] = 8000,
    overwrite: Annotated[bool, typer.Option(help="Replace the site in a non-empty folder.")] = False,
) -> None:
    """Write a static page that runs the model in the browser: drop an image or start the webcam, strength slider
    (and the style mix of a multi-style model), frames/s; WebGPU where the browser has it, WASM otherwise.

    The folder holds the page, the model and onnxruntime-web (pinned, copied in; downloaded once from npm's
    registry and cached): any static host serves it, and nothing leaves the user's machine.
    """
    from fasttx.web import ORT_WEB_VERSION, build_site, check_port, server

    if serve:
        check_port(port)
    with err.status(f"writing the site (onnxruntime-web {ORT_WEB_VERSION})"):
        index = build_site(model, output, overwrite=overwrite)
    size = sum(f.stat().st_size for f in output.rglob("*") if f.is_file())
    err.print(f"[green]wrote[/] {index} ({size / 1e6:.1f} MB with the model and onnxruntime-web)")
    if serve:
        httpd = server(output, port)
        err.print(f"serving on http://localhost:{httpd.port}/ (Ctrl-C to stop)")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            httpd.server_close()


@app.command()
def webcam(
    model: Annotated[Path, typer.Option("--model", "-m", help="A trained model.pth or an exported .onnx.")],
    camera: Annotated[str, typer.Option(help="A camera index (0, 1, ...), a video file or a stream URL.")] = "0",
    size: Annotated[
        Optional[str], typer.Option(help="Ask the camera for this resolution: WxH or 480p, 720p, 1080p.")
    ] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Also record the stylised frames (H.264 .mp4).")
    ] = None,
    window: Annotated[bool, typer.Option(help="Show the frames in a window (OpenCV's GUI build).")] = True,
    frames: Annotated[Optional[int], typer.Option(help="Stop after this many frames.")] = None,
    strength: Annotated[float, typer.Option(help="How much style, 0 to 1 (keys + and - change it).")] = 1.0,
    temporal_blend: TemporalBlend = _STYLIZE.temporal_blend,
    style_mix: Annotated[
        Optional[str], typer.Option("--style-mix", "--style", help="Multi-style models: the mix (keys 1-9: one style).")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda (PyTorch) or tensorrt (.onnx).")] = DEFAULT_DEVICE,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --output file.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print frames, frames/s and size as JSON.")] = False,
) -> None:
    """Stylise a camera live: a window with frames/s (q quits), optionally recorded; any OpenCV source works."""
    from fasttx.runtime.bench import parse_size
    from fasttx.runtime.webcam import run_webcam

    wanted = None
    if size is not None:
        parsed = parse_size(size, "--size")
        wanted = (parsed.width, parsed.height)
    report = run_webcam(
        model,
        camera,
        size=wanted,
        output=output,
        window=window,
        frames=frames,
        options=StylizeOptions(strength=strength, style=style_mix, temporal_blend=temporal_blend),
        device=device,
        overwrite=overwrite,
    )
    err.print(
        f"[green]done[/]: {report.frames} frames at {report.fps:.1f} frames/s ({report.width}x{report.height})"
        + (f"; recorded {report.output}" if report.output else "")
    )
    if as_json:
        _print_json({**report.__dict__, "fps": report.fps})


@app.command()
def info(
    model: Annotated[Path, typer.Argument(help="A model.pth or an exported .onnx.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as JSON.")] = False,
) -> None:
    """Show what a model file holds: style, training recipe, I/O convention, variant, quality figures.

    The description is this command's result, so it goes to stdout (also without --json).
    """
    from fasttx.export import describe_model

    details = describe_model(model)
    if as_json:
        _print_json(details)
        return
    for key, value in details.items():
        if isinstance(value, dict):
            typer.echo(f"{key}:")
            for name, item in value.items():
                typer.echo(f"  {name}: {item if isinstance(item, str) else json.dumps(item, default=str)}")
        elif isinstance(value, list):
            typer.echo(f"{key}: " + ", ".join(f"{v['name']} {v['dtype']} {v['shape']}" for v in value))
        else:
            typer.echo(f"{key}: {value}")


@app.command()
def bench(
    models: Annotated[
        Optional[list[Path]],
        typer.Option("--model", "-m", help="A trained model.pth (or an exported .onnx); repeat to compare several."),
    ] = None,
    archs: Annotated[
        Optional[str],
        typer.Option(
            "--arch",
            help="Also time untrained architectures (speed does not depend on the weights): names, comma-separated, "
            "or 'all'. Prints each one's parameters and MACs per 720p frame.",
        ),
    ] = None,
    sizes: Annotated[
        str, typer.Option(help="Comma-separated: N (NxN), WxH, 360p, 480p, 720p, 1080p, 4k.")
    ] = BENCH.sizes,
    backends: Annotated[
        Optional[str],
        typer.Option(
            help="Comma-separated from torch, ort, ort-fp16, ort-int8, each run on every provider here. Default: torch "
            "and ort everywhere, ort-fp16 on GPUs, ort-int8 on the CPU (given an int8 file or --calibration)."
        ),
    ] = None,
    repeat: Annotated[int, typer.Option(help="Timed runs per size; the median is reported.")] = BENCH.repeat,
    warmup: Annotated[
        int, typer.Option(help="Untimed runs first (graph optimisation, autotuning, engine builds).")
    ] = BENCH.warmup,
    batch: Annotated[int, typer.Option(help="Images per run.")] = BENCH.batch,
    calibration: Annotated[
        Optional[Path],
        typer.Option(help="Photos to calibrate an int8 export when no <model>.int8.onnx sits beside the model."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as JSON on stdout.")] = False,
) -> None:
    """Measure latency and throughput per model, backend, execution provider and resolution, as one table of ratios.

    The "speedup" column divides the first row's latency at each size (the first model on its first backend,
    PyTorch eager by default) by each row's, so all ratios come from one run on one machine state. ORT variants of a
    .pth come from <model>.onnx, <model>.fp16.onnx, <model>.int8.onnx beside it, or are exported into a temporary
    folder. Warm-up runs are excluded; figures are medians and include host/device copies.

    Example: fasttx bench --arch all --sizes 256,720p,1080p --calibration photos/
    """
    from rich.table import Table

    from fasttx.runtime.bench import BenchRow, parse_archs, parse_sizes
    from fasttx.runtime.bench import bench as run_bench

    size_list = parse_sizes(sizes)
    arch_list = parse_archs(archs) if archs else []
    backend_list = [b.strip() for b in backends.split(",") if b.strip()] if backends else None

    def show(row: BenchRow) -> None:
        result = f"{row.latency_ms:.1f} ms, {row.fps:.2f} img/s" if row.error is None else f"[red]{row.error}[/]"
        err.print(f"  {row.model:<12} {row.backend:<9} {row.device:<26} {row.size:>9}  {result}", highlight=False)

    report = run_bench(
        models or [],
        size_list,
        backend_list,
        archs=arch_list,
        repeat=repeat,
        warmup=warmup,
        batch=batch,
        calibration=calibration,
        on_row=show,
    )
    sizes_table = Table(title="models")
    for name in ("model", "arch", "parameters", "GMAC per 720p frame"):
        sizes_table.add_column(name, justify="left" if name in ("model", "arch") else "right")
    for m in report.models:
        params = "?" if m.params is None else f"{m.params:,}"
        sizes_table.add_row(m.name, m.arch, params, "?" if m.gmacs_720p is None else f"{m.gmacs_720p:.2f}")
    err.print(sizes_table)
    table = Table(title=f"median of {repeat} runs, batch {batch}; speedup: vs the first row of each size")
    for name in ("model", "backend", "device", "size", "latency ms", "min ms", "images/s", "MP/s", "speedup"):
        table.add_column(name, justify="left" if name in ("model", "backend", "device") else "right")
    for row in sorted(report.rows, key=lambda r: [s.label for s in size_list].index(r.size)):
        device = row.device.removesuffix("ExecutionProvider")
        size = row.size if row.size == f"{row.width}x{row.height}" else f"{row.size} {row.width}x{row.height}"
        if row.error is not None:
            table.add_row(row.model, row.backend, device, size, f"[red]{row.error}[/]", "", "", "", "")
        else:
            numbers = (row.latency_ms, row.min_ms, row.fps, row.megapixels_per_s)
            cells = [f"{v:.1f}" if v >= 10 else f"{v:.2f}" for v in numbers]
            table.add_row(row.model, row.backend, device, size, *cells, f"{row.speedup:.1f}x")
    err.print(table)
    for note in report.skipped:
        err.print(f"[yellow]not measured[/]: {note}", highlight=False)
    if as_json:
        _print_json(report.to_dict())


def main() -> None:
    """Console entry point: user mistakes become one red line and exit status 1; Ctrl-C exits with 130, SIGTERM
    (schedulers, `timeout`, container stops) with 143, both after the half-written outputs are removed (training
    handles both itself: it checkpoints first)."""
    signal.signal(signal.SIGTERM, _terminated)
    try:
        app()
    except FasttxError as e:
        exit_with_error(e)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(130)


def _terminated(signum: int, frame: object) -> None:
    # an exception, unlike the default action, unwinds through atomic_write, which deletes its temp file
    err.print("[yellow]terminated[/]")
    raise SystemExit(128 + signum)
