"""How streaky a model's edit is: the orientation balance of what it adds to the held-out photos.

    python bench/streaks.py --style mosaic models/a/model.pth models/b/model.pth

A painting's brushwork goes every way; a network that learnt a shortcut draws fine parallel streaks. For each model
this prints, per held-out photo of the quality bench (at the judge's size), the energy of the edit's (output minus
photo) differences along x over those along y: 1 for an edit with no preferred orientation, 10 for one whose
changes run 10x more across the columns (vertical streaks), 0.1 for horizontal ones. The painting's own ratio is
printed for reference (Mosaic 1.14, Feathers 1.10, Rain Princess 1.21, Starry Night 0.74 on its swirling sky).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from fasttx.config import EVAL_SIZE
from fasttx.io import load_image, open_rgb, pil_to_tensor, resize_long_side
from fasttx.modelfile import load_model

sys.path.insert(0, str(Path(__file__).parent))
from quality import HELD_OUT, SHARED  # noqa: E402  (the held-out photos of the quality bench)


def orientation_ratio(image: torch.Tensor) -> float:
    """Mean squared difference between horizontal neighbours over that between vertical ones, of [..., H, W]."""
    along_x = image.diff(dim=-1).pow(2).mean()
    along_y = image.diff(dim=-2).pow(2).mean()
    return float(along_x / along_y.clamp_min(1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", required=True, help="a painting's name in ../shared/data/styles")
    parser.add_argument("models", nargs="+", type=Path, help="model.pth files")
    args = parser.parse_args()
    paths = [SHARED / "photos" / name for name in HELD_OUT if (SHARED / "photos" / name).is_file()]
    photos = [pil_to_tensor(resize_long_side(open_rgb(p), EVAL_SIZE)).unsqueeze(0) for p in paths]
    painting = next((SHARED / "styles").glob(f"{args.style}.*"))
    print(f"painting {args.style}: {orientation_ratio(load_image(painting)):.2f}")
    print("| model | " + " | ".join(p.stem for p in paths) + " | mean |")
    print("|---|" + "---|" * (len(paths) + 1))
    for path in args.models:
        net, _ = load_model(path)
        with torch.no_grad():
            ratios = [orientation_ratio(net(photo).clamp(0, 1) - photo) for photo in photos]
        cells = " | ".join(f"{r:.2f}" for r in ratios)
        print(f"| {path} | {cells} | {sum(ratios) / len(ratios):.2f} |", flush=True)


if __name__ == "__main__":
    main()
