"""Side-by-side pictures for the README: photo | fasttx | Gatys | pytorch/examples recipe | painting, per style.

    python bench/compare.py --style starry_night --rows 2,3 -o bench/results/compare/starry_night.jpg

Cut from the contact sheets that `bench/quality.py` keeps (`fasttx.report.contact_sheet`: one row per held-out
photo, cells of THUMB px): the fasttx run evaluated with `--gatys N` gives the photo, model, Gatys and style
cells (or, with --gatys-from, another run's sheet the Gatys and style cells); the pytorch/examples run, where
there is one, its model cell. Nothing is recomputed, so the picture shows
exactly the images behind the numbers in the README.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from fasttx.report import THUMB, contact_sheet_cell as cell

RESULTS = Path(__file__).resolve().parent / "results" / "quality"
HEADER = 18  # px for the column headings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", required=True)
    parser.add_argument("--fasttx", default="fasttx", help="recipe folder of the fasttx run (evaluated with --gatys)")
    parser.add_argument("--gatys-from", help="folder (under the style) of another sheet with the Gatys column")
    parser.add_argument("--examples", default="examples", help="recipe folder of the pytorch/examples run")
    parser.add_argument("--rows", default="2,3", help="held-out photos to show (rows of the contact sheets)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()

    ours = Image.open(args.results / args.style / args.fasttx / "contact_sheet.png").convert("RGB")
    gatys = Image.open(args.results / args.style / args.gatys_from / "contact_sheet.png").convert("RGB") if args.gatys_from else ours
    examples_sheet = args.results / args.style / args.examples / "contact_sheet.png"
    examples = Image.open(examples_sheet).convert("RGB") if examples_sheet.is_file() else None
    columns = ["photo", "fasttx (defaults)", "Gatys (L-BFGS)"] + ["pytorch/examples"] * (examples is not None) + ["painting"]
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
