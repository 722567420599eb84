"""The training sounds: a folder decoded once into memory (mono, at the model's rate) and cut into random crops.

Batch k is a pure function of (seed, k), so a resumed run draws exactly the crops it would have drawn. Crops are
drawn uniformly over the total duration (a long file gives more of them) and near-silent ones are drawn again:
silence has no timbre to learn, and its features' magnitude (the denominator of the relative losses) is zero.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import numpy as np

from fasttx.data import mix_seed
from fasttx.errors import FasttxError
from fasttx.sound.audio import find_sounds, read_audio

SILENCE_RMS = 1e-3  # -60 dBFS: a crop quieter than this is drawn again
TRIES = 50  # draws per crop before a folder is declared all silence


class ClipFolder:
    def __init__(self, root: str | Path, rate: int, samples: int) -> None:
        self.samples = samples
        self.paths: list[Path] = []
        self.waves: list[np.ndarray] = []
        for path in find_sounds(root):
            try:
                wave = read_audio(path, rate, mono=True)[0]
            except FasttxError as e:
                warnings.warn(f"skipping {e}", stacklevel=2)
                continue
            if len(wave) >= samples:
                self.paths.append(path)
                self.waves.append(wave)
        if not self.waves:
            raise FasttxError(f"no sound file in {root} lasts the {samples / rate:.2f} s of one training crop")
        self.lengths = np.array([len(w) - samples + 1 for w in self.waves], dtype=np.float64)

    def batch(self, size: int, seed: int, k: int) -> np.ndarray:
        """Batch number k: [size, samples] float32 crops, none of them silent."""
        rng = random.Random(mix_seed(seed, k))
        crops = []
        for _ in range(size):
            for _ in range(TRIES):
                start = int(rng.random() * self.lengths.sum())
                clip = int(np.searchsorted(np.cumsum(self.lengths), start, side="right"))
                offset = start - int(self.lengths[:clip].sum())
                crop = self.waves[clip][offset : offset + self.samples]
                if np.sqrt(np.mean(crop.astype(np.float64) ** 2)) >= SILENCE_RMS:
                    break
            else:
                raise FasttxError(f"the sounds in {self.paths[0].parent} are silent (below -60 dBFS)")
            crops.append(crop)
        return np.stack(crops)
