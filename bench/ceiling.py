"""What the objective itself allows: Gatys optimisation of held-out photos at several content weights.

    FASTTX_VGG_WEIGHTS=hed python bench/ceiling.py --style starry_night --content-weights 1,0.3,0.1 \
        --photos kodak_kodim01.jpg,kodak_kodim14.jpg --out bench/out/study/ceiling/starry_night

A feed-forward network trained on the default objective can at best reach what optimising each photo's pixels
reaches (the Gatys reference of `fasttx evaluate --vs-optimize`). Lowering the content weight walks that ceiling
along the content-style trade-off, so the strip shows how much content distance a look costs before any network
is trained: the photo | the optimum at each content weight | the painting, with the judge's distances under each
image, and `ceiling.json` the numbers (per photo, and the means over the photos as `fasttx evaluate` reports them).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

from PIL import Image, ImageDraw

from fasttx.config import EVAL_SIZE
from fasttx.evaluate import METRIC, evaluate_model
from fasttx.losses import LossConfig
from fasttx.nets.vgg import VGGFeatures
from fasttx.report import THUMB, thumbnail

sys.path.insert(0, str(Path(__file__).parent))
from quality import SHARED  # noqa: E402

LABEL = 16  # px of text under each picture


def strip(rows: list[list[tuple[str, str]]], painting: Path) -> Image.Image:
    """One row per photo of (image path, label) cells, then the painting; each row as tall as its pictures."""
    pictures = [[thumbnail(Image.open(path)) for path, _ in [*row, (str(painting), "")]] for row in rows]
    heights = [max(p.height for p in row) + LABEL + 4 for row in pictures]
    sheet = Image.new("RGB", ((len(rows[0]) + 1) * (THUMB + 4), sum(heights)), "white")
    draw = ImageDraw.Draw(sheet)
    top = 0
    for row, row_pictures, height in zip(rows, pictures, heights, strict=True):
        for c, ((_, label), picture) in enumerate(zip([*row, ("", "painting")], row_pictures, strict=True)):
            sheet.paste(picture, (c * (THUMB + 4), top))
            draw.text((c * (THUMB + 4), top + height - LABEL - 2), label, fill="black")
        top += height
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", required=True, help="a painting's name in ../shared/data/styles")
    parser.add_argument("--content-weights", default="1,0.3,0.1", help="comma-separated content weights")
    parser.add_argument("--photos", default="kodak_kodim01.jpg,kodak_kodim14.jpg", help="names in shared photos")
    parser.add_argument("--steps", type=int, default=100, help="L-BFGS steps per photo")
    parser.add_argument("--size", type=int, default=EVAL_SIZE)
    parser.add_argument(
        "--style-size", type=int, help="the style's long side (default: 2x --size; 256 judges as the 128 px models are)"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    painting = next((SHARED / "styles").glob(f"{args.style}.*"))
    photos = [SHARED / "photos" / name for name in args.photos.split(",")]
    vgg = VGGFeatures(sorted(set(METRIC.layers) | set(LossConfig().layers)))
    args.out.mkdir(parents=True, exist_ok=True)
    results, cells = [], [[] for _ in photos]
    for weight in [float(w) for w in args.content_weights.split(",")]:
        objective = replace(LossConfig(), content_weight=weight, content_target=None)
        report = evaluate_model(
            lambda image: image,  # the "model" row is the photo itself; the Gatys row is the point of the study
            painting,
            photos,
            vgg,
            size=args.size,
            style_size=args.style_size,
            vs_optimize=args.steps,
            optimize_loss=objective,
            image_dir=args.out / f"content_weight_{weight:g}",
        )
        means = report.means
        per_photo = {Path(row.photo).name: asdict(row.scores["gatys"]) for row in report.rows}
        results.append(
            {
                "content_weight": weight,
                "photo": asdict(means["photo"]),
                "gatys": asdict(means["gatys"]),
                "rows": per_photo,
            }
        )
        print(json.dumps({k: v for k, v in results[-1].items() if k != "rows"}), flush=True)
        for i, row in enumerate(report.rows):
            if not cells[i]:
                cells[i].append((row.images["photo"], "photo"))
            score = row.scores["gatys"]
            ratio = score.style / row.scores["photo"].style
            cells[i].append((row.images["gatys"], f"w {weight:g}: {score.content:.2f} / {ratio:.0%}"))
    (args.out / "ceiling.json").write_text(
        json.dumps({"style": str(painting), "steps": args.steps, "style_size": report.style_size, "runs": results})
    )
    strip(cells, painting).save(args.out / "ceiling.jpg", quality=85)


if __name__ == "__main__":
    main()
