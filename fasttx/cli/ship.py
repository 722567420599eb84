"""`fasttx export`, `info` and `web`: a trained model as a file to ship, what a model file holds, a web page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from fasttx.cli.common import _print_json, app, err, refuse_given
from fasttx.errors import FasttxError

_IMAGE_EXPORT = ("uint8_io", "fp16", "int8", "calibration", "opset", "verify", "style_map_input", "fixed_size")


@app.command("export")
def export_model(
    ctx: typer.Context,
    model: Annotated[Path, typer.Argument(help="A trained model.pth (an image or a sound model).")],
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
    """Export a trained model to ONNX: any batch, height and width (a sound model: any number of frames); checked
    against PyTorch before it is written."""
    from fasttx.config import parse_size
    from fasttx.export import DEFAULT_OPSET, export_onnx
    from fasttx.modelfile import model_kind

    if model_kind(model) == "sound":
        from fasttx.sound.export import export_sound

        refuse_given(ctx, _IMAGE_EXPORT, "is for image models: a sound model exports as it is")
        with err.status(f"exporting {model} and checking it against PyTorch"):
            path = export_sound(model, output, overwrite=overwrite)
        err.print(f"[green]wrote[/] {path}: a sound model, {path.stat().st_size / 1e6:.2f} MB, matches PyTorch")
        if as_json:
            _print_json({"path": str(path), "kind": "sound", "size_bytes": path.stat().st_size})
        return

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
            opset=DEFAULT_OPSET if opset is None else opset,
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
def info(
    model: Annotated[
        Optional[Path], typer.Argument(help="A model.pth, an exported .onnx or a shipped name. None: what ships.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as JSON.")] = False,
) -> None:
    """Show what a model file holds: style, training recipe, I/O convention, variant, quality figures; without a
    model, the networks that ship with fasttx (use one by name: fasttx stylize --model NAME --style STYLE).

    The description is this command's result, so it goes to stdout (also without --json).
    """
    from fasttx.export import describe_model
    from fasttx.modelfile import shipped_models

    if model is None:
        shipped = {name: describe_model(path) for name, path in shipped_models().items()}
        if as_json:
            _print_json(shipped)
        else:
            for name, details in shipped.items():
                typer.echo(f"{name}: {details['styles']} ({details['size_bytes'] / 1e6:.1f} MB)")
        return
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
