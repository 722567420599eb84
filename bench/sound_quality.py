"""Does a sound model move a recording towards the style's timbre while keeping what is played? (issue targets)

    python bench/sound_data.py                                   # the sounds, once
    python bench/sound_quality.py [--steps 1000] [--models bench/out/sound_models] [--json]

Trains (or, with --resume, continues) a model on the cello clip from the other instruments' melodies, then, on
held-out melodies rendered on the piano (A) and on the cello (B):
- style: the distance in an independent timbre encoder (another seed and widths) to the style clip, against A's own;
- content: pitch agreement with A (pYIN f0 within 50 cents on frames voiced in both) and onset F1 (mir_eval, 50 ms);
- ground truth: the log-spectral distance and the MFCC distance to B, against A's (a model trained on B's timbre
  should bring A towards B's render of the same notes); length identical.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import librosa
import mir_eval
import numpy as np
import torch

from fasttx.modelfile import load_sound_model
from fasttx.sound.audio import read_audio, write_wav
from fasttx.sound.config import SoundTrainConfig, Spectrum
from fasttx.sound.loss import sound_objective
from fasttx.sound.picture import spectrogram_picture
from fasttx.sound.spectrum import analyse, synthesise
from fasttx.sound.stylize import SoundModel, stylize_wave
from fasttx.sound.train import resume_sound, train_sound

DATA = Path("bench/out/sound_data")


def pitch_agreement(a: np.ndarray, b: np.ndarray, rate: int) -> float:
    """Share of frames voiced in both whose pYIN f0 agree within 50 cents."""
    f0a, va, _ = librosa.pyin(a, fmin=60, fmax=1500, sr=rate)
    f0b, vb, _ = librosa.pyin(b, fmin=60, fmax=1500, sr=rate)
    both = va & vb
    return float(np.mean(np.abs(1200 * np.log2(f0b[both] / f0a[both])) < 50)) if both.any() else float("nan")


def onset_f1(a: np.ndarray, b: np.ndarray, rate: int) -> float:
    onsets = [librosa.onset.onset_detect(y=x, sr=rate, units="time") for x in (a, b)]
    return float(mir_eval.onset.f_measure(onsets[0], onsets[1], window=0.05)[0])


def mfcc_distance(a: np.ndarray, b: np.ndarray, rate: int) -> float:
    ma, mb = (librosa.feature.mfcc(y=x, sr=rate, n_mfcc=20)[1:] for x in (a, b))
    return float(np.sqrt(((ma - mb) ** 2).mean()))


def ten_seconds(model: Path, spectrum: Spectrum, repeats: int = 5) -> float:
    """Seconds to stylise 10 s of sound through the ONNX model, STFT and reconstruction included (best of
    `repeats`: a shared machine only ever slows a run down)."""
    session = SoundModel(model, "cpu")
    wave = np.random.default_rng(0).uniform(-0.3, 0.3, (1, 10 * spectrum.rate)).astype(np.float32)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        stylize_wave(session, wave)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--models", type=Path, default=Path("bench/out/sound_models"))
    parser.add_argument("--resume", action="store_true", help="continue the run kept in --models to --steps")
    parser.add_argument("--content-weight", type=float, default=SoundTrainConfig.content_weight)
    parser.add_argument("--style-weight", type=float, default=SoundTrainConfig.style_weight)
    parser.add_argument("--name", default="cello")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = args.models / args.name
    cfg = SoundTrainConfig(
        style=str(DATA / "style" / "cello.wav"),
        dataset=str(DATA / "music"),
        out=str(out),
        steps=args.steps,
        content_weight=args.content_weight,
        style_weight=args.style_weight,
        log_every=25,
    )
    started = time.perf_counter()
    model = (resume_sound(out, steps=args.steps) if args.resume else train_sound(cfg, overwrite=True)).model
    seconds = time.perf_counter() - started
    net, spectrum, _ = load_sound_model(model)
    style = analyse(spectrum, torch.from_numpy(read_audio(cfg.style, spectrum.rate, mono=True)[0]))[0]
    judge = sound_objective(spectrum, style, judge=True)  # other seed and widths than training (fasttx evaluate's)

    def style_distance(frames: torch.Tensor) -> float:
        with torch.no_grad():
            return float(judge.distances(frames[None], judge.content_targets(frames[None]))[1])

    rows = []
    for a_path in sorted((DATA / "held_out").glob("*_piano.wav")):
        a = read_audio(a_path, spectrum.rate, mono=True)[0]
        b = read_audio(a_path.with_name(a_path.name.replace("_piano", "_cello")), spectrum.rate, mono=True)[0]
        n = min(len(a), len(b))
        a, b = a[:n], b[:n]
        frames, phase = analyse(spectrum, torch.from_numpy(a))
        with torch.no_grad():
            styled = net(frames[None])[0]
        o = synthesise(spectrum, styled, phase, n).numpy()
        write_wav(out / f"{a_path.stem}_styled.wav", o[None], spectrum.rate)
        target = analyse(spectrum, torch.from_numpy(b))[0]

        def lsd(x: torch.Tensor) -> float:
            return float(((x - target) ** 2).mean().sqrt())  # noqa: B023

        row = {
            "clip": a_path.stem,
            "style_input": style_distance(frames),
            "style_output": style_distance(styled),
            "pitch_agreement": pitch_agreement(a, o, spectrum.rate),
            "onset_f1": onset_f1(a, o, spectrum.rate),
            "lsd_input": lsd(frames),
            "lsd_output": lsd(styled),
            "mfcc_input": mfcc_distance(a, b, spectrum.rate),
            "mfcc_output": mfcc_distance(o, b, spectrum.rate),
            "same_length": len(o) == len(a),
        }
        rows.append(row)
        if len(rows) == 1:  # the picture docs/sound.md shows: 3 s of input, output, the cello's render, the style
            seconds = spectrum.frames(3 * spectrum.rate)
            panels = [("piano (input)", frames), ("fasttx", styled), ("cello render (goal)", target), ("style", style)]
            sheet = spectrogram_picture(spectrum, [(label, f[:, :seconds]) for label, f in panels], stretch=1)
            sheet.save(out / "sheet.png")
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k not in ("clip", "same_length")}
    speed = ten_seconds(out / "model.onnx", spectrum)
    result = {"steps": args.steps, "train_seconds": seconds, "onnx_seconds_per_10s": speed, "rows": rows, "mean": mean}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.steps} steps in {seconds:.0f} s; 10 s of sound through model.onnx in {speed:.2f} s")
    for r in [*rows, {"clip": "mean", **mean}]:
        print(
            f"{r['clip']:>16}: style {r['style_input']:.3f} -> {r['style_output']:.3f} "
            f"({r['style_output'] / r['style_input']:.0%}); pitch {r['pitch_agreement']:.2f}; onsets F1 "
            f"{r['onset_f1']:.2f}; LSD to B {r['lsd_input']:.3f} -> {r['lsd_output']:.3f}; "
            f"MFCC to B {r['mfcc_input']:.2f} -> {r['mfcc_output']:.2f}"
        )


if __name__ == "__main__":
    main()
