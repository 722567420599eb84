"""The README's gallery: per painting, photo | fasttx | Gatys | painting on held-out photos, with the numbers.

    FASTTX_VGG_WEIGHTS=hed python bench/quality.py --styles composition_vii,great_wave --steps 1000 --gatys 100 \
        --results bench/out/gallery
    python bench/compare.py bench/out/gallery/composition_vii/fasttx bench/out/gallery/great_wave/fasttx \
        -o docs/img/gallery.jpg

Each folder is a `bench/quality.py` result (or a `fasttx evaluate --report` folder holding the same
evaluation.json and train.jsonl): its contact sheet gives the cells (`fasttx.report.contact_sheet`: one row per
held-out photo, cells of THUMB px), its evaluation.json the caption under them. Nothing is recomputed, so the
picture shows exactly the images behind the numbers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageOps

from fasttx.report import THUMB
from fasttx.report import contact_sheet_cell as cell

HEADER, CAPTION, GAP = 18, 16, 4  # px: column headings, the line under each painting's rows, between cells
COLUMNS = ("photo", "fasttx (defaults)", "Gatys (L-BFGS)", "painting")


def caption(folder: Path) -> str:
    """One line: the painting, the training budget and both methods' mean distances on the held-out photos."""
    report = json.loads((folder / "evaluation.json").read_text())
    steps = json.loads((folder / "train.jsonl").read_text().splitlines()[-1])["step"]
    means, photo = report["means"], report["means"]["photo"]["style"]
    line = f"{Path(report['style']).stem.replace('_', ' ')}, {steps} steps: fasttx content "
    line += f"{means['model']['content']:.2f}, style {means['model']['style'] / photo:.0%} of the photo's"
    if "gatys" in means:
        line += f"; Gatys ({report['vs_optimize']} steps) {means['gatys']['content']:.2f}"
        line += f", {means['gatys']['style'] / photo:.0%}"
    return line


def row_cells(sheet: Image.Image, row: int) -> list[Image.Image]:
    """A contact-sheet row's pictures without the cells' white margins (all at the photo's height; the painting
    cropped from its centre to fit)."""
    cells = [cell(sheet, row, c) for c in range(len(COLUMNS))]
    box = ImageChops.difference(cells[0], Image.new("RGB", cells[0].size, "white")).getbbox() or (0, 0, THUMB, THUMB)
    pictures = [c.crop(box) for c in cells[:-1]]
    painting = cells[-1].crop(ImageChops.difference(cells[-1], Image.new("RGB", cells[-1].size, "white")).getbbox())
    return [*pictures, ImageOps.fit(painting, pictures[0].size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", type=Path, nargs="+", help="result folders, one per painting (with Gatys)")
    parser.add_argument("--rows", default="1,3", help="held-out photos to show (rows of the contact sheets)")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()

    rows = [int(r) for r in args.rows.split(",")]
    blocks = []  # per painting: its rows of pictures, then its caption
    for folder in args.folders:
        sheet = Image.open(folder / "contact_sheet.png").convert("RGB")
        if sheet.width < len(COLUMNS) * THUMB:
            raise SystemExit(f"{folder}: its contact sheet has no Gatys column (evaluate with --gatys N)")
        blocks.append(([row_cells(sheet, row) for row in rows], caption(folder)))
    height = HEADER + sum(sum(cells[0].height + GAP for cells in block) + CAPTION for block, _ in blocks)
    figure = Image.new("RGB", (len(COLUMNS) * (THUMB + GAP), height), "white")
    draw = ImageDraw.Draw(figure)
    font = ImageFont.load_default()
    for c, heading in enumerate(COLUMNS):
        draw.text((c * (THUMB + GAP) + 4, 4), heading, fill="black", font=font)
    top = HEADER
    for block, text in blocks:
        for cells in block:
            for c, picture in enumerate(cells):
                figure.paste(picture, (c * (THUMB + GAP) + (THUMB - picture.width) // 2, top))
            top += cells[0].height + GAP
        draw.text((4, top), text, fill="black", font=font)
        top += CAPTION
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.save(args.output, quality=85)
    print(args.output)


if __name__ == "__main__":
    main()
