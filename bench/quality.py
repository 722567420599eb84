"""Quality at a fixed budget: the fasttx default recipe and variants of it, judged by `fasttx evaluate`.

    python bench/quality.py [--styles starry_night,great_wave] [--recipes fasttx] [--steps 1000] [--image-size 128]
    python bench/quality.py --recipes fasttx,fasttx:lr=3e-3,fasttx:lr=3e-3:style_weight=3 --steps 500 \
        --results bench/out/tuning
    python bench/quality.py --styles starry_night+great_wave+candy+udnie --steps 4000   # one 4-style network

A style written a+b+c is one multi-style network of those styles, trained once and evaluated per style (results in
<results>/a+b+c/<recipe>/<style>/), to compare with single-style networks given 1/N of its steps.

Budget (the quality issue's): `--steps` Adam steps at `--image-size` px, batch 4, on ../shared/data/photos minus the
Kodak photos, which are held out and used for the evaluation (content and style distances at 256 px, against
the style at the size it had in training, see
fasttx/evaluate.py). Recipes:
  fasttx    the defaults (fasttx.config): additive output with the colour map, relative loss terms, style weight 1,
            the moving average of the weights saved.
  RECIPE:key=value:...  a recipe with settings changed, for tuning studies; keys are fields of TrainConfig,
            LossConfig or NetConfig (lr, style_weight, content_layer, arch, teacher, ...); style_layers
            in the CLI's list written with + and * (style_layers=relu1_2*0.5+relu2_2). In values,
            {models} and {style} stand for --models and the style's name, e.g. distilling a small student from the
            johnson model trained earlier in the same --models folder:
            fasttx:arch=small:teacher={models}/{style}/fasttx/model.pth
The held-out photos also serve as the validation set during training (distances every steps/10 in train.jsonl), so
the logs show how fast each recipe gets there.
Writes <results>/<style>/<recipe>/ (train.jsonl, evaluation JSON, contact sheet) and prints a Markdown
table for the README. Several --steps also plot budget_curve.png, which needs matplotlib: pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import tempfile
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import torch

from fasttx.config import LossConfig, parse_layer_weights
from fasttx.evaluate import evaluate_model, trained_style_size
from fasttx.modelfile import load_model
from fasttx.nets.transformer import NetConfig, one_style
from fasttx.nets.vgg import VGGFeatures
from fasttx.report import write_report
from fasttx.train import TrainConfig, resume, train

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "out" / "quality"
HELD_OUT = [
    "kodak_kodim01.jpg",
    "kodak_kodim03.jpg",
    "kodak_kodim07.jpg",
    "kodak_kodim14.jpg",
    "kodak_kodim19.jpg",
    "kodak_kodim23.jpg",
]


def literal(text: str) -> Any:
    """'3e-3' -> 0.003, '256' -> 256, 'None' -> None, 'cosine' -> 'cosine'."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


# Lists in the CLI's formats, written with + and * (',' and ':' separate recipes and keys):
# style_layers=relu1_2*0.5+relu2_2.
PARSERS = {"style_layers": lambda text: parse_layer_weights(text.replace("+", ",").replace("*", ":"))}


def recipe(spec: str) -> tuple[NetConfig, LossConfig, dict[str, Any]]:
    """'fasttx', optionally followed by ':key=value' overrides -> net, loss and TrainConfig settings."""
    name, *overrides = spec.split(":")
    train_settings: dict[str, Any] = {}
    if name != "fasttx":
        raise SystemExit(f"unknown recipe {name!r}: fasttx, with :key=value changes")
    net, loss = NetConfig(), LossConfig()
    for item in overrides:
        key, _, text = item.partition("=")
        for target in (TrainConfig, LossConfig, NetConfig):
            field = next((f for f in fields(target) if f.name == key), None)
            if field is not None:
                break
        else:
            raise SystemExit(f"unknown setting {key!r} in recipe {spec!r}")
        value = PARSERS.get(key, literal)(text)
        if target is LossConfig:
            loss = replace(loss, **{key: value})
        elif target is NetConfig:
            net = replace(net, **{key: value})
        else:
            train_settings[key] = value
    return net, loss, train_settings


