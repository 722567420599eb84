r"""The ablation of the default recipe: each mechanism removed in turn, two held-out styles, two seeds of the baseline.

    git worktree add ../ablate 27f6c36 && git -C ../ablate apply "$PWD/bench/ablation.patch"
    python bench/ablation.py run --source ../ablate [--styles composition_vii,rain_princess] [--steps 1000]
    python bench/ablation.py table [--steps 1000]
    python bench/ablation.py curve --recipes fasttx,fasttx:colour=False [--every 500]
    python bench/ablation.py picture --styles rain_princess --budgets 1000,4000 \
        --recipes fasttx,fasttx:colour=False,fasttx:init=scratch -o docs/img/ablation_rain_princess.jpg

The study ran from one commit (27f6c36), whose recipe still had every mechanism (main has since removed those that
bought nothing); `bench/ablation.patch` makes its `bench/quality.py` checkpoint every 100 steps and resume (runs
survive an interruption) and adds the clamp's switch. Each run is that `bench/quality.py` with one recipe override,
results under bench/out/ablation/steps_<steps>/<style>/<recipe>/: the baseline (seeds 0 and 1, for the run-to-run
noise) and, removed one at a time, the base start, Muon, the content target, the layer balance, the colour map, the
head's own rate and the moving average; the clamp's gradient rule (a plain straight-through clamp instead) under
clamp/. `--steps 4000` continues the 1 000-step runs from their checkpoints; the longer budget was run for the two
largest effects: `--recipes fasttx,fasttx:colour=False,fasttx:init=scratch`. `curve` prints the held-out distances
each run logged as it trained (train.jsonl), to compare runs at the same step before they end; `picture` the held-out
photos side by side, one column per run and a block per budget, cut from the runs' contact sheets (nothing
recomputed: the pictures behind the numbers). A mechanism whose removal moves both distances by less than the two
seeds differ is a candidate to delete (docs/ablation.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from compare import figure, picture_box
from PIL import Image, ImageOps
from quality import run_folder

from fasttx.report import contact_sheet_cell

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "out" / "ablation"
ABLATIONS = {  # what is removed -> the recipe override that removes it
    "nothing (seed 0)": "fasttx",
    "nothing (seed 1)": "fasttx:seed=1",
    "base start": "fasttx:init=scratch",
    "Muon": "fasttx:muon_lr=0.0",
    "content target": "fasttx:content_target=None",
    "layer balance": "fasttx:balance=False",
    "layer balance (seed 1)": "fasttx:balance=False:seed=1",
    "colour map": "fasttx:colour=False",
    "head's own rate": "fasttx:head_lr=1.0",
    "moving average": "fasttx:ema=0.0",
}


LABELS = {**{k: f"no {k}" for k in ABLATIONS}, "nothing (seed 0)": "defaults", "nothing (seed 1)": "defaults, seed 1"}


def run(args: argparse.Namespace) -> None:
    """Every run not yet evaluated at --steps; a run whose model folder (under --models) holds a checkpoint resumes
    it, so a longer budget continues the 1 000-step runs (a constant rate after warm-up: the same run, longer)."""
    source = args.source.resolve()
    results = args.results / f"steps_{args.steps}"
    recipes = args.recipes.split(",") if args.recipes else [*ABLATIONS.values(), "clamp"]
    jobs = [(recipe, results, args.models, {}) for recipe in ABLATIONS.values() if recipe in recipes]
    if "clamp" in recipes:
        jobs.append(("fasttx", results / "clamp", args.models / "clamp", {"FASTTX_ABLATE_CLAMP": "1"}))
    for recipe, out, models, switch in jobs:
        for style in args.styles.split(","):
            if (out / style / run_folder(recipe) / "evaluation.json").is_file():
                continue
            command = [sys.executable, str(source / "bench" / "quality.py"), "--styles", style, "--recipes", recipe]
            command += ["--steps", str(args.steps), "--results", str(out), "--models", str(models)]
            env = {**os.environ, **switch, "PYTHONPATH": str(source), "FASTTX_VGG_WEIGHTS": "hed"}
            subprocess.run(command, check=True, env=env)


def table(args: argparse.Namespace) -> None:
    styles = args.styles.split(",")
    print("| removed | " + " | ".join(f"{s}: content / style (% of photo's)" for s in styles) + " |")
    print("|---" * (len(styles) + 1) + "|")
    budget = args.results / f"steps_{args.steps}"
    rows = [(removed, recipe, budget) for removed, recipe in ABLATIONS.items()]
    for removed, recipe, results in [*rows, ("clamp gradient", "fasttx", budget / "clamp")]:
        cells = []
        for style in styles:
            path = results / style / run_folder(recipe) / "evaluation.json"
            if not path.is_file():
                cells.append("(not run)")
                continue
            means = json.loads(path.read_text())["means"]
            model, photo = means["model"], means["photo"]
            cells.append(f"{model['content']:.3f} / {model['style']:.3f} ({model['style'] / photo['style']:.0%})")
        print(f"| {removed} | " + " | ".join(cells) + " |")


def curve(args: argparse.Namespace) -> None:
    """The held-out checks of each run (content / style on the held-out photos at the training size), every
    --every steps: runs compared at the same step, finished or not."""
    for style in args.styles.split(","):
        print(f"{style}: held-out content / style at step")
        for recipe in (args.recipes or "fasttx").split(","):
            log = args.models / style / run_folder(recipe) / "train.jsonl"
            checks = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
            cells = [
                f"{c['step']}: {c['val_content']:.3f} / {c['val_style']:.3f}"
                for c in checks
                if "val_content" in c and c["step"] % args.every == 0
            ]
            print(f"  {recipe}: " + ("; ".join(cells) or "(not run)"))


def picture(args: argparse.Namespace) -> None:
    """Photo | one run per column | painting, for --rows of the held-out photos, a block per budget with each run's
    numbers."""
    recipes, rows = (args.recipes or "fasttx").split(","), [int(r) for r in args.rows.split(",")]
    names = {recipe: removed for removed, recipe in ABLATIONS.items()}
    blocks = []  # per style and budget: rows of pictures, then a caption per column
    for style in args.styles.split(","):
        for budget in args.budgets.split(","):
            folders = [args.results / f"steps_{budget}" / style / run_folder(r) for r in recipes]
            sheets = [Image.open(f / "contact_sheet.png").convert("RGB") for f in folders]
            cells = [
                [contact_sheet_cell(sheets[0], row, 0)] + [contact_sheet_cell(s, row, 1) for s in sheets]
                for row in rows
            ]
            cells = [[c.crop(picture_box(c)) for c in row] for row in cells]
            painting = contact_sheet_cell(sheets[0], 0, 2)
            cells = [[*row, ImageOps.fit(painting.crop(picture_box(painting)), row[0].size)] for row in cells]
            means = [json.loads((f / "evaluation.json").read_text())["means"] for f in folders]
            steps = f"{int(budget):,}".replace(",", " ")
            captions = [f"{style.replace('_', ' ')}, {steps} steps: content / style"]
            captions += [
                f"{m['model']['content']:.3f} / {m['model']['style'] / m['photo']['style']:.0%}" for m in means
            ]
            blocks.append((cells, captions))
    figure(["photo", *(LABELS[names[r]] for r in recipes), "painting"], blocks, args.output)
    print(args.output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["run", "table", "curve", "picture"])
    parser.add_argument("--styles", default="composition_vii,rain_princess")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--source", type=Path, default=BENCH.parent, help="the checkout to run (see above)")
    parser.add_argument("--recipes", help="the runs to make, comma-separated (clamp: the clamp's); default: all")
    parser.add_argument("--models", type=Path, default=RESULTS / ".models", help="the runs' folders (checkpoints)")
    parser.add_argument("--every", type=int, default=500, help="curve: one check every this many steps")
    parser.add_argument("--budgets", default="1000", help="picture: a block of rows per budget (steps)")
    parser.add_argument("--rows", default="0,3", help="picture: the held-out photos shown (contact-sheet rows)")
    parser.add_argument("-o", "--output", type=Path, help="picture: the file to write")
    args = parser.parse_args()
    {"run": run, "table": table, "curve": curve, "picture": picture}[args.action](args)


if __name__ == "__main__":
    main()
