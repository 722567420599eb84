"""The recipe: every setting of a network, an objective and a training run, with its one default.

Plain dataclasses with no torch import, so the CLI reads its defaults (and `--help` stays fast) from here, and
every model and checkpoint stores them (`to_dict` / `from_dict`) so a run can be resumed or reproduced.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from fasttx.errors import FasttxError

DEFAULT_EPOCHS = 2.0  # a run given no --steps: two passes over the photos, as Johnson et al. over COCO
# A multi-style network's ONNX graph also takes the mix: float32 [styles], one weight per style (summing to 1 blends
# them), the same for the whole batch; its default, the first style alone, lets an image-only call work.
STYLE_INPUT = "style_weights"
DEFAULT_DEVICE = "auto"  # the accelerator if there is one (fasttx.device.pick_device), else the CPU
# Bounds that catch a typo before it allocates the machine's memory or runs for years.
MAX_STEPS, MAX_BATCH, MAX_SIZE = 10**8, 1024, 8192
MIN_SIZE = 16  # px: VGG's relu4_3 is 1/8 of its input; below this the deep style layers see a pixel or two


def check_side(option: str, pixels: int | None) -> None:
    """The one check of an image side an option sets (None: not set): MIN_SIZE to MAX_SIZE px."""
    if pixels is not None and not MIN_SIZE <= pixels <= MAX_SIZE:
        raise FasttxError(f"{option} must be {MIN_SIZE} to {MAX_SIZE} px (got {pixels})")


@dataclass(frozen=True)
class NetConfig:
    """What it takes to rebuild a network: saved inside every model file."""

    arch: str = "johnson"
    # The body's 3-channel map is a change added to the input's pixels, so an untrained net is the identity and
    # training starts from the content; the sum is clamped to [0, 1] with the gradient passed through where it
    # brings a pixel pushed past 0 or 1 back (nets.transformer._towards_range).
    # Also a learnt affine map of each pixel's own RGB (a 1x1 conv, 12 numbers) added to the
    # edit. The body sees the photo through instance norms, which remove its mean colour and contrast, so on its
    # own it cannot map absolute colours to the style's palette (grey walls to Starry Night's dark blue).
    colour: bool = True
    # Styles the one network paints (Dumoulin et al. 2017): above 1, every instance norm has one scale/shift per style
    # (and the colour map one per style), mixed at run time by weights (StyleNet.forward's `style`).
    styles: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetConfig:
        return cls(**data)


def parse_layer_weights(spec: str) -> dict[str, float]:
    """'relu1_2:0.5,relu2_2,relu3_3:2' -> {'relu1_2': 0.5, 'relu2_2': 1.0, 'relu3_3': 2.0} (CLI format)."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, value = item.partition(":")
        try:
            weights[name.strip()] = weight = float(value) if value else 1.0
        except ValueError:
            weight = math.nan
        if not (math.isfinite(weight) and weight >= 0):
            raise FasttxError(f"bad layer weight {item!r}; expected NAME or NAME:WEIGHT (0 or more), e.g. relu3_3:2")
    if not weights:
        raise FasttxError("no style layers given")
    return weights


STYLE_SCALE = 2  # the style image's default long side, in multiples of the training (or judged) size


def style_long_side(style_size: int | None, size: int) -> int:
    """The style image's long side for its Gram targets at `size`: `style_size` where given, else STYLE_SCALE x size
    (Johnson et al. train at 256 px with 512 px styles, so the strokes keep their scale relative to the crops)."""
    check_side("--style-size", style_size)
    return STYLE_SCALE * size if style_size is None else style_size


PHOTO = "photo"  # in a style mix, the share left to the unstyled photo (StyleNet.forward)


