"""Sound to train and judge sound models on, made offline (nothing recorded is kept in the repository).

    python bench/sound_data.py [-o bench/out/sound_data]

Writes, at 22 050 Hz mono:
  speech/       espeak-ng reading sentences in several voices
  music/        Bach chorale melodies (music21's corpus) rendered by fluidsynth with a General MIDI soundfont, each
                with one of several instruments (not the style's)
  style/        cello.wav: other chorale melodies played on the cello (the style clip of the ground-truth case)
  held_out/     melodies no other file uses, each rendered twice: piano (A) and cello (B) - a model trained on B's
                timbre should move A's render towards B's (bench/sound_quality.py)
  samples/      sonic-pi's CC0 loops and ambient recordings, where the package is installed

Needs: apt install espeak-ng fluidsynth timgm6mb-soundfont (or fluid-soundfont-gm) [sonic-pi-samples];
pip install music21 pretty_midi.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOUNDFONTS = ("/usr/share/sounds/sf2/TimGM6mb.sf2", "/usr/share/sounds/sf2/FluidR3_GM.sf2")
RATE = 22050
# General MIDI programs (0-based): the training music's instruments, and the style's
INSTRUMENTS = {"piano": 0, "guitar": 24, "organ": 19, "flute": 73, "clarinet": 71, "trumpet": 56, "marimba": 12}
STYLE = ("cello", 42)
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A painting is never finished, it simply stops in interesting places.",
    "Rain fell on the roof all night, and the river rose by morning.",
    "Seven silver swans swam slowly south.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "The museum opens at nine and closes when the last visitor leaves.",
]
VOICES = ["en-us", "en-gb", "en-us+f3", "en-gb-scotland", "en-us+m7", "en+f5"]


def chorale_melodies(count: int) -> list[list[tuple[float, float, int]]]:
    """The soprano lines of the first `count` Bach chorales of music21's corpus: (start s, end s, MIDI pitch)."""
    from music21 import corpus

    melodies = []
    for path in corpus.getComposer("bach"):
        if len(melodies) == count:
            break
        try:
            part = corpus.parse(path).parts[0].flatten().notes
        except Exception:  # noqa: BLE001 - a corpus file music21 cannot parse is skipped
            continue
        seconds = 60 / 100  # 100 quarter notes a minute
        notes = [
            (float(n.offset) * seconds, float(n.offset + n.quarterLength) * seconds, n.pitch.midi)
            for n in part
            if n.isNote
        ]
        if len(notes) >= 16:
            melodies.append(notes[:32])
    return melodies


def render(notes: list[tuple[float, float, int]], program: int, out: Path, soundfont: str) -> None:
    import pretty_midi

    midi = pretty_midi.PrettyMIDI()
    instrument = pretty_midi.Instrument(program=program)
    instrument.notes = [pretty_midi.Note(velocity=90, pitch=p, start=s, end=e) for s, e, p in notes]
    midi.instruments.append(instrument)
    with tempfile.TemporaryDirectory() as tmp:
        midi.write(f"{tmp}/m.mid")
        subprocess.run(
            ["fluidsynth", "-ni", "-q", "-g", "0.8", "-r", str(RATE), "-F", str(out), soundfont, f"{tmp}/m.mid"],
            check=True,
            capture_output=True,
        )
    _mono(out)


def _mono(path: Path) -> None:
    """fluidsynth writes stereo at the rate asked; one channel is all the models need."""
    import numpy as np

    from fasttx.sound.audio import read_audio, write_wav

    write_wav(path, read_audio(path, RATE, mono=True) * np.float32(1.0), RATE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--out", type=Path, default=Path("bench/out/sound_data"))
    parser.add_argument("--melodies", type=int, default=30)
    args = parser.parse_args()
    soundfont = next((sf for sf in SOUNDFONTS if Path(sf).is_file()), None)
    if soundfont is None or not shutil.which("fluidsynth") or not shutil.which("espeak-ng"):
        sys.exit(
            "needs espeak-ng, fluidsynth and a General MIDI soundfont (apt install espeak-ng fluidsynth "
            "timgm6mb-soundfont)"
        )
    for folder in ("speech", "music", "style", "held_out", "samples"):
        (args.out / folder).mkdir(parents=True, exist_ok=True)
    for i, sentence in enumerate(SENTENCES):
        for voice in VOICES[i % 3 :: 2]:
            out = args.out / "speech" / f"{voice.replace('+', '_')}_{i}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(out), sentence], check=True)
            _mono(out)
    melodies = chorale_melodies(args.melodies)
    held_out, style, train = melodies[:4], melodies[4:10], melodies[10:]
    names = list(INSTRUMENTS)
    for i, notes in enumerate(train):
        name = names[i % len(names)]
        render(notes, INSTRUMENTS[name], args.out / "music" / f"{name}_{i:02d}.wav", soundfont)
    # the style clip: six melodies on the cello, one after another
    style_notes, start = [], 0.0
    for notes in style:
        style_notes += [(s + start, e + start, p) for s, e, p in notes]
        start = style_notes[-1][1] + 0.5
    render(style_notes, STYLE[1], args.out / "style" / f"{STYLE[0]}.wav", soundfont)
    for i, notes in enumerate(held_out):
        render(notes, INSTRUMENTS["piano"], args.out / "held_out" / f"melody{i}_piano.wav", soundfont)
        render(notes, STYLE[1], args.out / "held_out" / f"melody{i}_{STYLE[0]}.wav", soundfont)
    samples = Path("/usr/share/sonic-pi/samples")
    for name in ("loop_amen.flac", "loop_garzul.flac", "ambi_choir.flac", "ambi_piano.flac", "guit_harmonics.flac"):
        if (samples / name).is_file():
            shutil.copy(samples / name, args.out / "samples" / name)
    print(f"wrote {sum(1 for _ in args.out.rglob('*.*'))} files under {args.out}")


if __name__ == "__main__":
    main()
