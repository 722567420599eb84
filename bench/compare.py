"""Side-by-side pictures for the README: photo | fasttx | Gatys | pytorch/examples recipe | painting, per style.

    python bench/compare.py --fasttx bench/out/quality/great_wave/fasttx \
        --examples bench/out/quality/great_wave/examples \
        -o bench/out/compare/great_wave.jpg

Cut from the contact sheets that `bench/quality.py` keeps (`fasttx.report.contact_sheet`: one row per held-out
photo, cells of THUMB px): the fasttx run gives the photo and model cells, a run evaluated with `--gatys N` (the
same run, or `--gatys DIR`) the Gatys and style cells, the pytorch/examples run, where there is one, its model cell.
Nothing is recomputed, so the picture shows
exactly the images behind the numbers in the README.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from fasttx.report import THUMB
from fasttx.report import contact_sheet_cell as cell

HEADER = 18  # px for the column headings


def sheet(folder: Path) -> Image.Image | None:
    """The contact sheet a bench/quality.py run keeps in `folder` (PNG, or JPEG in the committed results)."""
    for name in ("contact_sheet.png", "contact_sheet.jpg"):
        if (folder / name).is_file():
            return Image.open(folder / name).convert("RGB")
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fasttx", type=Path, required=True, help="results folder of the fasttx run")
    parser.add_argument(
        "--gatys", type=Path, help="results folder whose sheet has the Gatys column (default: --fasttx)"
    )
    parser.add_argument("--examples", type=Path, help="results folder of the pytorch/examples run")
    parser.add_argument("--rows", default="2,3", help="held-out photos to show (rows of the contact sheets)")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()

    ours = sheet(args.fasttx)
    gatys = sheet(args.gatys) if args.gatys else ours
    examples = sheet(args.examples) if args.examples else None
    if ours is None or gatys is None:
        raise SystemExit(f"no contact sheet in {args.fasttx} / {args.gatys}")
    columns = (
        ["photo", "fasttx (defaults)", "Gatys (L-BFGS)"] + ["pytorch/examples"] * (examples is not None) + ["painting"]
    )
    rows = [int(r) for r in args.rows.split(",")]
    gap = 4
    figure = Image.new("RGB", (len(columns) * (THUMB + gap), HEADER + len(rows) * (THUMB + gap)), "white")
    draw = ImageDraw.Draw(figure)
    for c, heading in enumerate(columns):
        draw.text((c * (THUMB + gap) + 4, 4), heading, fill="black", font=ImageFont.load_default())
    for r, row in enumerate(rows):
        cells = [cell(ours, row, 0), cell(ours, row, 1), cell(gatys, row, 2)]
        if examples is not None:
            cells.append(cell(examples, row, 1))
        cells.append(cell(gatys, row, 3))
        for c, image in enumerate(cells):
            figure.paste(image, (c * (THUMB + gap), HEADER + r * (THUMB + gap)))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.save(args.output, quality=85)
    print(args.output)


if __name__ == "__main__":
    main()
