"""The ablation of the default recipe: each mechanism removed in turn, two held-out styles, two seeds of the baseline.

    python bench/ablation.py run [--styles composition_vii,rain_princess] [--steps 1000]   # resumable: skips done runs
    python bench/ablation.py table                                                       # the Markdown table

Each run is `bench/quality.py` with one recipe override (its results under bench/out/ablation/<style>/<recipe>/):
the baseline (seeds 0 and 1, for the run-to-run noise) and, removed one at a time, the base start, Muon, the content
target, the layer balance, the colour map, the head's own rate and the moving average. The clamp's gradient rule has
no switch; its run used a plain straight-through clamp (`_towards_range` returning the gradient unchanged).
A mechanism whose removal moves both distances by less than the two seeds differ is a candidate to delete
(docs/ablation.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "out" / "ablation"
ABLATIONS = {  # what is removed -> the recipe override that removes it
    "nothing (seed 0)": "fasttx",
    "nothing (seed 1)": "fasttx:seed=1",
    "base start": "fasttx:init=scratch",
    "Muon": "fasttx:muon_lr=0.0",
    "content target": "fasttx:content_target=None",
    "layer balance": "fasttx:balance=False",
    "colour map": "fasttx:colour=False",
    "head's own rate": "fasttx:head_lr=1.0",
    "moving average": "fasttx:ema=0.0",
}


def run(args: argparse.Namespace) -> None:
    for recipe in ABLATIONS.values():
        for style in args.styles.split(","):
            if (args.results / style / recipe.replace(":", "+") / "evaluation.json").is_file():
                continue
            command = [sys.executable, str(BENCH / "quality.py"), "--styles", style, "--recipes", recipe]
            command += ["--steps", str(args.steps), "--results", str(args.results)]
            command += ["--models", str(args.results / ".models")]
            subprocess.run(command, check=True)


def table(args: argparse.Namespace) -> None:
    styles = args.styles.split(",")
    print("| removed | " + " | ".join(f"{s}: content / style (% of photo's)" for s in styles) + " |")
    print("|---" * (len(styles) + 1) + "|")
    for removed, recipe in ABLATIONS.items():
        cells = []
        for style in styles:
            path = args.results / style / recipe.replace(":", "+") / "evaluation.json"
            if not path.is_file():
                cells.append("(not run)")
                continue
            means = json.loads(path.read_text())["means"]
            model, photo = means["model"], means["photo"]
            cells.append(f"{model['content']:.3f} / {model['style']:.3f} ({model['style'] / photo['style']:.0%})")
        print(f"| {removed} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["run", "table"])
    parser.add_argument("--styles", default="composition_vii,rain_princess")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    {"run": run, "table": table}[args.action](args)


if __name__ == "__main__":
    main()
