#!/usr/bin/env bash
# One prepared GPU check (< 8 minutes on one GPU): AMP training steps, fp16 ONNX export, ORT CUDA/TensorRT latency,
# and with several GPUs a torchrun training over all of them.
#
#   bash bench/gpu_check.sh [OUT_DIR]
#
# Expects a machine with an NVIDIA GPU and PyTorch installed. Packages it lacks are installed from wheels in .whl/
# when that folder exists (carried along to machines without internet), else from the package index.
# Photos: ../shared/data/photos when present, else synthetic photos written here.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-/tmp/fasttx-gpu-check}}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else
  python3 -m pip install -q -e . --no-deps
  python3 -m pip install -q onnx onnxscript onnxruntime-gpu typer rich av pillow
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"

python3 - "$OUT" <<'EOF'
import json, sys, time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

out = Path(sys.argv[1])
photos = Path("../shared/data/photos")
if not photos.is_dir():
    photos = out / "photos"
    photos.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(64):
        Image.fromarray(rng.integers(0, 255, (320, 400, 3), dtype=np.uint8)).save(photos / f"p{i}.jpg")
style = out / "style.png"
from fasttx.demo import draw_style
draw_style().save(style)

from fasttx.train import TrainConfig, train
results = {"gpu": torch.cuda.get_device_name(0)}
for size, steps in [(256, 300)]:
    cfg = TrainConfig(style=[str(style)], dataset=str(photos), out=str(out / "run"), vgg_weights="random",
                      image_size=size, batch_size=8, steps=steps, log_every=50, preview_every=steps,
                      checkpoint_every=steps)
    t = time.perf_counter()
    train(cfg, progress=False)
    lines = [json.loads(l) for l in (out / "run" / "train.jsonl").read_text().splitlines()]
    results[f"train_{size}px_img_s"] = max(l["images_per_s"] for l in lines[1:])
    results[f"train_{size}px_wall_s"] = time.perf_counter() - t

from fasttx.export import export_onnx
fp32 = export_onnx(out / "run" / "model.pth", out / "model.onnx")
fp16 = export_onnx(out / "run" / "model.pth", out / "model_fp16.onnx", fp16=True)
results["export"] = {"fp32_diff": fp32.max_abs_diff, "fp16_diff": fp16.max_abs_diff}

import onnxruntime as ort
if hasattr(ort, "preload_dlls"):
    ort.preload_dlls()
providers = [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in ort.get_available_providers()]
for name, model in [("fp32", out / "model.onnx"), ("fp16", out / "model_fp16.onnx")]:
    for provider in providers:
        try:
            sess = ort.InferenceSession(str(model), providers=[provider, "CPUExecutionProvider"])
        except Exception as e:  # TensorRT may be missing its libraries
            results[f"ort_{name}_{provider}"] = f"failed: {e}"[:200]
            continue
        for label, (h, w) in {"720p": (720, 1280), "1080p": (1080, 1920)}.items():
            x = np.random.rand(1, 3, h, w).astype(np.float32)
            for _ in range(5):
                sess.run(None, {"image": x})
            times = []
            for _ in range(20):
                t = time.perf_counter(); sess.run(None, {"image": x}); times.append(time.perf_counter() - t)
            results[f"ort_{name}_{provider}_{label}_ms"] = 1000 * float(np.median(times))
print(json.dumps(results, indent=2))
(out / "gpu_check.json").write_text(json.dumps(results, indent=2))
EOF

# Distributed training over every GPU of the machine (torchrun, NCCL): images/s against the one-GPU run above.
GPUS=$(nvidia-smi --list-gpus | wc -l)
PHOTOS=../shared/data/photos; [ -d "$PHOTOS" ] || PHOTOS="$OUT/photos"
if [ "$GPUS" -gt 1 ]; then
  python3 -m torch.distributed.run --standalone --nproc-per-node "$GPUS" -m fasttx train --style "$OUT/style.png" \
    --dataset "$PHOTOS" --out "$OUT/ddp" --vgg-weights random --image-size 256 \
    --batch-size $((8 * GPUS)) --steps 300 --log-every 50 --no-progress --no-onnx --overwrite 2>&1 | tail -3
  python3 -c "import json,sys; l=[json.loads(x) for x in open('$OUT/ddp/train.jsonl')]; print('ddp', $GPUS, 'GPUs:', max(r['images_per_s'] for r in l[1:]), 'img/s')" | tee "$OUT/ddp.txt"
fi
