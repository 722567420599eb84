"""`fasttx evaluate`, `optimize` and `bench`: how good and how fast a model is, and the per-photo reference."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from fasttx.cli.common import (
    _LOSS,
    _STYLIZE,
    _TRAIN,
    ContentLayer,
    ContentWeight,
    Progress,
    StyleLayers,
    StyleWeight,
    TVWeight,
    VggArch,
    VggWeights,
    _print_json,
    app,
    err,
)
from fasttx.config import (
    BENCH,
    DEFAULT_DEVICE,
    EVAL_SIZE,
    OPTIMIZE,
    STYLE_SCALE,
    LossConfig,
    StylizeOptions,
    format_layer_weights,
    parse_layer_weights,
)
from fasttx.errors import FasttxError


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
    sounds: Annotated[
        Optional[Path],
        typer.Option(help="For a sound model: a sound file or a folder of them, scored by independent encoders."),
    ] = None,
    frames: Annotated[int, typer.Option(help="--video: how many of its first frames.")] = 48,
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
    progress: Progress = True,
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

    if sounds is not None:
        _evaluate_sounds(model, style, sounds, strength, vs_optimize, as_json)
        return
    if (photos is None) == (video is None):
        raise FasttxError("give --photos (a photo or a folder), --video (a clip) or --sounds, one of them")
    if video is not None:
        clip = evaluate_video(
            model,
            style,
            video,
            options=StylizeOptions(temporal_blend=temporal_blend, style=style_mix, strength=strength),
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
    progress: Progress = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Stylize one photo by optimising its pixels (Gatys et al.) on the training objective; no model needed. A
    sound as --content: its spectrogram is optimised towards one --style sound (Adam, the sound recipe's weights).

    Slow (seconds per step on a CPU) but the best the objective can do for this photo.
    """
    from fasttx.optimize import optimize_photo
    from fasttx.progress import progress_bar
    from fasttx.sound.audio import is_sound

    if is_sound(content):
        from fasttx.sound.measure import OPTIMIZE_LR, optimize_sound

        if len(style) != 1:
            raise FasttxError("a sound is optimised towards one --style sound")
        with progress_bar(err, enabled=progress) as bar:
            task = bar.add_task("optimizing", total=steps, unit="steps")
            written = optimize_sound(
                content, style[0], output, steps, lr or OPTIMIZE_LR, overwrite, lambda n: bar.update(task, completed=n)
            )
        err.print(f"[green]done[/]: wrote {written}")
        if as_json:
            _print_json({"output": str(written), "steps": steps})
        return

    try:
        mix = [float(w) for w in style_mix.split(",")] if style_mix else None
    except ValueError as e:
        raise FasttxError(f"bad --style-mix {style_mix!r}; expected comma-separated numbers like 0.7,0.3") from e
    loss = LossConfig(
        content_layer=content_layer,
        style_layers=parse_layer_weights(style_layers),
        content_weight=content_weight,
        style_weight=style_weight,
        tv_weight=tv_weight,
        style_size=style_size,
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

    from fasttx.config import parse_sizes
    from fasttx.runtime.bench import BenchRow, parse_archs
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


def _evaluate_sounds(model: Path, style: Path, sounds: Path, strength: float, vs_optimize: int, as_json: bool) -> None:
    from rich.table import Table

    from fasttx.sound.measure import evaluate_sounds

    with err.status("scoring") as status:
        result = evaluate_sounds(
            model, style, sounds, strength, vs_optimize, on_sound=lambda name: status.update(f"scoring {name}")
        )
    table = Table(title=f"{model.name} on {len(result['rows'])} sounds (0: same as the reference)")
    columns = ["sound", "input style", "content", "style"] + ["optimised content", "optimised style"] * bool(
        vs_optimize
    )
    for column in columns:
        table.add_column(column, justify="right")
    for row in [*result["rows"], {"sound": "mean", **result["means"]}]:
        optimized = row.get("optimized") or {}
        cells = [row["input_style"], row["content"], row["style"], *(optimized.get(k) for k in ("content", "style"))]
        table.add_row(row["sound"], *(f"{v:.4f}" for v in cells if v is not None))
    err.print(table)
    if as_json:
        _print_json(result)
