"""How much does a model flicker? The warping error (fasttx.temporal) of trained models on clips with known motion.

    python bench/temporal.py --model plain=models/starry/model.pth --model trained=models/starry-video/model.pth \
        [--blend 0.5] [--frames 24] [--size 256] [--results bench/out/temporal/NAME]

Every model runs as it is ("<label>") and with the previous output carried along the input's
optical flow ("<label>+blend", fasttx.runtime.flow_blend at --blend, the flow estimated as `fasttx stylize
--temporal-blend` does; the error is still measured along the exact motion) on:
  - synthetic clips: each held-out Kodak photo (bench/quality.py's) filmed still, panning, zooming and rotating,
    with per-frame noise and JPEG compression; the motion is exact;
  - the shared clips (../shared/data/video: fox.mp4, big_buck_bunny_10s.mp4), their first --frames frames, the
    motion estimated by OpenCV's DIS flow with an occlusion check (needs opencv-python-headless).
Reported per clip kind: the warping error of the outputs and of the input frames (the floor), and for the
synthetic clips the content and style distances of four frames spread over each clip (`fasttx evaluate`'s; not
the first, which has no past to blend), so stability bought by stylising less shows. Also the cost per 720p frame
of fox.mp4 of each remedy beside the network's own (interleaved repeats, medians: the ratio holds on a busy CPU).
Writes results.json, table.md, per_frame.png (the error of every frame pair of one pan clip
and of fox.mp4; needs matplotlib: pip install -e '.[bench]') and side_by_side_<clip>.mp4 (input | each variant)
into --results.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch

from fasttx.evaluate import METRIC, trained_style_size
from fasttx.io import load_image
from fasttx.losses import PerceptualLoss, resize_style
from fasttx.modelfile import load_model
from fasttx.nets.vgg import VGGFeatures, default_weights_source
from fasttx.pixels import frames_to_images, images_to_frames
from fasttx.runtime.flow_blend import FlowBlend
from fasttx.runtime.video import read_frames
from fasttx.temporal import Clip, estimate_flows, synthetic_clip, warping_error

sys.path.insert(0, str(Path(__file__).parent))
from quality import HELD_OUT, SHARED  # noqa: E402  (the held-out photos of the quality bench)

MOTIONS = ("still", "pan", "zoom", "rotate")
REAL_CLIPS = ("fox.mp4", "big_buck_bunny_10s.mp4")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="LABEL=model.pth (or a path: its folder)")
    parser.add_argument("--blend", type=float, default=0.5, help="--temporal-blend weight of the +blend variant")
    parser.add_argument("--remedies", default="blend", help="blend: also run each model with the flow blend; '': not")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", type=int, default=256, help="long side of the clips' frames")
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "out" / "temporal")
    parser.add_argument("--no-real", action="store_true", help="skip the shared clips (no OpenCV)")
    args = parser.parse_args()
    torch.manual_seed(0)
    models = dict(_label(spec) for spec in args.model)
    clips = _synthetic_clips(args.frames, args.size)
    if not args.no_real:
        clips.update(_real_clips(args.frames, args.size))
    vgg = VGGFeatures(METRIC.layers, weights=default_weights_source())
    rows: list[dict[str, Any]] = []
    outputs: dict[str, dict[str, torch.Tensor]] = {}
    for label, path in models.items():
        net, meta = load_model(path)
        net.eval()
        style = resize_style(load_image(meta["train_config"]["style"][0]), trained_style_size(meta) or 2 * args.size)
        metric = PerceptualLoss(vgg, [style], METRIC)
        variants = {label: 0.0, f"{label}+blend": args.blend}
        for variant, blend in variants.items():
            if variant != label and variant.split("+")[-1] not in args.remedies.split(","):
                continue
            per_kind: dict[str, list[float]] = {}
            distances: list[tuple[float, float]] = []
            for name, clip in clips.items():
                out = _stylise(net, clip.frames, blend)
                outputs.setdefault(name, {"input": clip.frames})[variant] = out
                error = warping_error(out, clip.flows, clip.masks)
                per_kind.setdefault(_kind(name), []).append(float(error.mean()))
                rows.append({"model": variant, "clip": name, "error": error.tolist()})
                if not name.startswith("real"):
                    with torch.no_grad():
                        picked = [len(out) // 4, len(out) // 2, 3 * len(out) // 4, len(out) - 1]
                        d = metric.distances(out[picked], metric.content_targets(clip.frames[picked]))
                    distances.append((float(d["content"]), float(d["style"])))
            rows.append(
                {
                    "model": variant,
                    "summary": {k: float(np.mean(v)) for k, v in per_kind.items()},
                    "content": float(np.mean([c for c, _ in distances])),
                    "style": float(np.mean([s for _, s in distances])),
                }
            )
    floor: dict[str, list[float]] = {}
    for name, clip in clips.items():
        floor.setdefault(_kind(name), []).append(float(warping_error(clip.frames, clip.flows, clip.masks).mean()))
    args.results.mkdir(parents=True, exist_ok=True)
    summary = {"input": {k: float(np.mean(v)) for k, v in floor.items()}}
    summary.update({row["model"]: row for row in rows if "summary" in row})
    net, _ = load_model(next(iter(models.values())))
    costs = _costs(net.eval(), args.blend) if not args.no_real else {}
    (args.results / "results.json").write_text(
        json.dumps(
            {
                "args": vars(args) | {"results": str(args.results)},
                "summary": summary,
                "ms_per_720p_frame": costs,
                "rows": rows,
            },
            indent=1,
        )
    )
    table = _table(summary)
    if costs:
        table += (
            "\nms per 720p frame (fox.mp4, one at a time, medians): "
            + ", ".join(f"{name} {ms:.0f}" for name, ms in costs.items())
            + "\n"
        )
    (args.results / "table.md").write_text(table)
    print(table)
    _plot(rows, summary, args.results / "per_frame.png")
    _side_by_side(outputs, args.results)


def _label(spec: str) -> tuple[str, Path]:
    label, sep, path = spec.partition("=")
    if not sep or "/" in label:  # a bare path (which may hold '=')
        label, path = "", spec
    path_ = Path(path)
    path_ = path_ / "model.pth" if path_.is_dir() else path_
    return label or path_.parent.name, path_


def _kind(name: str) -> str:
    return name.split("/")[0] if name.startswith("real") else name.split("/")[1]


def _synthetic_clips(frames: int, size: int) -> dict[str, Clip]:
    photos = [SHARED / "photos" / name for name in HELD_OUT if (SHARED / "photos" / name).is_file()]
    height = round(size * 2 / 3)  # the Kodak photos' 3:2
    return {
        f"{photo.stem}/{motion}": synthetic_clip(load_image(photo), (height, size), frames, motion, seed=i)
        for i, photo in enumerate(photos)
        for motion in MOTIONS
    }


def _real_clips(frames: int, size: int) -> dict[str, Clip]:
    clips = {}
    for name in REAL_CLIPS:
        images = frames_to_images(read_frames(SHARED / "video" / name, size, frames))
        flows, masks = estimate_flows(images)
        clips[f"real/{name}"] = Clip(images, flows, masks)
    return clips


def _stylise(net: torch.nn.Module, frames: torch.Tensor, blend: float) -> torch.Tensor:
    flow_blend = FlowBlend(blend) if blend > 0 else None
    with torch.no_grad():
        outputs = []
        for chunk in frames.split(4):
            out = net(chunk).clamp(0, 1)
            outputs.append(flow_blend(images_to_frames(chunk).numpy(), out) if flow_blend is not None else out)
        return torch.cat(outputs)


def _costs(net: torch.nn.Module, blend: float, repeat: int = 6) -> dict[str, float]:
    """Median milliseconds per 720p frame of fox.mp4, one frame at a time: the network and the flow blend alone
    (its flow at FLOW_SIDE), measured in turn within each repeat."""
    raw = read_frames(SHARED / "video" / REAL_CLIPS[0], 1280, repeat + 1)
    frames = frames_to_images(raw)
    flow_blend = FlowBlend(blend)
    times: dict[str, list[float]] = {"network": [], "flow blend": []}
    with torch.no_grad():
        out = net(frames[:1]).clamp(0, 1)
        flow_blend(raw[:1], out)
        for i in range(1, len(frames)):
            frame = frames[i : i + 1]
            started = time.perf_counter()
            out = net(frame).clamp(0, 1)
            times["network"].append(time.perf_counter() - started)
            started = time.perf_counter()
            flow_blend(raw[i : i + 1], out)
            times["flow blend"].append(time.perf_counter() - started)
    return {name: float(np.median(values)) * 1000 for name, values in times.items()}


def _table(summary: dict[str, Any]) -> str:
    kinds = list(summary["input"])
    lines = [
        "| frames | " + " | ".join(kinds) + " | content | style |",
        "|---" * (len(kinds) + 3) + "|",
        "| input (floor) | " + " | ".join(f"{summary['input'][k] * 1e4:.2f}" for k in kinds) + " | 0 | |",
    ]
    for name, row in summary.items():
        if name == "input":
            continue
        cells = " | ".join(f"{row['summary'][k] * 1e4:.2f}" for k in kinds)
        lines.append(f"| {name} | {cells} | {row['content']:.3f} | {row['style']:.3f} |")
    return "\n".join(lines) + "\n\n(warping error x 1e4, mean squared difference on [0, 1] pixels)\n"


def _plot(rows: list[dict[str, Any]], summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [c for c in {row["clip"] for row in rows if "clip" in row} if c.endswith("/pan") or "fox" in c]
    shown = sorted(shown)[:1] + [c for c in shown if "fox" in c]
    fig, axes = plt.subplots(1, len(shown), figsize=(6 * len(shown), 3.5), squeeze=False)
    for ax, clip in zip(axes[0], shown, strict=True):
        for row in rows:
            if row.get("clip") == clip:
                ax.plot(np.array(row["error"]) * 1e4, label=row["model"])
        ax.set(title=clip, xlabel="frame pair", ylabel="warping error x 1e4")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _side_by_side(outputs: dict[str, dict[str, torch.Tensor]], folder: Path) -> None:
    """side_by_side_<clip>.mp4: input | every variant, for one panning clip and fox.mp4, 12 frames/s."""
    shown = [c for c in outputs if c.endswith("/pan")][:1] + [c for c in outputs if "fox" in c]
    for clip in shown:
        strip = torch.cat(list(outputs[clip].values()), dim=-1)
        height, width = strip.shape[-2] // 2 * 2, strip.shape[-1] // 2 * 2
        name = clip.replace("/", "_").replace(".mp4", "")
        with av.open(str(folder / f"side_by_side_{name}.mp4"), "w") as container:
            stream = container.add_stream("libx264", rate=12)
            stream.height, stream.width, stream.pix_fmt, stream.options = height, width, "yuv420p", {"crf": "23"}
            for frame in images_to_frames(strip[..., :height, :width]).numpy():
                container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
            container.mux(stream.encode())


if __name__ == "__main__":
    main()
