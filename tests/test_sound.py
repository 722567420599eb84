"""Sound: reading and writing, the spectrogram round trip, the random encoder, the objective and the network."""

from __future__ import annotations

import json
import math
import wave
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from fasttx.errors import FasttxError
from fasttx.losses import gram_matrix, relative_error
from fasttx.modelfile import load_model, load_sound_model, save_sound_model, shipped_models
from fasttx.runtime.session import load_onnx_session
from fasttx.sound.audio import find_sounds, read_audio, sound_rate, write_wav
from fasttx.sound.config import SoundNetConfig, SoundTrainConfig, Spectrum
from fasttx.sound.encoder import RandomEncoder, TimbreEncoder, mel_filters
from fasttx.sound.export import export_sound
from fasttx.sound.loss import SoundLoss
from fasttx.sound.measure import evaluate_sounds
from fasttx.sound.net import SoundNet
from fasttx.sound.spectrum import analyse, synthesise
from fasttx.sound.stylize import SoundModel, stylize_sound, stylize_wave
from fasttx.sound.train import resume_sound, train_sound

SHARED_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "big_buck_bunny_10s.mp4"


def tone(freq: float, seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([0.5 * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)]).astype(np.float32)


def test_a_wav_reads_back_as_written_within_one_16_bit_step(tmp_path: Path) -> None:
    samples = tone(440, 0.5, 22050, channels=2)
    write_wav(tmp_path / "a.wav", samples, 22050)
    back = read_audio(tmp_path / "a.wav", 22050)
    assert back.shape == samples.shape and back.dtype == np.float32
    assert np.abs(back - samples).max() <= 1 / 32767 + 1e-6
    mono = read_audio(tmp_path / "a.wav", 22050, mono=True)
    assert mono.shape == (1, samples.shape[1])
    np.testing.assert_allclose(mono[0], samples.mean(axis=0), atol=2e-4)


