"""Griffin-Lim (fasttx stylize --griffin-lim N) against the input's own phase: what it buys, what it costs.

    python bench/sound_data.py && python bench/sound_quality.py     # the sounds and the cello model, once
    python bench/sound_phase.py [--model bench/out/sound_models/cello/model.pth] [--rounds 8,32]

A model changes magnitudes only; the sound is rebuilt with the input's phase (one inverse STFT). Those magnitudes
and that phase need not fit together, so the sound heard is not exactly the spectrogram the model made. Griffin-Lim
iterates (inverse STFT, STFT, keep the new phase) from the input's phase towards a consistent pair. On held-out
piano renders through the model, for each reconstruction:
- consistency: the log-spectral distance between the model's magnitudes and those of the sound built (0: heard as
  made), against the input-to-output distance of the model itself for scale;
- the judges' style distance of the sound built, and its pitch agreement with the input (pYIN, 50 cents);
- seconds per 10 s of sound.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sound_quality import DATA, pitch_agreement

from fasttx.modelfile import load_sound_model
from fasttx.sound.audio import read_audio
from fasttx.sound.loss import sound_objective
from fasttx.sound.spectrum import analyse, synthesise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("bench/out/sound_models/cello/model.pth"))
    parser.add_argument("--rounds", default="8,32", help="Griffin-Lim rounds to compare with the input's phase")
    args = parser.parse_args()
    net, spectrum, _ = load_sound_model(args.model)
    style = analyse(spectrum, torch.from_numpy(read_audio(DATA / "style" / "cello.wav", spectrum.rate, mono=True)[0]))
    judge = sound_objective(spectrum, style[0], judge=True)
    methods = {"input phase": 0, **{f"Griffin-Lim, {n} rounds": int(n) for n in args.rounds.split(",")}}
    scores: dict[str, list[list[float]]] = {name: [] for name in methods}
    for path in sorted((DATA / "held_out").glob("*_piano.wav")):
        wave = read_audio(path, spectrum.rate, mono=True)[0]
        frames, phase = analyse(spectrum, torch.from_numpy(wave))
        with torch.no_grad():
            styled = net(frames[None])[0]
            edit = float(((styled - frames) ** 2).mean().sqrt())
            for name, rounds in methods.items():
                started = time.perf_counter()
                sound = synthesise(spectrum, styled, phase, len(wave), rounds)
                seconds = (time.perf_counter() - started) * 10 * spectrum.rate / len(wave)
                heard = analyse(spectrum, sound)[0]
                gap = float(((heard - styled) ** 2).mean().sqrt())
                style_distance = float(judge.distances(heard[None], judge.content_targets(heard[None]))[1])
                pitch = pitch_agreement(wave, sound.numpy(), spectrum.rate)
                scores[name].append([gap / edit, style_distance, pitch, seconds])
    print("| reconstruction | made vs heard, of the edit | style distance | pitch agreement | s per 10 s |")
    print("|---|---|---|---|---|")
    for name, rows in scores.items():
        gap, style_distance, pitch, seconds = np.mean(rows, axis=0)
        print(f"| {name} | {gap:.0%} | {style_distance:.3f} | {pitch:.2f} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
