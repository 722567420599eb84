"""Video end to end: frame count, frame rate, size (odd ones too), audio, GIF input, failures leave no file."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from conftest import painting_net
from PIL import Image

from fasttx.errors import FasttxError
from fasttx.export import export_onnx
from fasttx.modelfile import load_model, save_model
from fasttx.nets.transformer import NetConfig, build_net
from fasttx.runtime.session import open_session
from fasttx.runtime.stylize import StylizeOptions, stylize_inputs
from fasttx.runtime.video import probe, stylize_video

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.pth"
    save_model(painting_net(NetConfig(arch="tiny")), path, {})
    return path


def make_video(
    path: Path,
    width: int,
    height: int,
    frames: int = 20,
    fps: int = 10,
    audio: str | None = "aac",
    pixel_format: str = "yuv420p",
) -> Path:
    """A moving colour pattern, with a 440 Hz sine track of the same duration when `audio` names a codec."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, pixel_format
        sound = None
        if audio:
            sound = out.add_stream(audio, rate=16000)
            sound.layout = "mono"
        yy, xx = np.mgrid[0:height, 0:width]
        for i in range(frames):
            rgb = np.stack([(xx * 4 + i * 10) % 256, (yy * 4) % 256, ((xx + yy) * 2 + i * 5) % 256], -1).astype(
                np.uint8
            )
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            rate, total = 16000, 16000 * frames // fps
            for start in range(0, total, 1024):
                t = np.arange(start, min(start + 1024, total)) / rate
                wave = (0.3 * np.sin(2 * np.pi * 440 * t))[None]
                if audio == "pcm_s16le":
                    chunk = av.AudioFrame.from_ndarray((wave * 32767).astype(np.int16), format="s16", layout="mono")
                else:
                    chunk = av.AudioFrame.from_ndarray(wave.astype(np.float32), format="flt", layout="mono")
                chunk.sample_rate, chunk.pts, chunk.time_base = rate, start, Fraction(1, rate)
                out.mux(sound.encode(chunk))
            out.mux(sound.encode(None))
    return path