@pytest.mark.parametrize(
    ("codec", "fmt", "store", "step"),
    [
        ("pcm_u8", "u8", lambda x: np.round(x * 127 + 128).astype(np.uint8), 2 / 128),
        ("pcm_s24le", "s32", lambda x: np.round(x * (2**23 - 1)).astype(np.int32) << 8, 1e-6),
        ("pcm_s32le", "s32", lambda x: np.round(x * (2**31 - 1)).astype(np.int32), 1e-6),
        ("pcm_f32le", "flt", lambda x: x.astype(np.float32), 1e-6),
    ],
    ids=["8-bit", "24-bit", "32-bit", "float"],
)
def test_8_24_32_bit_and_float_wavs_at_an_odd_rate_read_as_their_samples(
    tmp_path: Path, codec: str, fmt: str, store: Callable[[np.ndarray], np.ndarray], step: float
) -> None:
    rate = 37800  # not one of the usual rates
    clip = np.clip(1.5 * tone(440, 0.3, rate), -1, 1)  # clipped: flat tops at full scale
    with av.open(str(tmp_path / "a.wav"), "w", format="wav") as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(store(clip), format=fmt, layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    back = read_audio(tmp_path / "a.wav", rate)
    assert back.shape == clip.shape
    np.testing.assert_allclose(back, clip, atol=step)


def test_reading_resamples_and_keeps_the_pitch(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", tone(1000, 1.0, 44100), 44100)
    back = read_audio(tmp_path / "a.wav", 16000)[0]
    assert abs(len(back) - 16000) <= 32  # FFmpeg's resampler may hold back its filter's delay at the very end
    spectrum = np.abs(np.fft.rfft(back * np.hanning(len(back))))
    assert abs(np.argmax(spectrum) * 16000 / len(back) - 1000) < 2


def test_a_loud_sound_is_scaled_down_as_a_whole_not_clipped(tmp_path: Path) -> None:
    samples = 3.0 * tone(200, 0.2, 8000)
    write_wav(tmp_path / "loud.wav", samples, 8000)
    back = read_audio(tmp_path / "loud.wav", 8000)
    np.testing.assert_allclose(back, samples / np.abs(samples).max(), atol=1 / 32767 + 1e-6)


def test_nan_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    samples = tone(200, 0.1, 8000)
    samples[0, 5] = np.nan
    with pytest.raises(FasttxError, match="NaN"):
        write_wav(tmp_path / "bad.wav", samples, 8000)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", [b"", b"not a sound at all" * 50, b"RIFF\x10\x00\x00\x00WAVEfmt "])
def test_files_that_are_not_sound_are_refused_in_one_line(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "x.wav").write_bytes(content)
    with pytest.raises(FasttxError) as error:
        read_audio(tmp_path / "x.wav", 22050)
    assert "\n" not in str(error.value) and "x.wav" in str(error.value)


def test_an_empty_wav_is_refused(tmp_path: Path) -> None:
    with wave.open(str(tmp_path / "empty.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
    with pytest.raises(FasttxError, match="no samples"):
        read_audio(tmp_path / "empty.wav", 8000)


@pytest.mark.skipif(not SHARED_VIDEO.is_file(), reason="needs ../shared/data/video")
def test_a_videos_soundtrack_is_read_and_a_folder_lists_it(tmp_path: Path) -> None:
    sound = read_audio(SHARED_VIDEO, 22050, mono=True)
    assert sound.shape[0] == 1 and 9 * 22050 < sound.shape[1] < 11 * 22050 and np.abs(sound).max() > 0.01
    assert find_sounds(SHARED_VIDEO.parent) and all(
        p.suffix in (".mp4", ".mov", ".mkv") for p in find_sounds(SHARED_VIDEO.parent)
    )


@pytest.mark.parametrize("samples", [1, 255, 256, 5001])
def test_analyse_then_synthesise_gives_back_the_wave_at_its_exact_length(samples: int) -> None:
    spectrum = Spectrum()
    wave_ = torch.from_numpy(np.random.default_rng(0).uniform(-0.5, 0.5, (2, samples)).astype(np.float32))
    frames, phase = analyse(spectrum, wave_)
    assert frames.shape == (2, spectrum.bins, spectrum.frames(samples)) and (frames >= 0).all()
    back = synthesise(spectrum, frames, phase, samples)
    assert back.shape == wave_.shape
    inner = slice(spectrum.n_fft, -spectrum.n_fft) if samples > 3 * spectrum.n_fft else slice(None)
    np.testing.assert_allclose(back[:, inner], wave_[:, inner], atol=1e-4)


def test_griffin_lim_rounds_bring_the_sound_heard_to_the_spectrogram_asked_for() -> None:
    spectrum = Spectrum()
    wave_ = torch.from_numpy(tone(220, 0.5, 22050)[0] + 0.05 * np.random.default_rng(0).standard_normal(11025))
    frames, phase = analyse(spectrum, wave_.float())
    np.testing.assert_allclose(synthesise(spectrum, frames, phase, 11025, rounds=3), wave_, atol=1e-4)  # a fixed point
    asked = frames + 0.5 * (torch.arange(spectrum.bins) < 60)[:, None]  # low bins louder: the old phase no longer fits

    def gap(rounds: int) -> float:
        heard = analyse(spectrum, synthesise(spectrum, asked, phase, 11025, rounds))[0]
        return float(((heard - asked) ** 2).mean().sqrt())

    gaps = [gap(rounds) for rounds in (0, 1, 4, 16)]
    assert all(later <= earlier + 1e-6 for earlier, later in zip(gaps[:-1], gaps[1:], strict=True)), gaps
    assert gaps[-1] < 0.7 * gaps[0], gaps


def test_the_gram_of_sound_features_is_the_hand_computed_one() -> None:
    features = torch.arange(12.0).reshape(1, 2, 6)
    f = features[0]
    np.testing.assert_allclose(gram_matrix(features)[0], (f @ f.T) / 12)


def test_in_the_timbre_view_a_pitch_shift_moves_less_than_another_envelope() -> None:
    spectrum = Spectrum()
    encoder = TimbreEncoder(spectrum, channels=64)
    filters = mel_filters(spectrum, 128)
    assert filters.shape == (128, spectrum.bins) and np.allclose(filters.sum(axis=1), 1) and (filters >= 0).all()
    t = torch.arange(spectrum.rate) / spectrum.rate

    def note(f0: float, brightness: float) -> torch.Tensor:  # harmonics decaying as k^-brightness
        wave_ = sum(torch.sin(2 * math.pi * f0 * k * t) * k**-brightness for k in range(1, 20) if f0 * k < 10000)
        return analyse(spectrum, 0.1 * wave_)[0][None]

    def gram(frames: torch.Tensor) -> torch.Tensor:
        return torch.cat([gram_matrix(v) for v in encoder(frames).values()])

    base = note(220, 1.0)
    shifted, brighter = note(247, 1.0), note(220, 2.5)
    pitch = relative_error(gram(shifted), gram(base)).mean()
    timbre = relative_error(gram(brighter), gram(base)).mean()
    assert pitch < 0.5 * timbre


def test_the_encoder_is_drawn_from_its_seed() -> None:
    a, b, c = (
        RandomEncoder(16, (3, 9), 8, seed=0),
        RandomEncoder(16, (3, 9), 8, seed=0),
        RandomEncoder(16, (3, 9), 8, 1),
    )
    x = torch.rand(2, 16, 40)
    assert all(torch.equal(a(x)[k], b(x)[k]) for k in a(x))
    assert not torch.equal(a(x)["w3"], c(x)["w3"])
    assert {k: v.shape for k, v in a(x).items()} == {"w3": (2, 8, 40), "w9": (2, 8, 40)}


def test_the_objective_is_zero_for_the_style_itself_and_its_content_for_the_input() -> None:
    torch.manual_seed(0)
    style = torch.rand(16, 50)
    encoder = RandomEncoder(16, (3, 9), 32)
    objective = SoundLoss(encoder, encoder, style, content_weight=1.0, style_weight=1.0)
    content, style_d = objective.distances(style[None], objective.content_targets(style[None]))
    assert content.item() == pytest.approx(0.0, abs=1e-6) and style_d.item() == pytest.approx(0.0, abs=1e-6)
    other = torch.rand(1, 16, 70) * torch.linspace(0, 2, 16)[:, None]
    content, style_d = objective.distances(other, objective.content_targets(other))
    assert content.item() == pytest.approx(0.0, abs=1e-6) and style_d.item() > 0.01


@pytest.mark.parametrize("frames", [2, 16, 300])
def test_an_untrained_network_is_the_identity_at_any_length(frames: int) -> None:
    net = SoundNet(SoundNetConfig(bins=33, width=16))
    x = torch.rand(2, 33, frames)
    y = net(x)
    assert torch.equal(y, x)


def test_the_edit_fades_out_below_audible_levels_and_silence_stays_silent() -> None:
    """A frame whose loudest bin is 60 dB below a full-scale sine's peak (Hann window of 2 (bins - 1) samples:
    (bins - 1) / 2) gets half of the edit, one at 50 dB below all of it, one at 70 dB below and silence none."""
    bins, full_scale = 33, 16.0
    levels = torch.tensor(
        [0.0, full_scale * 10 ** (-70 / 20), full_scale * 10 ** (-60 / 20), full_scale * 10 ** (-50 / 20)]
    )
    frames = torch.zeros(1, bins, 64)
    frames[0, 5] = torch.log1p(levels.repeat_interleave(16))  # 16 frames at each level, silence first
    net = SoundNet(SoundNetConfig(bins=bins, width=16))
    torch.nn.init.normal_(net.head.weight, std=0.1)
    torch.nn.init.constant_(net.head.bias, 0.3)  # an edit everywhere, as a trained head makes
    with torch.no_grad():
        edit = net.head(net.blocks(net.inp(frames)))
        out = net(frames)
    expected = (frames + torch.tensor([0.0, 0.0, 0.5, 1.0]).repeat_interleave(16) * edit).clamp_min(0)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)
    assert torch.equal(out[..., :32], frames[..., :32]) and not torch.equal(out[..., 48:], frames[..., 48:])


def test_the_network_puts_nothing_ahead_of_an_onset() -> None:
    """Its convolutions see only earlier frames: a note at frame 120 changes the frames before it no more than it
    changes those far away (instance norm, over the whole sound, moves every frame a little), where a two-sided
    network ramps up over the ten frames before the note (to 5x the far frames', measured)."""
    torch.manual_seed(0)
    net = SoundNet(SoundNetConfig()).eval()
    nn.init.normal_(net.head.weight, std=0.05)  # a trained head: an edit that depends on the input
    x = torch.rand(1, net.config.bins, 200) * 3
    onset = x.clone()
    onset[:, :, 120:125] += 2
    with torch.no_grad():
        change = (net(onset) - net(x)).abs().mean(dim=1)[0]
    far, just_before, during = change[:40].mean(), change[110:120].mean(), change[120:125].mean()
    assert just_before < 1.5 * far and during > 5 * far


def sound_run(tmp_path: Path, **settings: object) -> SoundTrainConfig:
    """A run small enough for a test: three two-second tones to learn on, a chord as the style."""
    (tmp_path / "sounds").mkdir(parents=True, exist_ok=True)
    for i, freq in enumerate((220, 330, 440)):
        write_wav(tmp_path / "sounds" / f"tone{i}.wav", tone(freq, 2.0, 22050), 22050)
    write_wav(tmp_path / "chord.wav", tone(262, 2.0, 22050) + tone(392, 2.0, 22050), 22050)
    values = dict(crop_frames=16, batch_size=2, steps=4, log_every=1, preview_every=2, checkpoint_every=2, onnx=False)
    values.update(settings)
    return SoundTrainConfig(
        style=str(tmp_path / "chord.wav"),
        dataset=str(tmp_path / "sounds"),
        out=str(tmp_path / "run"),
        net=SoundNetConfig(width=16, dilations=(1, 2)),
        **values,  # type: ignore[arg-type]
    )


def test_a_sound_run_writes_its_model_previews_and_log_and_resumes_exactly(tmp_path: Path) -> None:
    model = train_sound(sound_run(tmp_path, onnx=True), progress=False).model
    net, spectrum, meta = load_sound_model(model)
    assert meta["style"] == "chord.wav" and spectrum == Spectrum()
    rows = [json.loads(line) for line in (tmp_path / "run" / "train.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [1, 2, 3, 4] and all(np.isfinite(row["total"]) for row in rows)
    for name in ("step_000002.png", "step_000002.wav", "step_000004.png"):
        assert (tmp_path / "run" / "previews" / name).stat().st_size > 0
    preview = read_audio(tmp_path / "run" / "previews" / "step_000004.wav", 22050)
    assert preview.shape == (1, 2 * 2 * sound_run(tmp_path).crop_samples)  # two crops, each then its stylisation
    train_sound(sound_run(tmp_path / "again", steps=2), progress=False)
    resume_sound(tmp_path / "again" / "run", steps=4, progress=False)
    resumed = load_sound_model(tmp_path / "again" / "run" / "model.pth")[0].state_dict()
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(resumed[name].numpy(), value.numpy(), err_msg=name)


def test_a_sound_run_refuses_silence_short_clips_and_image_models(tmp_path: Path) -> None:
    cfg = sound_run(tmp_path)
    for path in (tmp_path / "sounds").iterdir():
        write_wav(path, np.zeros((1, 22050), np.float32), 22050)
    with pytest.raises(FasttxError, match="silent"):
        train_sound(cfg, progress=False)
    with pytest.raises(FasttxError, match="lasts"):
        train_sound(sound_run(tmp_path, crop_frames=4000), progress=False)
    with pytest.raises(FasttxError, match="--lr"):
        train_sound(sound_run(tmp_path, lr=float("nan")), progress=False)


@pytest.fixture(scope="module")
def sound_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained-for-a-few-steps sound model with its edit made visible (random head), as model.pth."""
    tmp_path = tmp_path_factory.mktemp("sound_model")
    model = train_sound(sound_run(tmp_path, steps=2), progress=False).model
    net, spectrum, meta = load_sound_model(model)
    with torch.no_grad():
        net.head.weight.normal_(0, 0.02, generator=torch.Generator().manual_seed(0))
    return save_sound_model(net, tmp_path / "edited.pth", spectrum, meta)


def test_the_onnx_export_matches_pytorch_at_any_length_and_describes_itself(sound_model: Path, tmp_path: Path) -> None:
    path = export_sound(sound_model, tmp_path / "m.onnx")
    net, spectrum, _ = load_sound_model(sound_model)
    session, meta = load_onnx_session(path, "cpu")
    assert meta["kind"] == "sound" and Spectrum(**meta["spectrum"]) == spectrum and meta["min_frames"] == 16
    for frames in (16, 17, 1000):
        x = 2 * torch.rand(1, spectrum.bins, frames)
        with torch.no_grad():
            expected = net(x).numpy()
        np.testing.assert_allclose(session.run(None, {"log_magnitude": x.numpy()})[0], expected, atol=1e-4)
    with pytest.raises(FasttxError, match="exists"):
        export_sound(sound_model, path)


def test_a_stereo_44k_file_comes_back_at_its_rate_length_and_channels(sound_model: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.wav"
    write_wav(source, tone(330, 1.31, 44100, channels=2)[:, :57331], 44100)
    for model in (sound_model, export_sound(sound_model, tmp_path / "m.onnx")):
        out = stylize_sound(SoundModel(model), source, tmp_path / f"out_{model.suffix[1:]}.wav")
        back = read_audio(out, 44100)
        assert sound_rate(out) == 44100 and back.shape == (2, 57331)
        assert np.abs(back).max() > 0.05 and not np.allclose(back, read_audio(source, 44100), atol=1e-3)
    torch_out, onnx_out = (read_audio(tmp_path / f"out_{kind}.wav", 44100) for kind in ("pth", "onnx"))
    np.testing.assert_allclose(torch_out, onnx_out, atol=2e-3)


def test_strength_zero_gives_the_input_back(sound_model: Path, tmp_path: Path) -> None:
    wave_ = tone(440, 0.8, 22050)
    out = stylize_wave(SoundModel(sound_model), wave_, strength=0.0)
    np.testing.assert_allclose(out, wave_, atol=1e-4)


@pytest.mark.parametrize("rounds", [-1, 10**12])
def test_griffin_lim_rounds_out_of_range_are_refused_and_nothing_is_written(
    sound_model: Path, tmp_path: Path, rounds: int
) -> None:
    write_wav(tmp_path / "in.wav", tone(440, 0.5, 22050), 22050)
    with pytest.raises(FasttxError, match="--griffin-lim must be 0 to"):
        stylize_sound(SoundModel(sound_model), tmp_path / "in.wav", tmp_path / "out.wav", rounds=rounds)
    assert not (tmp_path / "out.wav").exists()


def test_a_long_sound_goes_through_in_pieces_without_seams(sound_model: Path) -> None:
    """Pieces of 1 s overlapping by 0.25 s against the whole in one piece: nearly the same sound, and no click
    where pieces meet (the largest jump between neighbouring samples no larger than in the whole)."""
    model = SoundModel(sound_model)
    t = np.arange(5 * 22050) / 22050
    wave_ = (0.3 * np.sin(2 * np.pi * (200 + 60 * t) * t))[None].astype(np.float32)  # a slow sweep
    whole = stylize_wave(model, wave_, chunk=10.0)
    pieces = stylize_wave(model, wave_, chunk=1.0)
    assert pieces.shape == wave_.shape
    # each piece normalises over its own second (instance norm): close to the whole, not equal (9 % RMS here)
    assert np.sqrt(np.mean((pieces - whole) ** 2)) < 0.2 * np.sqrt(np.mean(whole**2))
    jumps = np.abs(np.diff(pieces[0]))
    assert jumps.max() <= 1.5 * np.abs(np.diff(whole[0])).max()


def test_sound_and_image_models_are_not_mixed_up(sound_model: Path, tmp_path: Path) -> None:
    with pytest.raises(FasttxError, match="sound model"):
        load_model(sound_model)
    with pytest.raises(FasttxError, match="not a sound model|image model"):
        SoundModel(next(iter(shipped_models().values())))
    source = tmp_path / "in.wav"
    write_wav(source, tone(330, 0.5, 22050), 22050)
    with pytest.raises(FasttxError, match="input"):
        stylize_sound(SoundModel(sound_model), source, source, overwrite=True)
    assert read_audio(source, 22050).shape == (1, 11025)  # the input is untouched


def test_the_cli_trains_resumes_and_stylizes_sound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from conftest import run_cli

    cfg = sound_run(tmp_path)
    common = ["--style", cfg.style, "--dataset", cfg.dataset, "-o", str(tmp_path / "m"), "--batch-size", "2"]
    assert run_cli(monkeypatch, "train", *common, "--steps", "2", "--every", "1", "--no-progress") == 0
    assert {"model.pth", "model.onnx", "checkpoint.pt", "train.jsonl"} <= {p.name for p in (tmp_path / "m").iterdir()}
    assert run_cli(monkeypatch, "resume", str(tmp_path / "m"), "--steps", "3", "--no-progress") == 0
    source = tmp_path / "speech.wav"
    write_wav(source, tone(180, 0.7, 16000), 16000)
    out = tmp_path / "styled.wav"
    assert run_cli(monkeypatch, "stylize", str(source), "-m", str(tmp_path / "m" / "model.onnx"), "-o", str(out)) == 0
    assert sound_rate(out) == 16000 and read_audio(out, 16000).shape == (1, 11200)
    assert run_cli(monkeypatch, "stylize", str(source), "-m", str(tmp_path / "m" / "model.onnx"), "-o", str(out)) == 1
    model = str(tmp_path / "m" / "model.onnx")
    again = ["export", str(tmp_path / "m" / "model.pth"), "-o", str(tmp_path / "again.onnx")]
    assert run_cli(monkeypatch, *again) == 0 and SoundModel(tmp_path / "again.onnx").meta["kind"] == "sound"
    capsys.readouterr()
    assert run_cli(monkeypatch, *again, "--overwrite", "--fp16") == 1
    assert "--fp16 is for image models" in capsys.readouterr().err
    assert (
        run_cli(monkeypatch, "stylize", str(source), "-m", model, "-o", str(out), "--overwrite", "--griffin-lim", "4")
        == 0
    )
    assert read_audio(out, 16000).shape == (1, 11200)
    Image.new("RGB", (32, 32)).save(tmp_path / "photo.png")
    photo = ["stylize", str(tmp_path / "photo.png"), "-m", model, "-o", str(tmp_path / "styled.png")]
    capsys.readouterr()
    assert run_cli(monkeypatch, *photo, "--griffin-lim", "4") == 1 and not (tmp_path / "styled.png").exists()
    assert "--griffin-lim is for sound" in capsys.readouterr().err
    sound = ["stylize", str(source), "-m", model, "-o", str(tmp_path / "other.wav")]
    assert run_cli(monkeypatch, *sound, "--max-size", "100") == 1 and not (tmp_path / "other.wav").exists()
    assert "--max-size is for images and videos" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--image-size", "256"], ["--arch", "tiny"], ["--no-amp"]])
def test_an_image_option_given_with_a_sound_style_is_refused_not_ignored(
    option: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from conftest import run_cli

    cfg = sound_run(tmp_path)
    args = ["train", "--style", cfg.style, "--dataset", cfg.dataset, "-o", str(tmp_path / "m"), *option]
    assert run_cli(monkeypatch, *args) == 1
    assert f"{option[0].replace('--no-', '--')} is for image styles" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("samples", [1, 100, 3000])
def test_sounds_shorter_than_the_network_needs_come_back_whole(sound_model: Path, samples: int) -> None:
    out = stylize_wave(SoundModel(sound_model), tone(300, 1.0, 22050)[:, :samples])
    assert out.shape == (1, samples) and np.isfinite(out).all()


def test_the_docs_numpy_example_gives_what_fasttx_gives(sound_model: Path, tmp_path: Path) -> None:
    """docs/sound.md shows the ONNX model run with numpy and onnxruntime alone: it must agree with fasttx."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "sound.md").read_text()
    code = text.split("```python\n")[1].split("```")[0]
    namespace: dict[str, object] = {}
    exec(code, namespace)  # noqa: S102 - the project's own documentation
    model = export_sound(sound_model, tmp_path / "m.onnx")
    # noise: every bin has a phase worth the name (a silent bin's is rounding noise, different in any two programs)
    wave_ = np.random.default_rng(0).uniform(-0.3, 0.3, 2 * 22050).astype(np.float32)
    ours = stylize_wave(SoundModel(model), wave_[None])[0]
    theirs = namespace["stylize"](wave_, str(model))
    assert theirs.shape == ours.shape
    np.testing.assert_allclose(theirs, ours, atol=2e-3)


def test_evaluate_and_optimize_on_sound(sound_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The unstyled input scores content 0 against itself; the model's output moves; optimisation on the training
    objective lowers its style distance in the independent judge; the optimised WAV keeps rate and length."""
    from conftest import run_cli

    (tmp_path / "held").mkdir()
    write_wav(tmp_path / "held" / "a.wav", tone(200, 1.5, 16000), 16000)
    write_wav(tmp_path / "chord.wav", tone(262, 2.0, 22050) + tone(392, 2.0, 22050), 22050)
    identity = evaluate_sounds(sound_model, tmp_path / "chord.wav", tmp_path / "held", strength=0.0, vs_optimize=20)
    row = identity["rows"][0]
    assert row["content"] == pytest.approx(0.0, abs=1e-6) and row["style"] == pytest.approx(row["input_style"])
    assert row["optimized"]["style"] < row["input_style"] and row["optimized"]["content"] > 0
    moved = evaluate_sounds(sound_model, tmp_path / "chord.wav", tmp_path / "held")["rows"][0]
    assert moved["content"] > 1e-4 and moved["style"] != pytest.approx(row["input_style"])
    out = tmp_path / "opt.wav"
    args = ["optimize", "--content", str(tmp_path / "held" / "a.wav"), "-s", str(tmp_path / "chord.wav")]
    assert run_cli(monkeypatch, *args, "-o", str(out), "--steps", "3", "--no-progress") == 0
    assert sound_rate(out) == 16000 and read_audio(out, 16000).shape == (1, 24000)
    args = ["evaluate", "-m", str(sound_model), "-s", str(tmp_path / "chord.wav"), "--sounds", str(tmp_path / "held")]
    assert run_cli(monkeypatch, *args) == 0
