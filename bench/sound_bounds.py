"""How far can an edit of the piano's spectrogram go towards the cello's render of the same notes?

    python bench/sound_data.py            # the sounds, once
    python bench/sound_bounds.py [--optimize-steps 200]

The ground-truth target of bench/sound_quality.py asks a cello model to cut the log-spectral distance (RMS over
the log(1 + magnitude) frames) between a piano render (A) and the cello render of the same notes (B) by 15 %. This
measures, on the same held-out pairs, what edits that know more than any model can reach:
- clip colour: A plus the style clip's mean log-spectrum minus the training sounds' (all a model could learn of the
  instrument's average colour);
- best EQ: A plus B's mean log-spectrum minus A's, per bin (the best fixed per-bin gain, from the answer itself);
- best EQ and level: that, plus B's level frame by frame (the answer's loudness envelope too);
- optimisation: A optimised per clip on the training objective (fasttx optimize, the reference ceiling).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from sound_quality import DATA

from fasttx.sound.audio import read_audio
from fasttx.sound.config import Spectrum
from fasttx.sound.loss import sound_objective
from fasttx.sound.measure import optimize_frames
from fasttx.sound.spectrum import analyse


def frames(path: Path, spectrum: Spectrum, samples: int | None = None) -> torch.Tensor:
    return analyse(spectrum, torch.from_numpy(read_audio(path, spectrum.rate, mono=True)[0, :samples]))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--optimize-steps", type=int, default=200)
    args = parser.parse_args()
    spectrum = Spectrum()
    style = frames(DATA / "style" / "cello.wav", spectrum)
    dataset = torch.cat([frames(p, spectrum) for p in sorted((DATA / "music").glob("*.wav"))], dim=1)
    colour = style.mean(1, keepdim=True) - dataset.mean(1, keepdim=True)
    objective = sound_objective(spectrum, style)
    rows = []
    for a_path in sorted((DATA / "held_out").glob("*_piano.wav")):
        b_path = a_path.with_name(a_path.name.replace("_piano", "_cello"))
        n = min(read_audio(p, spectrum.rate, mono=True).shape[1] for p in (a_path, b_path))
        a, b = frames(a_path, spectrum, n), frames(b_path, spectrum, n)
        eq = a + b.mean(1, keepdim=True) - a.mean(1, keepdim=True)
        edits = {
            "clip colour": a + colour,
            "best EQ": eq,
            "best EQ and level": eq + b.mean(0, keepdim=True) - eq.mean(0, keepdim=True),
            "optimisation": optimize_frames(a, objective, steps=args.optimize_steps),
        }
        base = float(((a - b) ** 2).mean().sqrt())
        row = {k: float(((v.clamp_min(0) - b) ** 2).mean().sqrt()) / base - 1 for k, v in edits.items()}
        rows.append(row)
        print(f"{a_path.stem}: input {base:.3f}; " + ", ".join(f"{k} {v:+.0%}" for k, v in row.items()), flush=True)
    print("mean: " + ", ".join(f"{k} {np.mean([r[k] for r in rows]):+.0%}" for k in rows[0]))


if __name__ == "__main__":
    main()