def decode(path: Path) -> tuple[list[np.ndarray], float | None, dict[str, object]]:
    """RGB frames, seconds of audio, and stream facts of a video file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        facts = {
            "rate": stream.average_rate,
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
        }
        facts["audio"] = (
            container.streams.audio[0].codec_context.codec.canonical_name if container.streams.audio else None
        )
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    seconds = None
    if facts["audio"]:
        with av.open(str(path)) as container:
            audio = container.streams.audio[0]
            seconds = sum(f.samples for f in container.decode(audio)) / audio.codec_context.sample_rate
    return frames, seconds, facts


def test_video_with_audio_keeps_frames_rate_size_and_sound(model: Path, tmp_path: Path) -> None:
    source = make_video(tmp_path / "clip.mp4", 64, 48)
    report = stylize_inputs(
        model, [source], tmp_path / "out", StylizeOptions(batch_size=3, temporal_blend=0), device="cpu", progress=False
    )
    target = tmp_path / "out" / "clip.mp4"
    assert report.outputs == [target] and report.frames == 20 and not report.failed
    assert report.videos[str(target)].audio == "copied (aac)"
    frames, seconds, facts = decode(target)
    originals, original_seconds, _ = decode(source)
    assert len(frames) == 20 and frames[0].shape == (48, 64, 3)
    assert facts["rate"] == 10 and facts["codec"] == "h264" and facts["pix_fmt"] == "yuv420p"
    assert facts["audio"] == "aac" and seconds == pytest.approx(original_seconds, abs=0.07)
    # every frame is the network's output for its own input frame, in order, up to H.264 loss: compared in luma,
    # since 4:2:0 halves the chroma resolution of the network's fine texture
    expected = luma(open_session(model, "cpu").run_frames(np.stack(originals)))
    got = luma(np.stack(frames))
    error = np.abs(got - expected).mean(axis=(1, 2))
    assert error.max() < 6
    assert np.abs(got[1:] - expected[:-1]).mean() > 3 * error.mean()  # a frame off would show


def luma(frames: np.ndarray) -> np.ndarray:
    return frames.astype(float) @ np.array([0.299, 0.587, 0.114])


def test_odd_sized_video_keeps_its_exact_size(model: Path, tmp_path: Path) -> None:
    source = make_video(tmp_path / "odd.mkv", 65, 49, frames=8, audio=None, pixel_format="yuv444p")
    result = stylize_video(source, tmp_path / "odd_out.mkv", open_session(model, "cpu").run_frames, batch_size=4)
    assert (result.width, result.height, result.frames, result.pixel_format) == (65, 49, 8, "yuv444p")
    frames, _, facts = decode(tmp_path / "odd_out.mkv")
    assert len(frames) == 8 and frames[0].shape == (49, 65, 3) and facts["audio"] is None


def test_gif_becomes_mp4_and_pcm_audio_is_reencoded(model: Path, tmp_path: Path) -> None:
    images = [Image.fromarray(np.full((30, 40, 3), 40 * i, np.uint8)) for i in range(6)]
    images[0].save(tmp_path / "anim.gif", save_all=True, append_images=images[1:], duration=100, loop=0)
    avi = make_video(tmp_path / "talk.avi", 48, 32, frames=10, audio="pcm_s16le")
    report = stylize_inputs(model, [tmp_path / "anim.gif", avi], tmp_path / "out", device="cpu", progress=False)
    assert sorted(p.name for p in report.outputs) == ["anim.mp4", "talk.mp4"]  # H.264 needs mp4, not gif/avi
    frames, _, facts = decode(tmp_path / "out" / "anim.mp4")
    assert len(frames) == 6 and frames[0].shape == (30, 40, 3) and facts["rate"] == 10
    assert report.videos[str(tmp_path / "out" / "talk.mp4")].audio == "re-encoded (pcm_s16le -> aac)"
    frames, seconds, facts = decode(tmp_path / "out" / "talk.mp4")
    assert len(frames) == 10 and facts["audio"] == "aac" and seconds == pytest.approx(1.0, abs=0.07)


def test_mp3_in_avi_is_copied_into_mp4(model: Path, tmp_path: Path) -> None:
    source = make_video(tmp_path / "song.avi", 32, 32, frames=10, audio="libmp3lame")
    result = stylize_video(source, tmp_path / "song.mp4", open_session(model, "cpu").run_frames)
    assert result.audio == "copied (mp3)"  # the format's name, not the decoder's (mp3float)
    frames, seconds, facts = decode(tmp_path / "song.mp4")
    assert len(frames) == 10 and facts["audio"] == "mp3" and seconds == pytest.approx(1.0, abs=0.1)


def test_unreadable_video_is_reported_and_leaves_no_file(model: Path, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    make_video(tmp_path / "in" / "good.mp4", 32, 32, frames=4, audio=None)
    report = stylize_inputs(model, [tmp_path / "in"], tmp_path / "out", device="cpu", progress=False)
    assert [f.source.name for f in report.failed] == ["broken.mp4"] and "broken.mp4" in report.failed[0].error
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.mp4"]


def test_failure_mid_video_leaves_no_partial_file(model: Path, tmp_path: Path) -> None:
    source = make_video(tmp_path / "clip.mp4", 32, 32, frames=12)
    target = tmp_path / "out" / "clip.mp4"
    session = open_session(model, "cpu")
    calls = []

    def fail_on_third_batch(frames: np.ndarray) -> np.ndarray:
        calls.append(len(frames))
        if len(calls) == 3:
            raise FasttxError("the network broke")
        return session.run_frames(frames)

    with pytest.raises(FasttxError, match="the network broke"):
        stylize_video(source, target, fail_on_third_batch, batch_size=2)
    assert calls == [2, 2, 2]
    assert list((tmp_path / "out").iterdir()) == []  # neither the video nor a temp file


def test_probe_reads_size_rate_and_audio(tmp_path: Path) -> None:
    info = probe(make_video(tmp_path / "clip.mp4", 64, 48, frames=5), max_size=32)
    assert (info.width, info.height, info.rate, info.frames, info.audio) == (32, 24, 10, 5, "aac")
    with pytest.raises(FasttxError, match="cannot read video"):
        probe(tmp_path / "missing.mp4")


@pytest.mark.slow
def test_shared_gif(model: Path, tmp_path: Path, shared_data: Path) -> None:
    source = shared_data / "video" / "sintel_2s.gif"
    options = StylizeOptions(max_size=64, batch_size=25, temporal_blend=0)
    report = stylize_inputs(model, [source], tmp_path / "sintel.mp4", options, device="cpu", progress=False)
    result = report.videos[str(tmp_path / "sintel.mp4")]
    assert (result.frames, result.width, result.height, result.fps, result.audio) == (50, 64, 26, 25.0, "none")
    assert result.pixel_format == "yuv420p"  # a size fasttx picks is even


def test_temporal_blend_steadies_a_video_from_an_onnx_model(model: Path, tmp_path: Path) -> None:
    pytest.importorskip("cv2")
    source = make_video(tmp_path / "clip.mp4", 64, 48, frames=12, audio=None)
    net, _ = load_model(model)
    onnx = tmp_path / "tiny.onnx"
    export_onnx(net, onnx)
    options = StylizeOptions(batch_size=5, temporal_blend=0.6)
    report = stylize_inputs(onnx, [source], tmp_path / "out", options, device="cpu", progress=False)
    assert report.frames == 12 and not report.failed
    originals, _, _ = decode(source)
    plain = luma(open_session(onnx, "cpu").run_frames(np.stack(originals)))
    got = luma(np.stack(decode(tmp_path / "out" / "clip.mp4")[0]))
    assert np.abs(got[0] - plain[0]).mean() < 3  # the first frame is the network's alone
    assert np.abs(np.diff(got, axis=0)).mean() < 0.8 * np.abs(np.diff(plain, axis=0)).mean()
    with pytest.raises(FasttxError, match="temporal-blend"):
        stylize_inputs(onnx, [source], tmp_path / "again", StylizeOptions(temporal_blend=1.5), device="cpu")


@pytest.mark.filterwarnings("ignore:VGG weights are random")
def test_evaluate_video_measures_flicker_against_the_inputs_own(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("cv2")
    from conftest import run_cli, write_photo

    source = make_video(tmp_path / "clip.mp4", 64, 48, frames=10, audio=None)
    style = write_photo(tmp_path / "style.png", size=(32, 32), seed=3)
    identity = tmp_path / "identity.pth"  # an additive network with a zero head returns its input exactly
    net = build_net(NetConfig(arch="tiny")).eval()
    torch.nn.init.zeros_(net.body.head.weight)  # (a fresh head's small random weights hang on the tests run before:
    save_model(net, identity, {})  # in one full run they drew a flicker 1.1 % off the input's)

    def measure(path: Path, *extra: str) -> dict[str, object]:
        args = ["evaluate", "-m", str(path), "-s", str(style), "--video", str(source), "--frames", "8"]
        assert (
            run_cli(monkeypatch, *args, "--size", "64", "--vgg-weights", "random", "--device", "cpu", "--json", *extra)
            == 0
        )
        return json.loads(capsys.readouterr().out)

    same = measure(identity)
    assert same["frames"] == 8 and len(same["per_frame"]) == 7 and (same["width"], same["height"]) == (64, 48)
    assert same["output_error"] == pytest.approx(same["input_error"], rel=0.01) and same["content"] < 1e-3
    assert same["style"] == pytest.approx(same["input_style"], rel=0.01)
    plain, blended = measure(model), measure(model, "--temporal-blend", "0.6")
    assert plain["input_error"] == same["input_error"] and blended["temporal_blend"] == 0.6
    assert blended["output_error"] < plain["output_error"]
    assert run_cli(monkeypatch, "evaluate", "-m", str(model), "-s", str(style)) == 1  # neither photos nor a video
    assert "--photos" in capsys.readouterr().err


def test_webcam_from_a_file_backed_source_records_what_it_stylised(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("cv2")
    from conftest import run_cli

    source = make_video(tmp_path / "camera.mp4", 64, 48, frames=12, audio=None)  # stands in for a camera device
    recording = tmp_path / "live.mp4"
    args = ["webcam", "-m", str(model), "--camera", str(source), "--no-window", "-o", str(recording)]
    args += ["--temporal-blend", "0"]  # the network's frames alone, to compare with
    assert run_cli(monkeypatch, *args, "--frames", "8") == 0
    frames, _, facts = decode(recording)
    originals, _, _ = decode(source)
    expected = luma(open_session(model, "cpu").run_frames(np.stack(originals[:8])))
    assert len(frames) == 8 and facts["codec"] == "h264"
    assert np.abs(luma(np.stack(frames)) - expected).mean(axis=(1, 2)).max() < 6
    assert run_cli(monkeypatch, *args) == 1  # the recording exists: refused without --overwrite
    assert run_cli(monkeypatch, *args, "--overwrite", "--strength", "0") == 0  # to the end of the source
    assert len(decode(recording)[0]) == 12
    # a window with the headless OpenCV wheel, and nowhere for the frames to go: one-line errors
    assert run_cli(monkeypatch, "webcam", "-m", str(model), "--camera", str(source)) == 1
    assert run_cli(monkeypatch, "webcam", "-m", str(model), "--camera", str(source), "--no-window") == 1
    assert (
        run_cli(
            monkeypatch,
            "webcam",
            "-m",
            str(model),
            "--camera",
            str(tmp_path / "none.mp4"),
            "-o",
            "x.mp4",
            "--no-window",
        )
        == 1
    )
