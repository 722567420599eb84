"""Pack a trained network as the one fasttx ships, fasttx/bases/NAME.pth: ready styles by name (`--model NAME`)
and the base that `fasttx train --init base` starts from.

The base is an ordinary multi-style model, trained from scratch on a few paintings, stored at half precision (the
weights only seed a training run; 3.4 MB for johnson instead of 6.7) with how it was made. The shipped one:

    FASTTX_VGG_WEIGHTS=hed python bench/quality.py --styles starry_night+candy+udnie+la_muse \
        --recipes fasttx:init=scratch --steps 4000 --models /tmp/base
    python bench/base.py /tmp/base/starry_night+candy+udnie+la_muse/fasttx+init=scratch/model.pth \
        --made-by "bench/quality.py --styles starry_night+candy+udnie+la_muse --steps 4000 ..."

Styles it was trained on are no longer held out when judging the defaults (README, "How the defaults were chosen").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from fasttx.modelfile import SHIPPED, load_model, save_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="a trained model.pth (trained with --init scratch)")
    parser.add_argument("--name", required=True, help="what users call it: fasttx stylize --model NAME")
    parser.add_argument("--made-by", default="", help="the command that trained it, kept in the metadata")
    args = parser.parse_args()
    net, meta = load_model(args.model)
    half = net.half()
    out = save_model(
        half,
        SHIPPED / f"{args.name}.pth",
        {"styles": meta.get("styles", []), "steps": meta.get("steps"), "made_by": args.made_by, "base_of": "--init"},
    )
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB, {net.styles} styles {meta.get('styles')}")
    reloaded, _ = load_model(out)
    assert all(p.dtype == torch.float32 for p in reloaded.parameters())  # the training run gets float32 weights


if __name__ == "__main__":
    main()
