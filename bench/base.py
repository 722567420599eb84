"""Pack a trained network as the one fasttx ships, fasttx/bases/NAME.pth: ready styles by name (`--model NAME`)
and the base that `fasttx train --init base` starts from.

The network is an ordinary multi-style model, stored at half precision (3.4 MB for johnson instead of 6.7; loaded
back as float32) with how it was made. The shipped one, `paintings`, six public-domain paintings trained from the
previous shipped network (`--init base`, each style from the nearest of its four):

    FASTTX_VGG_WEIGHTS=hed python bench/quality.py --recipes fasttx --steps 2000,4000 --models /tmp/ready \
        --styles starry_night+udnie+mondrian+sakai_hoitsu_flowering_tree+cezanne_still_life+contrast_of_forms
    python bench/base.py /tmp/ready/starry_night+udnie+...+contrast_of_forms/fasttx/model.pth --name paintings \
        --made-by "bench/quality.py --styles starry_night+udnie+... --steps 4000"

Its styles are no longer held out when judging the defaults (docs/ablation.md holds out others).
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
