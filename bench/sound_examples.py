"""Listenable examples of a sound model for the docs: a few seconds of several kinds of sound, before and after,
as small MP3s, and one spectrogram sheet of them all.

    python bench/sound_data.py                     # the clips, once
    python bench/sound_quality.py --steps 400      # the cello model (bench/out/sound_models/cello)
    python bench/sound_examples.py [--model M] [--seconds 4]

Writes docs/audio/<case>_input.mp3, docs/audio/<case>_<style>.mp3 (mono, 48 kbit/s) and docs/img/sound_examples.jpg
(rows: the cases; input | output, log-frequency as in fasttx's previews; the style clip last).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image
from quality import SHARED
from sound_quality import DATA

from fasttx.io import save_image, write_bytes
from fasttx.sound.audio import read_audio
from fasttx.sound.picture import spectrogram_picture
from fasttx.sound.spectrum import analyse
from fasttx.sound.stylize import SoundModel, stylize_wave

# (name, file, where to start in seconds): a held-out melody the cello render of which exists, speech the model
# never heard, a film's soundtrack (music and effects), a drum loop
CASES = [
    ("piano", DATA / "held_out" / "melody0_piano.wav", 0.0),
    ("speech", DATA / "speech" / "en-us_0.wav", 0.0),
    ("film", SHARED / "video" / "big_buck_bunny_10s.mp4", 2.0),
    ("drums", DATA / "samples" / "loop_amen.flac", 0.0),
]


def mp3(wave: np.ndarray, rate: int, bit_rate: int = 48_000) -> bytes:
    """Mono float samples [n] -> MP3 bytes (PyAV's libmp3lame): a few seconds in tens of kilobytes."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=rate, layout="mono")
        stream.bit_rate = bit_rate
        samples = (np.clip(wave, -1, 1) * 32767).astype(np.int16)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("bench/out/sound_models/cello/model.onnx"))
    parser.add_argument("--style", type=Path, default=DATA / "style" / "cello.wav")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--audio", type=Path, default=Path("docs/audio"))
    parser.add_argument("--sheet", type=Path, default=Path("docs/img/sound_examples.jpg"))
    args = parser.parse_args()
    model = SoundModel(args.model)
    spectrum, name = model.spectrum, args.style.stem
    rows = []
    for case, path, start in CASES:
        if not path.is_file():
            print(f"skipped {case}: {path} is absent")
            continue
        wave = read_audio(path, spectrum.rate, mono=True)
        first = int(start * spectrum.rate)
        wave = wave[:, first : first + int(args.seconds * spectrum.rate)]
        styled = stylize_wave(model, wave)
        for label, sound in (("input", wave), (name, styled)):
            write_bytes(args.audio / f"{case}_{label}.mp3", mp3(sound[0], spectrum.rate))
        panels = [(f"{case}", wave), (f"{case} -> {name}", styled)]
        frames = [(text, analyse(spectrum, torch.from_numpy(w[0]))[0]) for text, w in panels]
        rows.append(spectrogram_picture(spectrum, frames, stretch=1))
        print(f"{case}: {args.audio}/{case}_input.mp3, {case}_{name}.mp3")
    style = read_audio(args.style, spectrum.rate, mono=True)[0, : int(args.seconds * spectrum.rate)]
    rows.append(
        spectrogram_picture(spectrum, [(f"style: {name}", analyse(spectrum, torch.from_numpy(style))[0])], stretch=1)
    )
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height + 6 for r in rows)), "white")
    top = 0
    for row in rows:
        sheet.paste(row, (0, top))
        top += row.height + 6
    save_image(sheet, args.sheet, quality=85)
    print(f"sheet: {args.sheet} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
