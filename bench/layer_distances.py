"""Where a model's style distance is left: the quality bench's judge, split per style layer.

    FASTTX_VGG_WEIGHTS=hed python bench/layer_distances.py --style mosaic models/a/model.pth models/b/model.pth

`fasttx evaluate` reports the sum over relu1_2 ... relu4_3 of the relative Gram errors (fasttx.evaluate.METRIC);
this prints each term, on the quality bench's held-out photos at the judge's size, for the unstyled photos and for
each model, so a study can say which statistics a recipe moved (the palette in relu1_2, the strokes in the deep
layers). The totals equal `bench/quality.py`'s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from fasttx.config import EVAL_SIZE
from fasttx.evaluate import METRIC, trained_style_size
from fasttx.io import load_image, open_rgb, pil_to_tensor, resize_long_side
from fasttx.losses import PerceptualLoss, gram_errors, relative_error, resize_style
from fasttx.modelfile import load_model
from fasttx.nets.vgg import VGGFeatures

sys.path.insert(0, str(Path(__file__).parent))
from quality import HELD_OUT, SHARED  # noqa: E402  (the held-out photos of the quality bench)


def layer_distances(
    images: list[torch.Tensor], targets: list[torch.Tensor], metric: PerceptualLoss
) -> dict[str, float]:
    """Mean over the photos of the content distance and of each style layer's relative Gram error (the judge's
    terms: `metric` is built on fasttx.evaluate.METRIC; `targets` are the photos' content features)."""
    grams = metric.style_grams
    totals = dict.fromkeys(["content", *grams], 0.0)
    for image, target in zip(images, targets, strict=True):
        features = metric.vgg(image)
        totals["content"] += float(relative_error(features[METRIC.content_layer], target))
        for layer, gram in grams.items():
            totals[layer] += float(gram_errors(features[layer], gram))
    return {key: value / len(images) for key, value in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", required=True, help="a painting's name in ../shared/data/styles")
    parser.add_argument("models", nargs="+", type=Path, help="model.pth files trained on that style")
    args = parser.parse_args()
    style_path = next((SHARED / "styles").glob(f"{args.style}.*"))
    paths = [SHARED / "photos" / name for name in HELD_OUT if (SHARED / "photos" / name).is_file()]
    photos = [pil_to_tensor(resize_long_side(open_rgb(p), EVAL_SIZE)).unsqueeze(0) for p in paths]
    vgg = VGGFeatures(METRIC.layers).eval()
    models = [load_model(path) for path in args.models]
    # The photos are judged against the style at the first model's training size, as bench/quality.py does.
    style = resize_style(load_image(style_path), trained_style_size(models[0][1]) or 2 * EVAL_SIZE)
    metric = PerceptualLoss(vgg, [style], METRIC)
    rows: dict[str, dict[str, float]] = {}
    with torch.no_grad():
        targets = [metric.content_targets(photo) for photo in photos]
        rows["photo"] = layer_distances(photos, targets, metric)
        for path, (net, _) in zip(args.models, models, strict=True):
            rows[str(path)] = layer_distances([net.eval()(p).clamp(0, 1) for p in photos], targets, metric)
    layers = list(METRIC.style_layers)
    print(f"| model | content | style | {' | '.join(layers)} |")
    print("|---" * (3 + len(layers)) + "|")
    for name, d in rows.items():
        cells = [
            f"{d['content']:.3f}",
            f"{sum(d[layer] for layer in layers):.3f}",
            *(f"{d[layer]:.3f}" for layer in layers),
        ]
        print(f"| {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
