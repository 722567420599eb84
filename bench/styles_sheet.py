"""Every style of a multi-style network on the same held-out photos: the picture of what a network offers.

    python bench/styles_sheet.py paintings -o docs/img/ready_styles.jpg     # a shipped name or a model.pth

Top row: each style's painting (from ../shared/data/styles, by the style's name); below, one row per photo: the
photo, then the network's output for each style (one pass each, PyTorch on the CPU, at --size px long side).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont, ImageOps

from fasttx.io import load_image, tensor_to_pil
from fasttx.modelfile import load_model
from fasttx.nets.transformer import one_style

sys.path.insert(0, str(Path(__file__).parent))
from quality import HELD_OUT, SHARED  # noqa: E402  (the held-out photos of the quality bench)

CELL, GAP, LABEL = 160, 4, 14  # px


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a shipped network's name or a multi-style model.pth")
    parser.add_argument("--photos", default="kodak_kodim14.jpg,kodak_kodim19.jpg", help="held-out photos, by name")
    parser.add_argument("--size", type=int, default=384, help="long side the photos are stylised at")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()

    net, meta = load_model(args.model)
    names = meta.get("styles") or [meta.get("style_name", "style")]
    photos = [SHARED / "photos" / name for name in args.photos.split(",")]
    assert all(name in HELD_OUT for name in args.photos.split(",")), "show held-out photos only"
    paintings = [Image.open(next((SHARED / "styles").glob(f"{name}.*"))).convert("RGB") for name in names]
    rows: list[list[Image.Image]] = [paintings]
    for photo in photos:
        image = load_image(photo, max_size=args.size)
        with torch.no_grad():
            outputs = [net(image[None], one_style(i, net.styles)).clamp(0, 1)[0] for i in range(net.styles)]
        rows.append([tensor_to_pil(image), *(tensor_to_pil(out) for out in outputs)])

    columns = len(names) + 1
    height = LABEL + len(rows) * (CELL + GAP)
    figure = Image.new("RGB", (columns * (CELL + GAP), height), "white")
    draw = ImageDraw.Draw(figure)
    font = ImageFont.load_default()
    for c, name in enumerate(["photo", *names]):
        draw.text((c * (CELL + GAP) + 2, 1), name.replace("_", " ")[:26], fill="black", font=font)
    for r, row in enumerate(rows):
        offset = 0 if r else 1  # the paintings' row leaves the photo column empty
        for c, picture in enumerate(row):
            figure.paste(ImageOps.fit(picture, (CELL, CELL)), ((c + offset) * (CELL + GAP), LABEL + r * (CELL + GAP)))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.save(args.output, quality=85)
    print(args.output)


if __name__ == "__main__":
    main()
