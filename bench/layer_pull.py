"""Why the style layers are balanced: each layer's Gram error on unstyled training crops, and its pull on the pixels.

    python bench/layer_pull.py --style ../shared/data/styles/starry_night.jpg [--photos ../shared/data/photos]

Prints, per VGG layer, the mean relative Gram error of 16 training crops against the style (as trained: style
at 2x the crop size) and the mean norm of its gradient with respect to the crop's pixels, then the factors
`fasttx.losses.measure_layer_scales` derives from them. With equal weights the layer with the largest gradient
sets the direction of every update (see README, How the defaults were chosen).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from fasttx.data import PhotoFolder
from fasttx.io import load_image
from fasttx.losses import LossConfig, PerceptualLoss, gram_errors, measure_layer_scales, resize_style
from fasttx.nets.vgg import VGGFeatures
from fasttx.train import calibration_crops

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", type=Path, default=SHARED / "styles" / "starry_night.jpg")
    parser.add_argument("--photos", type=Path, default=SHARED / "photos")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--vgg-weights", default="hed")
    parser.add_argument("--layers", default="relu1_2,relu2_2,relu3_3,relu4_3")
    args = parser.parse_args()

    loss = LossConfig(style_layers={name: 1.0 for name in args.layers.split(",")})
    vgg = VGGFeatures(loss.layers, weights=args.vgg_weights)
    objective = PerceptualLoss(vgg, [resize_style(load_image(args.style), 2 * args.image_size)], loss)
    crops = calibration_crops(PhotoFolder(args.photos, args.image_size), seed=0)
    scales = measure_layer_scales(objective, crops)
    pixels = crops.clone().requires_grad_(True)
    features = vgg(pixels)
    print(f"{args.style.name}, {len(crops)} crops of {args.image_size} px, VGG {vgg.weights_source}")
    print(f"{'layer':8s} {'Gram error':>10s} {'|d error / d pixels|':>22s} {'balance factor':>15s}")
    for layer in loss.style_layers:
        errors = gram_errors(features[layer], objective.style_grams[layer])
        (grad,) = torch.autograd.grad(errors.sum(), pixels, retain_graph=True)
        norm = float(grad.flatten(1).norm(dim=1).mean())
        print(f"{layer:8s} {float(errors.detach().mean()):10.3f} {norm:22.4f} {scales[layer]:15.3f}")


if __name__ == "__main__":
    main()
