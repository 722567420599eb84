"""fasttx in Ray Data: a folder of photos stylised by `map_batches` over actors, checked against the runtime.

    pip install 'ray[data]'      # optional: fasttx does not depend on Ray
    python bench/ray_stylize.py --model models/s/model.onnx [--photos ../shared/data/photos] [--actors 2]

The recipe (README, "Many machines"): a class-based function, so each Ray actor opens the model once
(`fasttx.runtime.stylize.FrameBatches`); `ray.data.read_images` yields {"image": uint8 [H, W, 3]} rows, ragged when
sizes differ, which FrameBatches takes as they come. On a cluster, `ray.init(address="auto")` and `concurrency` =
the number of GPUs with `num_gpus=1`. Prints the images/s and the largest difference from `open_session(...)`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import ray

from fasttx.io import find_images, open_rgb
from fasttx.runtime.session import open_session
from fasttx.runtime.stylize import FrameBatches

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--photos", type=Path, default=SHARED / "photos")
    parser.add_argument("--limit", type=int, default=16)
    parser.add_argument("--actors", type=int, default=1)
    args = parser.parse_args()
    paths = [str(p) for p in find_images(args.photos)[: args.limit]]
    ray.init(num_cpus=max(2, args.actors), include_dashboard=False)
    start = time.perf_counter()
    dataset = ray.data.read_images(paths, mode="RGB", include_paths=True)
    stylised = dataset.map_batches(
        FrameBatches,
        fn_constructor_kwargs={"model": args.model, "device": "cpu"},
        batch_size=4,
        batch_format="numpy",
        concurrency=args.actors,
    ).take_all()
    seconds = time.perf_counter() - start
    session = open_session(args.model, "cpu")
    worst = 0
    for row in stylised:
        expected = session.run_frames(np.asarray(open_rgb(row["path"]))[None])[0]
        worst = max(worst, int(np.abs(expected.astype(int) - row["image"].astype(int)).max()))
    print(
        f"{len(stylised)} of {len(paths)} photos through {args.actors} Ray actor(s) in {seconds:.1f} s; "
        f"largest difference from the fasttx runtime: {worst} (of 255)"
    )
    ray.shutdown()


if __name__ == "__main__":
    main()
