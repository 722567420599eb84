"""`fasttx stylize` and `webcam`: a trained style applied to files and to a camera."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from fasttx.cli.common import _STYLIZE, Progress, TemporalBlend, _print_json, app, err, refuse_given
from fasttx.config import DEFAULT_DEVICE, StylizeOptions
from fasttx.progress import format_rate

_IMAGE_ONLY = ("max_size", "batch_size", "tile", "overlap", "preserve_color", "crf", "keep_partial")
_IMAGE_ONLY += ("temporal_blend", "style_mix", "style_map", "skip_existing", "shard")


@app.command()
def stylize(
    ctx: typer.Context,
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
    griffin_lim: Annotated[
        int,
        typer.Option(
            help="Sound models: rebuild the phase with N rounds of Griffin-Lim from the input's, so that what is "
            "heard is the spectrogram the model made (16: nearly all of the gain, about a second per 10 s of sound "
            "on 2 cores). 0: the input's phase, one pass."
        ),
    ] = 0,
    progress: Progress = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the outputs, failures and timings as JSON on stdout.")
    ] = False,
) -> None:
    """Apply a trained style to images, folders and videos, or a sound model to sound files (WAV out).

    Unreadable files are reported and skipped; the others are written, and the exit status is 1 if any failed.
    Outputs appear whole or not at all, never replace an input, and replace existing files only with --overwrite.
    Videos keep their frame count, frame rate, size and audio.
    """
    from fasttx.sound.audio import is_sound

    if inputs and all(is_sound(p) or Path(p).is_dir() and _sound_folder(p) for p in inputs):
        refuse_given(ctx, _IMAGE_ONLY, "is for images and videos: sound files do not use it")
        _stylize_sounds(model, inputs, output, strength, griffin_lim, device, overwrite, as_json)
        return
    refuse_given(ctx, ("griffin_lim",), "is for sound models and sound files")
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
        rate = f" at {format_rate(report.frames / report.seconds, 'frames')}" if report.seconds else ""
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
    from fasttx.config import parse_size
    from fasttx.runtime.webcam import run_webcam

    wanted = None
    if size is not None:
        parsed = parse_size(size, "--size")
        wanted = (parsed.width, parsed.height)
    watching = f"stylizing camera {camera}" + (f" into {output}" if output else "") + " (Ctrl-C stops)"
    with err.status(watching):  # the window shows the frames; without one, this line says it is at work
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
        f"[green]done[/]: {report.frames} frames at {format_rate(report.fps, 'frames')}"
        f" ({report.width}x{report.height})" + (f"; recorded {report.output}" if report.output else "")
    )
    if as_json:
        _print_json({**report.__dict__, "fps": report.fps})


def _sound_folder(folder: str) -> bool:
    from fasttx.sound.audio import AUDIO_SUFFIXES

    return any(p.suffix.lower() in AUDIO_SUFFIXES for p in Path(folder).rglob("*"))


def _stylize_sounds(
    model: Path,
    inputs: list[str],
    output: Path,
    strength: float,
    rounds: int,
    device: str,
    overwrite: bool,
    as_json: bool,
) -> None:
    """Sound files (or folders of them) through a sound model: one WAV each, same rate, length and channels."""
    import time

    from fasttx.sound.audio import find_sounds, is_sound
    from fasttx.sound.stylize import SoundModel, stylize_sound

    sources = [s for spec in inputs for s in find_sounds(spec) if is_sound(s)]
    single = len(sources) == 1 and output.suffix.lower() == ".wav"
    with err.status(f"loading {model.name}"):
        sound_model = SoundModel(model, device)
    written, started = [], time.perf_counter()
    for source in sources:
        target = output if single else output / f"{source.stem}.wav"
        with err.status(f"stylizing {source.name}"):
            written.append(stylize_sound(sound_model, source, target, strength, overwrite, rounds))
        err.print(f"wrote {target}")
    err.print(f"[green]done[/]: {len(written)} sound(s) in {time.perf_counter() - started:.1f} s")
    if as_json:
        _print_json({"outputs": [str(p) for p in written], "seconds": time.perf_counter() - started})
