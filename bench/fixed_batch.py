"""Can the network fit a style at all? Train it on ONE fixed batch of training crops and print the distances.

    python bench/fixed_batch.py --style candy --content-weight 0.05 --steps 200
    python bench/fixed_batch.py --style candy --content-weight 3 --steps 200

The default recipe's network, loss terms, head rate and Adam; a fixed content
weight (no target) so the trade-off is set by hand, and a 50-step warm-up. If the network fits the style on four
fixed photos in a few hundred steps but not on the training folder in a thousand, what limits a real run is how
fast it generalises over photos, not what the network or the objective can express (bench/out/study/README.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from fasttx.config import LossConfig, NetConfig
from fasttx.data import PhotoFolder
from fasttx.device import amp_dtype, autocast
from fasttx.io import load_image
from fasttx.losses import PerceptualLoss, resize_style
from fasttx.nets.transformer import build_net
from fasttx.nets.vgg import VGGFeatures
from fasttx.train import TrainConfig, lr_at, param_groups

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="candy")
    parser.add_argument("--content-weight", type=float, default=0.05)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--vgg-weights", default="hed")
    args = parser.parse_args()
    torch.manual_seed(0)
    device = torch.device("cpu")
    photos_folder = PhotoFolder(SHARED / "photos", args.image_size)
    photos = torch.stack([photos_folder[(i, i)][0] for i in (3, 50, 100, 150)])
    loss = LossConfig(content_weight=args.content_weight, content_target=None)
    vgg = VGGFeatures(loss.layers, weights=args.vgg_weights)
    style_path = SHARED / "styles" / f"{args.style}.jpg"
    schedule = TrainConfig(style=[str(style_path)], dataset=str(SHARED / "photos"), lr=args.lr, warmup=50)
    style = resize_style(load_image(style_path), 2 * args.image_size)
    objective = PerceptualLoss(vgg, [style], loss)
    net = build_net(NetConfig())
    optimizer = torch.optim.Adam(param_groups(net, None), lr=args.lr)
    content = objective.content_targets(photos)
    started = time.perf_counter()
    for step in range(args.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(schedule, step) * group["lr_scale"]
        with autocast(device, amp_dtype(device)):
            terms = objective(net(photos), content)
        optimizer.zero_grad()
        terms["total"].backward()
        optimizer.step()
        if step == 0 or (step + 1) % 25 == 0:
            with torch.no_grad():
                d = objective.distances(net(photos).clamp(0, 1), content)
            row = {"step": step + 1, "content": float(d["content"]), "style": float(d["style"])}
            print(json.dumps(row), flush=True)
    seconds = time.perf_counter() - started
    print(json.dumps({"style": args.style, "content_weight": args.content_weight, "seconds": seconds}))


if __name__ == "__main__":
    main()
