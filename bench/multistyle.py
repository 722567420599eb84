"""What a multi-style network gives an app: pure styles, blends, per-pixel mixes, and their cost.

    FASTTX_VGG_WEIGHTS=hed python bench/multistyle.py --model models/multi/model.pth [--pair 0,1] \
        [--results bench/out/multistyle/NAME]

For two of the network's styles A and B (`--pair`, indices or names):
  - mixing_strip.jpg: photo | A | 75/25 | 50/50 | 25/75 | B on a held-out Kodak photo (bench/quality.py's);
  - spatial_mix.jpg: photo | the mask (black: A, white: B) | the per-pixel mix;
  - the style distance (`fasttx evaluate`'s, against the style at its training size) of each mix to A and to B on
    the held-out photos, next to the photo's: a blend should sit between the pure outputs on both;
  - the ONNX latency at 720p of this network and of a one-style network of the same architecture (onnxruntime,
    CPU, median of --repeat), and the bytes a style adds.
Writes results.json and table.md into --results, and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw

from fasttx.config import parse_size, parse_style_mix
from fasttx.evaluate import METRIC, evaluate_model, trained_style_size
from fasttx.io import open_rgb, pil_to_tensor, resize_long_side
from fasttx.modelfile import load_model, save_model
from fasttx.nets.transformer import build_net
from fasttx.nets.vgg import VGGFeatures, default_weights_source
from fasttx.pixels import images_to_frames, resize
from fasttx.runtime.bench import bench

sys.path.insert(0, str(Path(__file__).parent))
from quality import HELD_OUT, SHARED  # noqa: E402  (the held-out photos of the quality bench)

MIXES = (1.0, 0.75, 0.5, 0.25, 0.0)  # A's share; B has the rest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="a multi-style model.pth")
    parser.add_argument("--pair", default="0,1", help="the two styles to mix: indices or names")
    parser.add_argument("--size", type=int, default=256, help="long side of the photos")
    parser.add_argument("--photo", default="kodak_kodim07.jpg", help="the photo of the pictures")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "out" / "multistyle")
    args = parser.parse_args()
    net, meta = load_model(args.model)
    net.eval()
    names = meta.get("styles") or [Path(s).stem for s in meta["train_config"]["style"]]
    if net.styles < 2:
        raise SystemExit(f"{args.model} has one style; this bench is for multi-style networks")
    pair = [_style_name(text.strip(), names) for text in args.pair.split(",")]
    a, b = (torch.tensor(parse_style_mix(name, names)) for name in pair)
    style_files = dict(zip(names, meta["train_config"]["style"], strict=True))
    args.results.mkdir(parents=True, exist_ok=True)

    def mix(share: float) -> torch.Tensor:
        return (share * a + (1 - share) * b)[None]

    photo = pil_to_tensor(resize_long_side(open_rgb(SHARED / "photos" / args.photo), args.size))[None]
    with torch.no_grad():
        strip = [photo] + [net(photo, mix(share)).clamp(0, 1) for share in MIXES]
        mask = torch.linspace(0, 1, photo.shape[-1]).expand(1, 1, *photo.shape[-2:])  # left A, right B
        spatial = net(photo, (a[:, None, None] * (1 - mask[0]) + b[:, None, None] * mask[0])[None])
    labels = ["photo", pair[0], "75/25", "50/50", "25/75", pair[1]]
    _sheet(strip, labels, args.results / "mixing_strip.jpg")
    _sheet(
        [photo, mask.expand(1, 3, -1, -1), spatial.clamp(0, 1)],
        ["photo", "mask", "per-pixel mix"],
        args.results / "spatial_mix.jpg",
    )

    vgg = VGGFeatures(METRIC.layers, weights=default_weights_source())
    photos = [SHARED / "photos" / name for name in HELD_OUT if (SHARED / "photos" / name).is_file()]
    distances: dict[str, dict[str, float]] = {}
    for name in pair:
        style = style_files[name]
        size = trained_style_size(meta) or 2 * args.size
        for share, label in zip(MIXES, labels[1:], strict=True):
            weights = mix(share)
            report = evaluate_model(lambda x, w=weights: net(x, w), style, photos, vgg, size=args.size, style_size=size)
            distances.setdefault(label, {})[name] = report.means["model"].style
            distances.setdefault("photo", {})[name] = report.means["photo"].style

    # a one-style network of the same architecture (untrained: its latency and size are what matter)
    twin = build_net(replace(net.config, styles=1)).eval()
    single = save_model(twin, args.results / "one_style.pth", {})
    timing = bench([args.model, single], [parse_size("720p", "--sizes")], ["ort"], repeat=args.repeat, warmup=1)
    latency = {
        ("one style" if row.model == str(single) else f"{net.styles} styles"): row.latency_ms for row in timing.rows
    }
    per_style = (_parameters(net) - _parameters(twin)) // (net.styles - 1)
    params = {
        "styles": net.styles,
        "style_parameters": per_style,
        "shared_parameters": _parameters(twin) - per_style,
        "model_bytes": args.model.stat().st_size,
    }
    single.unlink()
    results = {
        "model": str(args.model),
        "pair": pair,
        "style_distance": distances,
        "latency_720p_ms": latency,
        **params,
    }
    (args.results / "results.json").write_text(json.dumps(results, indent=1))
    table = _table(results, labels)
    (args.results / "table.md").write_text(table)
    print(table)


def _style_name(text: str, names: list[str]) -> str:
    if text in names:
        return text
    if text.isdigit() and int(text) < len(names):
        return names[int(text)]
    raise SystemExit(f"no style {text!r}; the model's styles are {', '.join(names)}")


def _parameters(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _sheet(images: list[torch.Tensor], labels: list[str], path: Path) -> None:
    height = 192
    tiles = [resize(image, (height, round(image.shape[-1] * height / image.shape[-2]))) for image in images]
    frames = [Image.fromarray(images_to_frames(t)[0].numpy()) for t in tiles]
    sheet = Image.new("RGB", (sum(f.width for f in frames) + 4 * (len(frames) - 1), height + 18), "white")
    draw, x = ImageDraw.Draw(sheet), 0
    for frame, label in zip(frames, labels, strict=True):
        sheet.paste(frame, (x, 18))
        draw.text((x + 2, 3), label, fill="black")
        x += frame.width + 4
    sheet.save(path, quality=88)


def _table(results: dict[str, Any], labels: list[str]) -> str:
    a, b = results["pair"]
    rows = ["| output | style distance to " + a + " | to " + b + " |", "|---|---|---|"]
    for label in ["photo", *labels[1:]]:
        d = results["style_distance"][label]
        rows.append(f"| {label} | {d[a]:.3f} | {d[b]:.3f} |")
    latency = " / ".join(f"{k} {v:.0f} ms" for k, v in results["latency_720p_ms"].items())
    rows.append("")
    rows.append(
        f"ONNX at 720p (onnxruntime, CPU): {latency}. {results['styles']} styles; a style is "
        f"{results['style_parameters']} numbers ({results['style_parameters'] * 4 / 1024:.1f} KB fp32), the "
        f"shared convolutions {results['shared_parameters']}; model.pth {results['model_bytes'] / 1e6:.2f} MB."
    )
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    main()
