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
from fasttx.errors import FasttxError, exit_with_error

if TYPE_CHECKING:
    from fasttx.losses import LossConfig
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


# The objective's options, shared by `train` and `optimize` (one objective, one set of defaults: LossConfig's,
# repeated here as literals so --help stays fast; tests/test_losses.py checks they agree).
ContentWeight = Annotated[float, typer.Option(help="alpha: weight of the content term (relative feature error).")]
StyleWeight = Annotated[float, typer.Option(help="beta: weight of the style term (relative Gram error).")]
TVWeight = Annotated[float, typer.Option(help="Weight of the total-variation smoothness term.")]
ContentLayer = Annotated[str, typer.Option(help="VGG layer for the content term.")]
StyleLayers = Annotated[str, typer.Option(help="VGG layers for the style term, NAME[:WEIGHT] comma-separated.")]
RobustStyle = Annotated[
    bool,
    typer.Option(
        "--robust-style/--plain-style",
        help="Count each photo's Gram error per layer as log(1 + error), so photos far from the style do not drown the rest.",
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
VggArch = Annotated[str, typer.Option(help="Perceptual network: vgg16 or vgg19.")]
VggWeights = Annotated[
    Optional[str],
    typer.Option(help="VGG weights: torchvision, hed, random, or a .pth/.h5 file. Default: $FASTTX_VGG_WEIGHTS or torchvision."),
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
    warmup: Annotated[int, typer.Option(help="Steps of linear learning-rate warm-up.")] = 0,
    ema: Annotated[
        float, typer.Option(help="Save the moving average of the weights with this decay (0: the last weights).")
    ] = 0.999,
    content_weight: ContentWeight = 1.0,
    style_weight: StyleWeight = 1.0,
    tv_weight: TVWeight = 0.0,
    content_layer: ContentLayer = "relu2_2",
    style_layers: StyleLayers = "relu1_2,relu2_2,relu3_3,relu4_3",
    robust_style: RobustStyle = False,
    balance_layers: BalanceLayers = True,
    style_size: Annotated[
        Optional[int], typer.Option(help="Long side of the style image for its Gram targets. Default: 2x --image-size.")
    ] = None,
    arch: Annotated[str, typer.Option(help="Transformation network architecture.")] = "johnson",
    output_mode: Annotated[
        str,
        typer.Option(
            "--output",
            help="'additive' (an edit added to the photo's pixels, clamped; keeps content from step one), 'residual' "
            "(an edit of the photo's logits; saturates into blobs on short runs) or 'direct' (paint from scratch, as "
            "pytorch/examples).",
        ),
    ] = "additive",
    vgg: VggArch = "vgg16",
    vgg_weights: VggWeights = None,
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
    amp: Annotated[bool, typer.Option(help="Mixed precision: bf16/fp16 on CUDA, bf16 on CPUs that run it natively (AVX512-BF16, AMX).")] = True,
    compile_: Annotated[
        bool,
        typer.Option(
            "--compile/--no-compile",
            help="torch.compile the transformer and VGG: a minute or two of compiling, then faster steps (for long GPU runs; needs a C++ compiler on CPU).",
        ),
    ] = False,
    workers: Annotated[Optional[int], typer.Option(help="DataLoader worker processes. Default: 0 on CPU (cores compute), min(4, cores-1) on GPU.")] = None,
    resume: Annotated[
        Optional[Path], typer.Option(help="Continue the run in this folder (or from this checkpoint.pt) exactly where it stopped.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Start afresh even if the output folder holds a previous run.")] = False,
    onnx: Annotated[bool, typer.Option(help="Also export model.onnx at the end (checked against PyTorch).")] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Train a style network on a folder of photos.

    Writes model.pth, checkpoint.pt, train.jsonl and previews/ into the output folder. Ctrl-C saves a checkpoint;
    [bold]--resume FOLDER[/] continues exactly where it stopped. Offline? Set FASTTX_VGG_WEIGHTS (see README).
    """
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
            loss=_loss_config(
                content_layer, style_layers, content_weight, style_weight, tv_weight, style_size, robust_style, balance_layers
            ),
            vgg_arch=vgg,
            vgg_weights=vgg_weights,
            image_size=image_size,
            batch_size=batch_size,
            steps=steps,
            epochs=epochs,
            lr=lr,
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
            onnx=onnx,
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


def _loss_config(
    content_layer: str,
    style_layers: str,
    content_weight: float,
    style_weight: float,
    tv_weight: float,
    style_size: int | None,
    robust_style: bool,
    balance_layers: bool,
) -> "LossConfig":
    from fasttx.losses import LossConfig, parse_layer_weights

    return LossConfig(
        content_layer=content_layer,
        style_layers=parse_layer_weights(style_layers),
        content_weight=content_weight,
        style_weight=style_weight,
        tv_weight=tv_weight,
        style_size=style_size,
        robust=robust_style,
        balance=balance_layers,
    )


def _run_training(cfg: "TrainConfig", resume: bool, progress: bool, as_json: bool) -> None:
    from fasttx.train import Interrupted
    from fasttx.train import train as run_training

    try:
        result = run_training(cfg, resume=resume, progress=progress, console=err)
    except Interrupted as stopped:
        err.print(f"[yellow]{stopped}[/]")
        raise typer.Exit(stopped.exit_code) from None
    err.print(f"[green]done[/]: {result.steps} steps; model {result.model}; previews in {result.out / 'previews'}")
    if result.skipped_files:
        err.print(f"[yellow]{result.skipped_files} unreadable training images were skipped[/]")
    if as_json:
        _print_json(
            {"out": result.out, "model": result.model, "steps": result.steps, "metrics": result.last_metrics, "skipped_files": result.skipped_files}
        )


@app.command()
def stylize(
    inputs: Annotated[
        list[str],
        typer.Argument(help="Images, videos (mp4 mov mkv webm avi gif), folders (recursive) or quoted globs like 'photos/*.jpg'."),
    ],
    model: Annotated[Path, typer.Option("--model", "-m", help="A trained model.pth (PyTorch) or an exported .onnx (onnxruntime).")],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o",
            help="One image or video in and a file name with its kind of suffix: that file. Otherwise a folder: folders are "
            "mirrored under it, images keep their format, videos become H.264 (GIF, WebM and AVI inputs become .mp4).",
        ),
    ],
    device: Annotated[
        str, typer.Option(help="auto, cpu, cuda, mps (PyTorch) or tensorrt (.onnx; builds an engine per frame size first).")
    ] = "auto",
    max_size: Annotated[Optional[int], typer.Option(help="Downscale so the long side is at most this many pixels (images and videos).")] = None,
    batch_size: Annotated[int, typer.Option(help="Video frames, same-size images or tiles per network call.")] = 4,
    tile: Annotated[
        Optional[int],
        typer.Option(help="Run images in NxN tiles that share one set of InstanceNorm statistics (no seams); for images too large for memory. .pth models only."),
    ] = None,
    overlap: Annotated[int, typer.Option(help="Pixels neighbouring tiles share, blended with linear weights.")] = 32,
    preserve_color: Annotated[
        bool, typer.Option("--preserve-color", help="Keep the photo's colours: take only the luminance (Y of YCbCr) from the style.")
    ] = False,
    strength: Annotated[
        float, typer.Option(help="How much style, 0 to 1: the output is strength x stylized + (1 - strength) x photo, per pixel.")
    ] = 1.0,
    crf: Annotated[int, typer.Option(help="H.264 quality for videos: 0 lossless, 18 visually lossless, 23 x264's default.")] = 18,
    overwrite: Annotated[bool, typer.Option(help="Replace existing output files.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outputs, failures and timings as JSON on stdout.")] = False,
) -> None:
    """Apply a trained style to images, folders and videos.

    Unreadable files are reported and skipped; the others are written, and the exit status is 1 if any failed.
    Outputs appear whole or not at all, never replace an input, and replace existing files only with --overwrite.
    Videos keep their frame count, frame rate, size and audio.
    """
    from fasttx.runtime.stylize import StylizeOptions, stylize_inputs

    options = StylizeOptions(
        max_size=max_size, batch_size=batch_size, tile=tile, overlap=overlap, preserve_color=preserve_color,
        strength=strength, crf=crf,
    )
    report = stylize_inputs(model, inputs, output, options, device=device, overwrite=overwrite, console=err, progress=progress)
    done = [f"{report.images} image(s)"] if report.images or not report.videos else []
    if report.videos:
        rate = f" at {report.frames / report.seconds:.1f} frames/s" if report.seconds else ""
        done.append(f"{len(report.videos)} video(s), {report.frames} frames{rate}")
    failed = f"; [red]{len(report.failed)} failed[/]" if report.failed else ""
    err.print(f"[green]done[/]: {' and '.join(done)} in {report.seconds:.1f} s on {report.backend} ({report.device}){failed}")
    if len(report.outputs) == 1:
        err.print(f"wrote {report.outputs[0]}")
    if as_json:
        _print_json(report.to_dict())
    if report.failed:
        raise typer.Exit(1)


@datasets_app.command("coco2014")
def coco2014(
    directory: Annotated[Path, typer.Option("--dir", help="Where to put the zip and the train2014/ photos.")] = Path("datasets/coco"),
    keep_zip: Annotated[bool, typer.Option(help="Keep the 13.5 GB zip after unpacking.")] = True,
) -> None:
    """Download and unpack COCO 2014 train (~83k photos, 13.5 GB); rerun to resume a broken download."""
    from fasttx.coco import COCO2014_TRAIN, download_and_extract

    folder = download_and_extract(COCO2014_TRAIN, directory, progress=True, keep_zip=keep_zip)
    err.print(f"[green]ready[/]: train with --dataset {folder}")


@app.command()
def optimize(
    content: Annotated[Path, typer.Option(help="The photo to stylize.")],
    style: Annotated[list[Path], typer.Option("--style", "-s", help="Style image. Repeat to mix several (see --style-mix).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image (.png, .jpg, .webp, .bmp).")],
    style_mix: Annotated[
        Optional[str], typer.Option(help="One weight per --style, comma-separated (e.g. 0.7,0.3). Default: equal.")
    ] = None,
    size: Annotated[int, typer.Option(help="Long side of the output in pixels (the photo is resized to it).")] = 512,
    steps: Annotated[int, typer.Option(help="Optimiser steps per scale.")] = 300,
    optimizer: Annotated[str, typer.Option(help="'lbfgs' (one objective evaluation per step) or 'adam'.")] = "lbfgs",
    lr: Annotated[Optional[float], typer.Option(help="Step size on the image's logits. Default: 1.0 (L-BFGS), 0.05 (Adam).")] = None,
    content_weight: ContentWeight = 1.0,
    style_weight: StyleWeight = 1.0,
    tv_weight: TVWeight = 0.0,
    content_layer: ContentLayer = "relu2_2",
    style_layers: StyleLayers = "relu1_2,relu2_2,relu3_3,relu4_3",
    robust_style: RobustStyle = False,
    balance_layers: BalanceLayers = True,
    style_size: Annotated[
        Optional[int], typer.Option(help="Long side of the style images for their Grams. Default: 2x --size, as in training.")
    ] = None,
    init: Annotated[str, typer.Option(help="Start from the 'content' photo or from uniform 'noise'.")] = "content",
    scales: Annotated[int, typer.Option(help="Coarse-to-fine: 2 optimises at size/2 then size; 3 at size/4, size/2, size.")] = 1,
    save_every: Annotated[int, typer.Option(help="Also write OUTPUT_stepNNNN every N steps (0: never).")] = 0,
    vgg: VggArch = "vgg16",
    vgg_weights: VggWeights = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of the noise init.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Stylize one photo by optimising its pixels (Gatys et al.) on the training objective; no model needed.

    Slow (seconds per step on a CPU) but the best the objective can do for this photo.
    """
    from fasttx.device import pick_device
    from fasttx.io import load_image, open_rgb, pil_to_tensor, resize_long_side, save_image
    from fasttx.losses import resize_style
    from fasttx.nets.vgg import VGGFeatures
    from fasttx.optimize import optimize_image
    from fasttx.train import progress_bar

    if output.exists() and not overwrite:
        raise FasttxError(f"{output} exists; pass --overwrite to replace it")
    if output.resolve() == content.resolve():
        raise FasttxError(f"output {output} would overwrite its input")
    try:
        mix = [float(w) for w in style_mix.split(",")] if style_mix else None
    except ValueError as e:
        raise FasttxError(f"bad --style-mix {style_mix!r}; expected comma-separated numbers like 0.7,0.3") from e
    loss = _loss_config(
        content_layer, style_layers, content_weight, style_weight, tv_weight, style_size, robust_style, balance_layers
    )
    dev = pick_device(device)
    photo = pil_to_tensor(resize_long_side(open_rgb(content), size))
    styles = [resize_style(load_image(path), style_size or 2 * size) for path in style]
    features = VGGFeatures(loss.layers, arch=vgg, weights=vgg_weights).to(dev)
    bar = progress_bar(err, enabled=progress)

    def on_step(step: int, objective: float, image: Any) -> None:
        bar.update(task, completed=step, metrics=f"objective {objective:.4g}")
        if save_every and step % save_every == 0:
            save_image(image, output.with_name(f"{output.stem}_step{step:04d}{output.suffix}"))

    with bar:
        task = bar.add_task("optimizing", total=steps * scales, metrics="")
        result = optimize_image(
            photo, styles, features, loss, steps=steps, optimizer=optimizer, lr=lr, init=init, scales=scales,
            style_mix=mix, callback=on_step, seed=seed,
        )
    save_image(result.image, output)
    err.print(f"[green]done[/]: {output} (objective {result.history[0]:.4g} -> {result.history[-1]:.4g})")
    if as_json:
        _print_json({"output": output, "steps": len(result.history), "history": result.history})


@app.command()
def evaluate(
    model: Annotated[Path, typer.Option("--model", "-m", help="A trained model.pth, or an exported .onnx (onnxruntime, CPU).")],
    style: Annotated[Path, typer.Option("--style", "-s", help="The style image the model was trained for.")],
    photos: Annotated[Path, typer.Option(help="A photo or a folder of photos (recursive).")],
    size: Annotated[int, typer.Option(help="Long side the photos are resized to.")] = 256,
    style_size: Annotated[
        Optional[int],
        typer.Option(
            help="Long side of the style image for its Grams. Default: the style size the model was trained with "
            "(a network paints strokes of a fixed size in pixels), else 2x --size."
        ),
    ] = None,
    vs_optimize: Annotated[
        int, typer.Option(help="Also optimise each photo for N L-BFGS steps (Gatys, on the model's training loss) as a reference.")
    ] = 0,
    report: Annotated[Optional[Path], typer.Option(help="Write index.html, contact_sheet.png and the images into this folder.")] = None,
    vgg_weights: VggWeights = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or mps.")] = "auto",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
) -> None:
    """Measure a model: content and style distances of its outputs, per photo and on average (see README).

    The unstyled photo is the baseline (content 0, style = how far a photo is from the style); --vs-optimize N
    adds Gatys optimisation as the reference.
    """
    from rich.table import Table

    from fasttx.device import pick_device
    from fasttx.evaluate import METRIC, evaluate_model, load_stylizer, trained_style_size
    from fasttx.io import find_images
    from fasttx.losses import LossConfig
    from fasttx.nets.vgg import VGGFeatures
    from fasttx.report import write_report
    from fasttx.train import progress_bar

    if not photos.exists():
        raise FasttxError(f"no such photo or folder: {photos}")
    paths = find_images(photos)
    if not paths:
        raise FasttxError(f"no images found in {photos}")
    dev = pick_device(device)
    stylizer, meta = load_stylizer(model, dev)
    trained = meta.get("train_config", {}).get("loss")
    objective = LossConfig.from_dict(trained) if trained else METRIC
    features = VGGFeatures(sorted(set(METRIC.layers) | set(objective.layers)), weights=vgg_weights).to(dev)
    bar = progress_bar(err, enabled=progress)
    with bar:
        task = bar.add_task("evaluating", total=len(paths), metrics="")
        result = evaluate_model(
            stylizer, style, paths, features, size=size, style_size=style_size or trained_style_size(meta),
            vs_optimize=vs_optimize,
            optimize_loss=objective, image_dir=report / "images" if report else None, model_name=str(model),
            callback=lambda photo: bar.update(task, advance=1, metrics=Path(photo).name),
        )
    table = Table(title=f"{model.name} on {len(result.rows)} photos ({result.vgg})")
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
        bool, typer.Option("--uint8-io", help="uint8 NHWC RGB in and out (decoded frames as they are) instead of float32 NCHW in [0, 1].")
    ] = False,
    fp16: Annotated[bool, typer.Option("--fp16", help="float16 weights and compute (GPUs); I/O stays float32 or uint8.")] = False,
    int8: Annotated[bool, typer.Option("--int8", help="Static int8 quantization (CPUs); needs --calibration.")] = False,
    calibration: Annotated[
        Optional[Path], typer.Option(help="Folder of photos whose activation ranges calibrate --int8 (the first 32 are read).")
    ] = None,
    opset: Annotated[Optional[int], typer.Option(help="ONNX opset, 18 or newer. Default: fasttx.export.DEFAULT_OPSET (18).")] = None,
    verify: Annotated[bool, typer.Option(help="Check the file against PyTorch (onnxruntime, CPU) before writing it.")] = True,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
) -> None:
    """Export a trained model to ONNX: any batch, height and width; checked against PyTorch before it is written."""
    from fasttx.export import DEFAULT_OPSET, export_onnx

    if int8 != (calibration is not None):
        raise FasttxError("--int8 and --calibration DIR go together (int8 quantization is calibrated on photos)")
    with err.status(f"exporting {model} and checking it against PyTorch"):
        report = export_onnx(
            model, output, uint8_io=uint8_io, fp16=fp16, int8_calibration=calibration, opset=opset or DEFAULT_OPSET,
            verify=verify, overwrite=overwrite,
        )
    err.print(f"[green]wrote[/] {report.path}: {report.variant}, {report.io} I/O, opset {report.opset}, {report.size_bytes / 1e6:.2f} MB")
    for size, diff in report.max_abs_diff.items():
        err.print(f"  {size:>9}  max |diff| {diff:.2e}  PSNR {report.psnr_db[size]:.1f} dB")
    if report.max_abs_diff:
        bound = f"PSNR >= {report.tolerance:g} dB" if report.criterion == "psnr_db" else f"max |diff| <= {report.tolerance:.1e}"
        err.print(f"  matches PyTorch fp32 ({bound})")
    if as_json:
        _print_json(report.to_dict())


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
    sizes: Annotated[str, typer.Option(help="Comma-separated: N (NxN), WxH, 360p, 480p, 720p, 1080p, 4k.")] = "256,512,720p,1080p",
    backends: Annotated[
        Optional[str],
        typer.Option(
            help="Comma-separated from torch, ort, ort-fp16, ort-int8, each run on every provider here. Default: torch "
            "and ort everywhere, ort-fp16 on GPUs, ort-int8 on the CPU (given an int8 file or --calibration)."
        ),
    ] = None,
    repeat: Annotated[int, typer.Option(help="Timed runs per size; the median is reported.")] = 5,
    warmup: Annotated[int, typer.Option(help="Untimed runs first (graph optimisation, autotuning, engine builds).")] = 2,
    batch: Annotated[int, typer.Option(help="Images per run.")] = 1,
    calibration: Annotated[
        Optional[Path], typer.Option(help="Photos to calibrate an int8 export when no <model>.int8.onnx sits beside the model.")
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

    from fasttx.runtime.bench import BenchRow, bench as run_bench, parse_archs, parse_sizes

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
    """Console entry point: user mistakes become one red line and exit status 1; Ctrl-C exits with 130."""
    try:
        app()
    except FasttxError as e:
        exit_with_error(e)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(130)