def parse_style_mix(spec: str, names: list[str]) -> list[float]:
    """'starry=0.7,wave=0.3' (or '0=0.7,1=0.3', or one name: that style alone) -> one weight per style of a
    multi-style network, in the order of `names`, normalised to sum to 1 (a blend). A `photo` entry takes its share
    away from the styles: 'starry=0.6,photo=0.4' is 60 % of Starry Night over the photo."""
    if not names:
        raise FasttxError("this model has one style: --style-mix and --style are for multi-style models")
    weights = [0.0] * (len(names) + 1)  # the last: the photo
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, value = item.partition("=")
        name = name.strip()
        index = names.index(name) if name in names else int(name) if name.isdigit() else -1
        index = len(names) if name == PHOTO and name not in names else index
        if not 0 <= index <= len(names) or (index == len(names) and name != PHOTO):
            raise FasttxError(
                f"no style {name!r} in this model; its styles are {', '.join(names)} (or 0-{len(names) - 1})"
            )
        try:
            weights[index] += float(value) if value else 1.0
        except ValueError as e:
            raise FasttxError(f"bad style weight {item!r}; expected NAME=WEIGHT, e.g. {names[0]}=0.7") from e
    if not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
        raise FasttxError(f"style weights must be finite, 0 or more, with a positive sum (got {spec!r})")
    return [w / sum(weights) for w in weights[:-1]]


def format_layer_weights(weights: Mapping[str, float]) -> str:
    """The inverse of parse_layer_weights: {'relu1_2': 1.0, 'relu3_3': 2.0} -> 'relu1_2,relu3_3:2'."""
    return ",".join(name if weight == 1.0 else f"{name}:{weight:g}" for name, weight in weights.items())


@dataclass
class LossConfig:
    """Which layers and how much of each term. Saved with every model so results can be reproduced."""

    content_layer: str = "relu2_2"
    style_layers: dict[str, float] = field(
        default_factory=lambda: {"relu1_2": 1.0, "relu2_2": 1.0, "relu3_3": 1.0, "relu4_3": 1.0}
    )
    content_weight: float = 1.0
    style_weight: float = 1.0
    # Hold the training photos' content distance near this value instead of fixing the content weight: the weight
    # follows the distance (train.ContentTarget), so each style gets as much style as that much content allows, and
    # a longer run buys style instead of losing content (README, "How the defaults were chosen"). None: fixed.
    # 0.35: held-out photos land at 0.7-1.0x the training crops' distance, so at 0.3 they came out at 0.19-0.30,
    # under the 0.35 the quality issue allows, with style left unbought (Mosaic, 500 steps: target 0.3 -> content
    # 0.252 and 47 % of the photo's style distance; 0.4 -> 0.396 and 38 %).
    content_target: float | None = 0.35
    tv_weight: float = 0.0
    style_size: int | None = None  # long side of the style image for its Gram targets; None: style_long_side

    @property
    def layers(self) -> list[str]:
        return [self.content_layer, *self.style_layers]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LossConfig:
        return cls(**data)