def run_folder(recipe_name: str) -> str:
    """A recipe's folder under --results and --models: fasttx:arch=small -> fasttx+arch=small;
    teacher={models}/{style}/fasttx/model.pth -> teacher=fasttx_model.pth."""
    return recipe_name.replace("{models}/{style}/", "").replace(":", "+").replace("/", "_")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--styles", default="starry_night,great_wave")
    parser.add_argument("--recipes", default="fasttx")
    parser.add_argument(
        "--steps", default="1000", help="a budget, or several (250,500,1000): one run, resumed from budget to budget"
    )
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--vgg-weights", default="hed")
    parser.add_argument("--eval-size", type=int, default=256)
    parser.add_argument("--gatys", type=int, default=0, help="also the Gatys reference: L-BFGS steps per photo")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--models", type=Path, help="keep the trained model folders here (default: a temporary folder)")
    parser.add_argument(
        "--resume", action="store_true", help="continue the runs kept in --models (to add --gatys, say)"
    )
    args = parser.parse_args()
    budgets = sorted(int(b) for b in args.steps.split(","))

    photos = sorted(p for p in (SHARED / "photos").iterdir() if p.suffix == ".jpg")
    held_out = [p for p in photos if p.name in HELD_OUT]
    with tempfile.TemporaryDirectory() as tmp:
        # kept under --models when given, so a later --resume finds the folders its checkpoints name
        folders = args.models / ".photos" if args.models else Path(tmp)
        train_dir, val_dir = folders / "train", folders / "val"
        for p in photos:
            link = (val_dir if p in held_out else train_dir) / p.name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                os.symlink(p, link)
        models = args.models or Path(tmp) / "models"
        vgg = VGGFeatures([*LossConfig().layers, "relu3_3"], weights=args.vgg_weights)
        rows = []
        for style_name in args.styles.split(","):
            # a+b+c: one network for the styles a, b and c, each evaluated on its own
            styles = [SHARED / "styles" / f"{name}.jpg" for name in style_name.split("+")]
            for recipe_name in args.recipes.split(","):
                folder = run_folder(recipe_name)
                spec = recipe_name.replace("{models}", str(models)).replace("{style}", style_name)
                net_cfg, loss_cfg, settings = recipe(spec)
                cfg = TrainConfig(
                    style=[str(style) for style in styles],
                    dataset=str(train_dir),
                    out=str(models / style_name / folder),
                    net=net_cfg,
                    loss=loss_cfg,
                    vgg_weights=args.vgg_weights,
                    image_size=args.image_size,
                    log_every=50,
                    preview_every=budgets[0],
                    checkpoint_every=budgets[0],
                    val=str(val_dir),
                    val_every=max(1, budgets[0] // 10),
                    onnx=False,
                    **settings,
                )
                train_seconds = 0.0
                for budget in budgets:
                    # constant-rate schedules nest: the run resumed to the next budget is the longer run (tested exact)
                    cfg.steps = budget
                    started = time.perf_counter()
                    if args.resume or budget != budgets[0]:
                        result = resume(cfg.out, steps=budget)
                    else:
                        result = train(cfg, overwrite=True)
                    train_seconds += time.perf_counter() - started
                    for index, style in enumerate(styles):
                        out = args.results / style_name / folder
                        out = out / style.stem if len(styles) > 1 else out
                        out = out / f"steps_{budget}" if len(budgets) > 1 else out
                        work = Path(tmp) / f"{style_name}_{folder}_{budget}_{index}"
                        report = _evaluate(result.model, style, held_out, vgg, args, work, index)
                        out.mkdir(parents=True, exist_ok=True)
                        (out / "train.jsonl").write_text((result.out / "train.jsonl").read_text())
                        (out / "evaluation.json").write_text(report.to_json())
                        files = write_report(report, work / "report")
                        (out / "contact_sheet.png").write_bytes(files.contact_sheet.read_bytes())
                        rows.append(_row(report, style_name, style, recipe_name, budget, train_seconds))
                        print(json.dumps(rows[-1]), flush=True)
                if len(budgets) > 1:
                    for style in styles:
                        curve = [r for r in rows if r["network"] == style_name and r["style"] == style.stem]
                        curve = [r for r in curve if r["recipe"] == recipe_name]
                        folder_out = args.results / style_name / folder / (style.stem if len(styles) > 1 else "")
                        plot_budget_curve(curve, folder_out / "budget_curve.png")
    print("\n| style | recipe | steps | content distance | style distance | style / unstyled photo's |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['style']} | {r['recipe']} | {r['steps']} | {r['content']:.3f} | {r['style_distance']:.3f} "
            f"| {r['style_ratio']:.0%} of {r['photo_style_distance']:.3f} |"
        )


def _row(report: Any, network: str, style: Path, recipe: str, steps: int, train_seconds: float) -> dict[str, Any]:
    """One line of the results: a style's distances from one trained network at one budget."""
    means = report.means
    return {
        "network": network,
        "style": style.stem,
        "recipe": recipe,
        "steps": steps,
        "content": means["model"].content,
        "style_distance": means["model"].style,
        "photo_style_distance": means["photo"].style,
        "style_ratio": means["model"].style / means["photo"].style,
        **({"gatys_content": means["gatys"].content, "gatys_style": means["gatys"].style} if "gatys" in means else {}),
        "train_seconds": train_seconds,
    }


def _evaluate(
    model: Path,
    style: Path,
    photos: list[Path],
    vgg: VGGFeatures,
    args: argparse.Namespace,
    image_dir: Path,
    index: int = 0,
):
    """fasttx evaluate's distances for a trained model (its style `index`) on the held-out photos (+ Gatys on its
    own objective)."""
    net, meta = load_model(model)
    mix = one_style(index, net.styles)
    loss = LossConfig.from_dict(meta["train_config"]["loss"])  # with the layer scales it was trained with
    with torch.no_grad():
        return evaluate_model(
            lambda x: net(x, mix).clamp(0, 1),
            style,
            photos,
            vgg,
            size=args.eval_size,
            style_size=trained_style_size(meta),
            vs_optimize=args.gatys,
            optimize_loss=loss if args.gatys else None,
            image_dir=image_dir,
            model_name=f"{style.stem}/{model.parent.name}",
        )


def plot_budget_curve(rows: list[dict[str, Any]], path: Path) -> None:
    """Content and style distance against the step budget (log axis), with the unstyled photo's style distance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["steps"] for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(8, 3.2))
    ax[0].plot(steps, [r["style_distance"] for r in rows], "o-", label="model")
    ax[0].axhline(rows[0]["photo_style_distance"], color="grey", ls="--", label="unstyled photo")
    ax[0].axhline(0.45 * rows[0]["photo_style_distance"], color="tab:green", ls=":", label="45 % of the photo's")
    ax[0].set_title("style distance (lower: more like the painting)", fontsize=9)
    ax[1].plot(steps, [r["content"] for r in rows], "o-", color="tab:orange")
    ax[1].axhline(0.35, color="tab:red", ls=":", label="0.35")
    ax[1].set_title("content distance (lower: photo more readable)", fontsize=9)
    for a in ax:
        a.set_xscale("log")
        a.minorticks_off()
        a.set_xticks(steps, [str(s) for s in steps])
        a.set_xlabel("training steps (batch 4, 128 px)")
        a.set_ylim(bottom=0)
        a.legend(fontsize=7)
    fig.suptitle(f"{rows[0]['style']}: {rows[0]['recipe']}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
