"""The README's gallery: per painting, photo | fasttx | Gatys | painting on held-out photos, with the numbers.

    FASTTX_VGG_WEIGHTS=hed python bench/quality.py --styles composition_vii,great_wave --steps 1000 --gatys 100 \
        --results bench/out/gallery
    python bench/compare.py bench/out/gallery/composition_vii/fasttx bench/out/gallery/great_wave/fasttx \
        -o docs/img/gallery.jpg

Each folder is a `bench/quality.py` result (or a `fasttx evaluate --report` folder holding the same
evaluation.json and train.jsonl): its contact sheet gives the cells (`fasttx.report.contact_sheet`: one row per
held-out photo, cells of THUMB px), its evaluation.json the caption under them. FOLDER=GATYS takes the Gatys column
from another evaluation of the same painting and photos (Gatys does not depend on the model). Nothing is
recomputed, so the picture shows exactly the images behind the numbers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageOps

from fasttx.report import THUMB
from fasttx.report import contact_sheet_cell as cell

HEADER, CAPTION, GAP = 18, 16, 4  # px: column headings, the line under each painting's rows, between cells
COLUMNS = ("photo", "fasttx (defaults)", "Gatys (L-BFGS)", "painting")


def caption(folder: Path, gatys_folder: Path) -> str:
    """One line: the painting, the training budget and both methods' mean distances on the held-out photos."""
    report, gatys = (json.loads((f / "evaluation.json").read_text()) for f in (folder, gatys_folder))
    steps = json.loads((folder / "train.jsonl").read_text().splitlines()[-1])["step"]
    model, photo = report["means"]["model"], report["means"]["photo"]["style"]
    line = f"{Path(report['style']).stem.replace('_', ' ')}, {steps} steps: fasttx content "
    line += f"{model['content']:.2f}, style {model['style'] / photo:.0%} of the photo's"
    line += f"; Gatys ({gatys['vs_optimize']} steps) {gatys['means']['gatys']['content']:.2f}"
    return line + f", {gatys['means']['gatys']['style'] / photo:.0%}"


def row_cells(sheet: Image.Image, gatys: Image.Image, row: int) -> list[Image.Image]:
    """A contact-sheet row's pictures without the cells' white margins (all at the photo's height; the painting
    cropped from its centre to fit)."""
    cells = [cell(sheet, row, 0), cell(sheet, row, 1), cell(gatys, row, 2), cell(gatys, row, 3)]
    pictures = [c.crop(picture_box(c)) for c in cells]
    return [*pictures[:-1], ImageOps.fit(pictures[-1], pictures[0].size)]


def picture_box(image: Image.Image) -> tuple[int, int, int, int]:
    """Where the picture is in a cell: the rows and columns that are mostly not white (a label under it is not)."""
    ink = np.asarray(ImageChops.difference(image, Image.new("RGB", image.size, "white")).convert("L")) > 8
    rows, columns = np.flatnonzero(ink.mean(axis=1) > 0.5), np.flatnonzero(ink.mean(axis=0) > 0.5)
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


def figure(headings: list[str], blocks: list[tuple[list[list[Image.Image]], list[str]]], output: Path) -> None:
    """Write a figure: a heading per column, then per block its rows of pictures (centred in THUMB-wide columns)
    and a line of captions under them, one per column from the left."""
    height = HEADER + sum(sum(row[0].height + GAP for row in rows) + CAPTION for rows, _ in blocks)
    image = Image.new("RGB", (len(headings) * (THUMB + GAP), height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for c, heading in enumerate(headings):
        draw.text((c * (THUMB + GAP) + 4, 4), heading, fill="black", font=font)
    top = HEADER
    for rows, captions in blocks:
        for row in rows:
            for c, picture in enumerate(row):
                image.paste(picture, (c * (THUMB + GAP) + (THUMB - picture.width) // 2, top))
            top += row[0].height + GAP
        for c, text in enumerate(captions):
            draw.text((c * (THUMB + GAP) + 4, top), text, fill="black", font=font)
        top += CAPTION
    output.parent.mkdir(parents=True, exist_ok=True)
    image.save(output, quality=85)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", help="result folders, one per painting: FOLDER or FOLDER=GATYS_FOLDER")
    parser.add_argument("--rows", default="1,3", help="held-out photos to show (rows of the contact sheets)")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()

    rows = [int(r) for r in args.rows.split(",")]
    blocks = []  # per painting: its rows of pictures, then its caption
    for spec in args.folders:
        folder, _, other = spec.partition("=")
        folder, gatys_folder = Path(folder), Path(other or folder)
        sheet, gatys = (Image.open(f / "contact_sheet.png").convert("RGB") for f in (folder, gatys_folder))
        if gatys.width < len(COLUMNS) * THUMB:
            raise SystemExit(f"{gatys_folder}: its contact sheet has no Gatys column (evaluate with --gatys N)")
        blocks.append(([row_cells(sheet, gatys, row) for row in rows], caption(folder, gatys_folder)))
    figure(list(COLUMNS), [(block, [text]) for block, text in blocks], args.output)
    print(args.output)


if __name__ == "__main__":
    main()
