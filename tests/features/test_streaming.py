"""Streaming equals whole-file processing bit for bit: audio, log-mel, network outputs, events."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from mtsed.config import FeatureConfig
from mtsed.detection.decoders import decode
from mtsed.detection.outputs import SegmentRunner, network_outputs
from mtsed.features import streaming
from mtsed.features.logmel import MEL_BLOCK, log_mel
from mtsed.features.streaming import LogMelStream, read_blocks, stream_log_mel
from mtsed.io.audio import AudioError, load_audio
from mtsed.model.network import CRNN
from tests.conftest import small_spec

CFG = FeatureConfig()


def noise_file(path: Path, seconds: float, rate: int, channels: int = 1, extra: int = 0) -> Path:
    """Noise with a tone, ``extra`` samples past a whole number of seconds."""
    rng = np.random.default_rng(rate + channels)
    n = int(seconds * rate) + extra
    signal = 0.05 * rng.standard_normal((n, channels)) + 0.3 * np.sin(np.arange(n) * 0.07)[:, None]
    sf.write(str(path), signal.astype(np.float32), rate, format="FLAC")
    return path


@pytest.mark.parametrize(("rate", "channels"), [(44100, 1), (22050, 2), (16000, 1), (48000, 2)])
@pytest.mark.parametrize("block_seconds", [0.37, 4.0])
def test_blocks_equal_whole_file_audio(tmp_path: Path, rate: int, channels: int, block_seconds: float):
    path = noise_file(tmp_path / "a.flac", 23, rate, channels, extra=457)  # no length a multiple of anything
    blocks = list(read_blocks(path, 44100, block_seconds))
    whole = load_audio(path, 44100)
    assert len(blocks) > 3 and all(b.dtype == np.float32 for b in blocks)
    streamed = np.concatenate(blocks)
    assert streamed.shape == whole.shape and np.array_equal(streamed, whole)


@pytest.mark.parametrize("pieces", [[1], [1_000, 1], [44_100 * 7 + 13, 5_003, 1], [MEL_BLOCK * 882 - 1, 882, 1024, 1]])
def test_log_mel_stream_equals_whole_file_log_mel(pieces: list[int]):
    rng = np.random.default_rng(len(pieces))
    signal = (0.1 * rng.standard_normal(44100 * 21 + 611)).astype(np.float32)
    cuts = np.cumsum(pieces * 200)
    cuts = cuts[cuts < len(signal)]
    blocks = np.split(signal, cuts)
    streamed = np.concatenate(list(stream_log_mel(iter(blocks), CFG)))
    whole = log_mel(signal, CFG)
    assert streamed.shape == whole.shape and np.array_equal(streamed, whole)


def test_log_mel_stream_keeps_only_one_frame_of_context():
    stream = LogMelStream(CFG)
    signal = np.zeros(44100 * 60, np.float32)
    for block in np.split(signal, 60):
        stream.push(block)
        assert len(stream._buffer) < (MEL_BLOCK + 1) * CFG.hop_length + CFG.n_fft + 44100  # not the whole minute
    assert len(stream.finish()) >= 1


@pytest.mark.parametrize("cuts", [[], [1], [511, 1000, 1001], [2048, 2049], list(range(7, 3000, 333))])
def test_segment_runner_equals_network_outputs_bit_for_bit(cuts: list[int]):
    torch.manual_seed(0)
    model = CRNN(small_spec(2, filters=8, hidden=8)).eval()
    features = np.random.default_rng(1).standard_normal((2 * 4 * 128 + 77, 40)).astype(np.float32)
    runner = SegmentRunner(model, 128, batch_size=4)
    for piece in np.split(features, cuts):
        runner.push(piece)
    assert np.array_equal(runner.finish(), network_outputs(model, features, 128, batch_size=4))


def test_bad_files_are_named(tmp_path: Path):
    with pytest.raises(AudioError, match="missing.wav: no such audio file"):
        list(read_blocks(tmp_path / "missing.wav", 44100))
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    with pytest.raises(AudioError, match="junk.wav: unreadable audio"):
        list(read_blocks(tmp_path / "junk.wav", 44100))
    sf.write(str(tmp_path / "empty.wav"), np.zeros(0, np.float32), 22050)
    with pytest.raises(AudioError, match="empty.wav: empty audio"):
        list(read_blocks(tmp_path / "empty.wav", 44100))
    bad = np.zeros(44100 * 3, np.float32)
    bad[100_000] = np.nan
    sf.write(str(tmp_path / "nan.wav"), bad, 44100, subtype="FLOAT")
    with pytest.raises(AudioError, match="nan.wav: audio contains NaN"):
        list(read_blocks(tmp_path / "nan.wav", 44100, block_seconds=1.0))


@pytest.mark.parametrize("system", ["proposed", "baseline"])
def test_streamed_detection_equals_whole_file_detection(tiny_trained: Path, tmp_path: Path, monkeypatch, system: str):
    from dataclasses import replace

    from mtsed.detection.bundle import load_bundle

    bundle = load_bundle(tiny_trained / "bundles" / "overlapping" / system / "bundle.pt")
    n = len(bundle.labels)  # thresholds low enough that the two-epoch model finds events
    bundle = replace(bundle, alpha=(0.2,) * n, second=((0.05,) if system == "proposed" else (3,)) * n)
    wav = next((tiny_trained / "data" / "overlapping" / "audio").glob("*.wav"))
    audio, rate = sf.read(str(wav), dtype="float32")
    path = tmp_path / "long.flac"
    sf.write(str(path), np.concatenate([audio, audio[: len(audio) // 3 + 101]]), rate, format="FLAC")
    fold_outputs = bundle.fold_outputs(log_mel(load_audio(path, bundle.features.sample_rate), bundle.features))
    expected = decode(
        bundle.common_decoder,
        bundle.scores(fold_outputs),
        fold_outputs,
        np.asarray(bundle.alpha),
        np.asarray(bundle.second),
        bundle.labels,
        bundle.frame_seconds,
        bundle.segment_frames,
        "long.flac",
    )
    monkeypatch.setattr(streaming, "BLOCK_SECONDS", 1.3)
    seen: list[float] = []
    events, scores, seconds = bundle.analyse(path, "long.flac", on_audio=seen.append)
    assert (
        len(seen) > 5
        and sum(seen) == pytest.approx(seconds)
        and seconds == pytest.approx(sf.info(str(path)).duration, abs=1e-3)
    )
    assert events == expected and len(expected) > 0
    assert np.array_equal(scores, bundle.scores(fold_outputs))
