"""The sound recipe, free of torch like fasttx.config: how sound becomes frames, the network, the run's settings.
All three are saved in every sound model and checkpoint, so a run resumes and a model rebuilds with no flags."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fasttx.config import DEFAULT_DEVICE, MAX_BATCH, MAX_STEPS
from fasttx.errors import FasttxError


@dataclass(frozen=True)
class Spectrum:
    """How sound becomes frames (fasttx.sound.spectrum): log(1 + |STFT|), Hann windows, centred."""

    rate: int = 22050  # Hz; files are resampled to it on reading
    n_fft: int = 1024  # 46 ms windows: 513 bins, 21.5 Hz apart
    hop: int = 256  # 11.6 ms between frames

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def frames(self, samples: int) -> int:
        """How many frames `samples` samples make."""
        return samples // self.hop + 1


@dataclass(frozen=True)
class SoundNetConfig:
    """What it takes to rebuild a sound network (fasttx.sound.net)."""

    bins: int = 513
    width: int = 256
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for model files and ONNX metadata (the tuple as a list, as JSON and torch.load give it back)."""
        return {**asdict(self), "dilations": list(self.dilations)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SoundNetConfig:
        return cls(**{**data, "dilations": tuple(data["dilations"])})


@dataclass
class SoundTrainConfig:
    style: str  # the sound whose timbre and texture the model learns
    dataset: str  # a folder of sounds (or videos) to learn on
    out: str = ""  # "": models/<style's name>
    spectrum: Spectrum = field(default_factory=Spectrum)
    net: SoundNetConfig = field(default_factory=SoundNetConfig)
    crop_frames: int = 128  # 1.5 s crops at the default hop
    batch_size: int = 4
    steps: int = 1000
    lr: float = 1e-3
    content_weight: float = 1.0
    style_weight: float = 1.0
    encoder_seed: int = 0  # the random loss network's filters
    seed: int = 0
    device: str = DEFAULT_DEVICE
    log_every: int = 10
    preview_every: int = 250
    checkpoint_every: int = 250
    onnx: bool = True

    def __post_init__(self) -> None:
        self.out = self.out or str(Path("models") / Path(self.style).stem)

    @property
    def crop_samples(self) -> int:
        return self.spectrum.hop * (self.crop_frames - 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SoundTrainConfig:
        values = dict(data)
        values["spectrum"] = Spectrum(**values["spectrum"])
        values["net"] = SoundNetConfig.from_dict(values["net"])
        return cls(**values)

    def validate(self) -> None:
        """Refuse settings that would crash mid-run or train nothing, naming the option."""
        checks = [
            (1 <= self.steps <= MAX_STEPS, f"--steps must be 1 to {MAX_STEPS} (got {self.steps})"),
            (1 <= self.batch_size <= MAX_BATCH, f"--batch-size must be 1 to {MAX_BATCH} (got {self.batch_size})"),
            (8 <= self.crop_frames <= 4096, f"--crop-frames must be 8 to 4096 (got {self.crop_frames})"),
            (math.isfinite(self.lr) and 0 < self.lr <= 1, f"--lr must be above 0 and at most 1 (got {self.lr})"),
        ]
        for name in ("content_weight", "style_weight"):
            value = getattr(self, name)
            option = "--" + name.replace("_", "-")
            checks.append((math.isfinite(value) and value >= 0, f"{option} must be 0 or more (got {value})"))
        for name in ("log_every", "preview_every", "checkpoint_every"):
            value = getattr(self, name)
            checks.append((value >= 1, f"--{name.replace('_', '-')} must be 1 or more (got {value})"))
        for ok, message in checks:
            if not ok:
                raise FasttxError(message)