@dataclass
class TrainConfig:
    """Every setting of a run. Stored in checkpoints and model files, so a run can be resumed or reproduced."""

    style: list[str]  # one network for all of them (a style each); with `blend`, one style mixed from all
    dataset: str
    out: str = ""  # "": models/<first style's name>
    net: NetConfig = field(default_factory=NetConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    vgg_arch: str = "vgg16"
    vgg_weights: str | None = None  # None: $FASTTX_VGG_WEIGHTS or torchvision's ImageNet weights
    image_size: int = 256
    batch_size: int = 4
    steps: int | None = None  # total optimiser steps, also when resuming; None: DEFAULT_EPOCHS over the photos
    lr: float = 3e-3  # README, "How the defaults were chosen": 1e-3 learnt the same style in twice the steps
    warmup: int = 200  # steps of linear learning-rate warm-up from 0 (independent of the total, so budgets nest)
    ema: float = 0.999  # the saved model is the moving average of the weights (0: the last weights), see _ema
    # Muon's rate for the hidden convs (fasttx.optim; README, "How the defaults were chosen"); 0: Adam for all
    muon_lr: float = 0.1
    head_lr: float | None = None  # the output conv's rate as a multiple of lr; None: 1/sqrt(its fan-in / 16)
    seed: int = 0
    device: str = DEFAULT_DEVICE
    amp: bool = True  # mixed precision where the hardware runs it natively (fasttx.device.amp_dtype)
    compile: bool = False  # torch.compile the transformer and the VGG
    workers: int | None = None  # DataLoader processes; None: 0 on the CPU, min(4, cores - 1) on an accelerator
    log_every: int = 10
    preview_every: int = 500
    checkpoint_every: int = 500
    val: str | None = None  # held-out photos: distances logged, the best model kept as best.pth, the first 4 previewed
    val_every: int = 500
    teacher: str | None = None  # distillation: a trained model.pth whose outputs the network also learns to reproduce
    distill_weight: float = 10.0  # weight of the mean absolute pixel difference to the teacher's output
    # The network a run starts from (train.initial_network): "base", the network fasttx ships for the architecture
    # (fasttx/bases/, trained on four paintings; from scratch for an architecture without one), "scratch", or a
    # trained model.pth. A trained body paints from the first step; from scratch the first few hundred steps only
    # leave the identity (README, "How the defaults were chosen").
    init: str = "base"
    # what each style started from, recorded by a fresh run from --init (train.initial_network): the trained
    # network's style it was nearest to ("la_muse") or "mean" (of its styles); empty from scratch
    started_from: list[str] = field(default_factory=list)
    onnx: bool = True  # also write model.onnx (verified against PyTorch) at the end
    blend: bool = False  # several style images make one style (their Gram targets averaged), not one each
    # --add-style: the trained model.pth whose network gets `style` as one more style, training only that style's
    # vectors (train.add_style_config); `base_styles` are its styles' names
    add_to: str | None = None
    base_styles: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out = self.out or str(Path("models") / Path(self.style[0]).stem)
        if self.net.styles == 1 and len(self.style) > 1 and not self.blend:
            self.net = replace(self.net, styles=len(self.style))  # a conditional norm per style

    @property
    def style_names(self) -> list[str]:
        """What a multi-style network calls its styles: the images' file names without suffix (after a grown
        network's own)."""
        return [*self.base_styles, *(Path(s).stem for s in self.style)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """The recipe a model or checkpoint of this format version was saved with (io.FORMAT_VERSION)."""
        values = dict(data)
        values["net"] = NetConfig.from_dict(values.get("net", {}))
        values["loss"] = LossConfig.from_dict(values.get("loss", {}))
        return cls(**values)

    def validate(self) -> None:
        """Refuse settings that would crash mid-run, train nothing or train to NaN, with the option's name (the
        field's, for recipe fields the CLI does not offer)."""
        loss = self.loss
        numbers = {
            "--steps": self.steps,
            "--lr": self.lr,
            "muon_lr": self.muon_lr,
            "ema": self.ema,
            "content_weight": loss.content_weight,
            "style_weight": loss.style_weight,
            "tv_weight": loss.tv_weight,
            "--content-target": loss.content_target,
            "--distill-weight": self.distill_weight,
            **{f"style_layers {name}": weight for name, weight in loss.style_layers.items()},
        }
        for name, value in numbers.items():
            if value is not None and not math.isfinite(value):
                raise FasttxError(f"{name} must be a finite number (got {value})")
        checks = [
            (
                self.steps is None or 1 <= self.steps <= MAX_STEPS,
                f"--steps must be 1 to {MAX_STEPS:g} (got {self.steps})",
            ),
            (1 <= self.batch_size <= MAX_BATCH, f"--batch-size must be 1 to {MAX_BATCH} (got {self.batch_size})"),
            (0 < self.lr <= 1, f"--lr must be in (0, 1] (got {self.lr})"),
            (0 <= self.muon_lr <= 10, f"muon_lr must be 0 (off) to 10 (got {self.muon_lr})"),
            (self.warmup >= 0, f"warmup must be 0 or more (got {self.warmup})"),
            (0 <= self.ema < 1, f"ema must be in [0, 1) (got {self.ema})"),
            (loss.content_weight >= 0, f"content_weight must be 0 or more (got {loss.content_weight})"),
            (loss.style_weight > 0, f"style_weight must be positive (got {loss.style_weight})"),
            (loss.tv_weight >= 0, f"tv_weight must be 0 or more (got {loss.tv_weight})"),
            (all(w >= 0 for w in loss.style_layers.values()), "style_layers weights must be 0 or more"),
            (
                loss.content_target is None or loss.content_target > 0,
                f"--content-target must be positive (got {loss.content_target})",
            ),
            (self.distill_weight >= 0, f"--distill-weight must be 0 or more (got {self.distill_weight})"),
            (0 <= self.seed < 2**63, f"--seed must be 0 to 2^63 - 1 (got {self.seed})"),
            (self.workers is None or 0 <= self.workers <= 64, f"--workers must be 0 to 64 (got {self.workers})"),
            (
                self.net.styles == (1 if self.blend else len(self.base_styles) + len(self.style)),
                f"a network of {self.net.styles} styles needs as many --style images (got {len(self.style)})",
            ),
            (len(set(self.style_names)) == len(self.style_names), "two styles have the same name; rename an image"),
            (
                min(self.log_every, self.preview_every, self.checkpoint_every, self.val_every) >= 1,
                "--*-every must be at least 1",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise FasttxError(message)
        check_side("--image-size", self.image_size)
        style_long_side(loss.style_size, self.image_size)

    def total_steps(self, dataset_size: int) -> int:
        """The run's length in steps: --steps, or DEFAULT_EPOCHS passes over `dataset_size` photos."""
        if self.steps is not None:
            return self.steps
        steps = math.ceil(DEFAULT_EPOCHS * dataset_size / self.batch_size)
        if steps > MAX_STEPS:
            raise FasttxError(
                f"{DEFAULT_EPOCHS:g} passes over {dataset_size} photos are {steps} steps, over {MAX_STEPS:g}: "
                "give --steps"
            )
        return max(1, steps)


PATH_FIELDS = ("style", "dataset", "out", "teacher", "val", "vgg_weights", "init", "add_to")
_FOLDERS = re.compile(r"(?:[A-Za-z]:)?(?:[/\\][^/\\\s:()]+)+[/\\]")  # the folders of an absolute path, up to its name


def shareable_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """A model's metadata with every path in its training recipe (and in the VGG weights' description) cut to its
    file name: model.pth, best.pth and model.onnx are shared, and must not reveal the folders of the person who
    trained them. The style's sha256 still names it; checkpoint.pt, which stays with the run, keeps the paths."""
    meta = dict(meta)
    config = meta.get("train_config")
    if isinstance(config, dict):
        config = dict(config)
        for key in PATH_FIELDS:
            value = config.get(key)
            if isinstance(value, list):
                config[key] = [Path(p).name for p in value]
            elif isinstance(value, str) and value:
                config[key] = Path(value).name
        meta["train_config"] = config
    if isinstance(meta.get("vgg"), str):
        meta["vgg"] = without_folders(meta["vgg"])
    return meta


def without_folders(text: str) -> str:
    """`text` with every absolute path in it cut to its file name (descriptions that name a local file)."""
    return _FOLDERS.sub("", text)


SIZE_NAMES = {"360p": (640, 360), "480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}


@dataclass(frozen=True)
class Size:
    label: str  # as written: "720p", "64x48", "256"
    width: int
    height: int


def parse_sizes(text: str, option: str = "--sizes") -> list[Size]:
    """'256,512,720p,1080p,640x360' -> sizes: N is NxN, WxH is as written, 360p/480p/720p/1080p/4k are 16:9; each
    side 1 to MAX_SIZE px."""
    sizes = []
    for item in (part.strip().lower() for part in text.split(",") if part.strip()):
        try:
            sides = SIZE_NAMES.get(item) or (item.split("x") if "x" in item else (item, item))
            width, height = (int(v) for v in sides)
        except ValueError as e:
            raise FasttxError(f"bad size {item!r} in {option}; use N, WxH or one of {', '.join(SIZE_NAMES)}") from e
        if not (1 <= width <= MAX_SIZE and 1 <= height <= MAX_SIZE):
            raise FasttxError(f"bad size {item!r} in {option}: each side must be 1 to {MAX_SIZE} px")
        sizes.append(Size(item, width, height))
    if not sizes:
        raise FasttxError(f"{option} is empty")
    return sizes


def parse_size(text: str, option: str) -> Size:
    """One size in parse_sizes' format, for the option named `option` (--fixed-size, --size)."""
    sizes = parse_sizes(text, option)
    if len(sizes) != 1:
        raise FasttxError(f"{option} takes one size, got {text!r}")
    return sizes[0]


@dataclass(frozen=True)
class StylizeOptions:
    """Everything about how each input is stylized (the CLI's options minus paths, model and device)."""

    max_size: int | None = None  # downscale so the long side is at most this (images and videos)
    batch_size: int = 4  # images of one size or video frames per network call; tiles per call with `tile`
    tile: int | None = None  # run images in tiles of this many pixels (PyTorch models only)
    overlap: int = 32  # pixels shared by neighbouring tiles, blended
    preserve_color: bool = False  # keep the photo's chroma, take only the luminance from the style
    strength: float = 1.0  # 0: the photo, 1: full style; a pixel-space mix
    crf: int = 18  # H.264 quality (lower is better; 18 is visually lossless for most content)
    keep_partial: bool = False  # write what decoded of a truncated video instead of failing it
    # videos and the webcam: the share of the previous output carried along the input's optical flow
    # (runtime.flow_blend). 0.5: the warping error falls to 0.2-0.4x at 1-5 % of the distances (README, "Stable
    # video"); 0 for the most frames/s
    temporal_blend: float = 0.5
    style: str | None = None  # a multi-style model's mix, 'starry=0.7,wave=0.3' or one name (parse_style_mix)
    style_map: str | None = None  # a greyscale image mixing the two styles of `style` per pixel (black: the first)

    def validate(self) -> None:
        """Refuse settings that would crash or write nonsense, with the option's name (every stylizing path)."""
        check_strength(self.strength)
        check_side("--max-size", self.max_size)
        check_side("--tile", self.tile)
        checks = [
            (1 <= self.batch_size <= MAX_BATCH, f"--batch-size must be 1 to {MAX_BATCH} (got {self.batch_size})"),
            (self.overlap >= 0, f"--overlap must be 0 or more px (got {self.overlap})"),
            (0 <= self.crf <= 51, f"--crf must be 0 (lossless) to 51 (got {self.crf})"),
            (0 <= self.temporal_blend < 1, f"--temporal-blend must be in [0, 1) (got {self.temporal_blend})"),
        ]
        for ok, message in checks:
            if not ok:
                raise FasttxError(message)


def check_strength(strength: float) -> None:
    """The one check of a strength: 0 (the photo) to 1 (full style); NaN fails it too."""
    if not 0.0 <= strength <= 1.0:
        raise FasttxError(f"--strength must be between 0 (the photo) and 1 (full style), got {strength}")


@dataclass(frozen=True)
class OptimizeDefaults:
    """Gatys optimisation of one photo (`fasttx optimize`, fasttx.optimize)."""

    size: int = 512  # long side of the output
    steps: int = 300  # per scale
    optimizer: str = "lbfgs"
    init: str = "content"
    scales: int = 1
    seed: int = 0


@dataclass(frozen=True)
class BenchDefaults:
    """Inference timing (`fasttx bench`, fasttx.runtime.bench)."""

    sizes: str = "256,512,720p,1080p"
    repeat: int = 5  # timed runs per size; the median is reported
    warmup: int = 2
    batch: int = 1


OPTIMIZE = OptimizeDefaults()
BENCH = BenchDefaults()
EVAL_SIZE = 256  # fasttx evaluate: the photos' long side (the scale of 128 px training crops with the style at 2x)
DISTILL_ARCH = "small"  # the student a distillation trains by default
