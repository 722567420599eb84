"""Training throughput: `fasttx train` vs a plain pytorch/examples-style loop, same model and losses, one run.

    python bench/train_speed.py [--photos ../shared/data/photos] [--sizes 128,256] [--steps 10] [--vgg-weights hed]
    python bench/train_speed.py --profile --sizes 256 --steps 6     # where a step's time goes, both loops

The plain loop is the pytorch/examples fast_neural_style recipe: ImageFolder-style decoding in the main process
(no workers), Resize + CenterCrop, fp32, the full VGG run on both the output and the content batch, 0-255 images.
Both use the same Johnson network and the same VGG16 weights; warm-up steps are excluded; images/s is the median
over timed windows, and the best of `--rounds` interleaved repetitions (noise on a shared machine only slows runs).
Prints a table and the fasttx/plain ratio per size (`--json` for a machine-readable copy).

`--profile` instead runs each loop once under torch.profiler and prints the milliseconds per step spent in each
labelled phase (data, VGG on the content batch, transformer forward, VGG forward for the losses, backward, optimizer),
the phases `fasttx.train` marks with record_function.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image
from torch.profiler import ProfilerActivity, profile, record_function

from fasttx.io import find_images, pil_to_tensor
from fasttx.losses import LossConfig, gram_matrix
from fasttx.nets.transformer import NetConfig, build_net
from fasttx.nets.vgg import VGGFeatures
from fasttx.train import TrainConfig, train

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def fasttx_images_per_s(photos: Path, style: Path, size: int, steps: int, batch: int, weights: str) -> float:
    """Median images/s of `fasttx train` over logged windows of 2 steps, the first window (warm-up) dropped."""
    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(
            style=[str(style)],
            dataset=str(photos),
            out=out,
            vgg_weights=weights,
            image_size=size,
            batch_size=batch,
            steps=steps,
            log_every=2,
            preview_every=10**9,
            checkpoint_every=10**9,
            onnx=False,
        )
        train(cfg, progress=False)
        records = [json.loads(line) for line in (Path(out) / "train.jsonl").read_text().splitlines()]
    return statistics.median(r["images_per_s"] for r in records[1:])


def plain_images_per_s(photos: Path, style: Path, size: int, steps: int, batch: int, weights: str) -> float:
    """The pytorch/examples loop, written out: decode in-process, full VGG on output and content, fp32."""
    paths = find_images(photos)
    loss_cfg = LossConfig()
    vgg = VGGFeatures(loss_cfg.layers, weights=weights)
    net = build_net(NetConfig())
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)

    def load(path: Path) -> torch.Tensor:
        img = Image.open(path).convert("RGB")
        scale = size / min(img.size)
        img = img.resize((max(size, round(img.width * scale)), max(size, round(img.height * scale))), Image.BILINEAR)
        left, top = (img.width - size) // 2, (img.height - size) // 2
        return pil_to_tensor(img.crop((left, top, left + size, top + size))) * 255

    style_img = load(style).unsqueeze(0).repeat(batch, 1, 1, 1)
    style_grams = {k: gram_matrix(v) for k, v in vgg(style_img / 255).items()}
    mse = torch.nn.MSELoss()
    times = []
    for step in range(steps):
        start = time.perf_counter()
        with record_function("data"):
            x = torch.stack([load(paths[(step * batch + i) % len(paths)]) for i in range(batch)])
        with record_function("transformer_forward"):
            y = net(x / 255) * 255
        with record_function("vgg_loss_forward"):  # includes the content targets: the full VGG on x as well
            features_y, features_x = vgg(y / 255), vgg(x / 255)
            content = mse(features_y[loss_cfg.content_layer], features_x[loss_cfg.content_layer])
            style = sum(mse(gram_matrix(features_y[layer]), style_grams[layer]) for layer in loss_cfg.style_layers)
            loss = 1e5 * content + 1e10 * style
        with record_function("backward"):
            optimizer.zero_grad()
            loss.backward()
        with record_function("optimizer"):
            optimizer.step()
        times.append(time.perf_counter() - start)
    windows = [sum(times[i : i + 2]) for i in range(2, len(times) - 1, 2)]  # same windows as fasttx, warm-up dropped
    return statistics.median(2 * batch / w for w in windows)


PHASES = ("data", "vgg_content_targets", "transformer_forward", "vgg_loss_forward", "backward", "optimizer")


def print_profile(args: argparse.Namespace, size: int) -> None:
    """Milliseconds per step in each phase of both loops, from torch.profiler's labelled regions."""
    columns = {}
    for name, loop in (("fasttx", fasttx_images_per_s), ("plain", plain_images_per_s)):
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            loop(args.photos, args.style, size, args.steps, args.batch_size, args.vgg_weights)
        events = {e.key: e for e in prof.key_averages()}
        columns[name] = {p: events[p].cpu_time_total / 1e3 / args.steps if p in events else 0.0 for p in PHASES}
    print(f"\n{size} px, batch {args.batch_size}, {args.steps} steps: ms per step")
    print(f"{'phase':<22} {'fasttx':>9} {'plain':>9}")
    for phase in PHASES:
        print(f"{phase:<22} {columns['fasttx'][phase]:>9.0f} {columns['plain'][phase]:>9.0f}")
    print(f"{'sum':<22} {sum(columns['fasttx'].values()):>9.0f} {sum(columns['plain'].values()):>9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=SHARED / "photos")
    parser.add_argument("--style", type=Path, default=SHARED / "styles" / "mosaic.jpg")
    parser.add_argument("--sizes", default="128,256")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions; the best of each is kept")
    parser.add_argument("--vgg-weights", default="hed")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", action="store_true", help="per-phase breakdown instead of throughput")
    args = parser.parse_args()
    if not args.photos.is_dir():
        sys.exit(f"no photos at {args.photos} (give --photos DIR)")
    if args.profile:
        for size in (int(s) for s in args.sizes.split(",")):
            print_profile(args, size)
        return

    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        ours, plain = [], []
        setting = (args.photos, args.style, size, args.steps, args.batch_size, args.vgg_weights)
        for _ in range(args.rounds):  # interleaved, best of rounds: a shared machine only ever slows a run down
            ours.append(fasttx_images_per_s(*setting))
            plain.append(plain_images_per_s(*setting))
        row = {"size": size, "fasttx_img_s": max(ours), "plain_img_s": max(plain), "ratio": max(ours) / max(plain)}
        rows.append(row)
    if args.json:
        print(json.dumps({"device": "cpu", "threads": torch.get_num_threads(), "rows": rows}, indent=2))
        return
    print(f"{'size':>6} {'fasttx img/s':>13} {'plain img/s':>12} {'ratio':>6}")
    for r in rows:
        print(f"{r['size']:>6} {r['fasttx_img_s']:>13.2f} {r['plain_img_s']:>12.2f} {r['ratio']:>6.2f}")


if __name__ == "__main__":
    main()
