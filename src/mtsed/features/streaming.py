"""Streaming detection: decode, resample, log-mel and networks in blocks of a long file.

Peak memory stays flat however long the recording: only one block of audio, the samples
one STFT frame still needs, and one batch of T-frame segments are held at a time.  What
grows with length is the networks' per-frame outputs (a few dozen floats per 20 ms frame
and fold), which the decoder needs whole.

Every stage reproduces whole-file processing exactly, which tests check bit for bit:

- resampling runs soxr's streaming resampler at the same quality as ``librosa.resample``
  (``soxr_hq``); soxr keeps its filter state across chunks, so the samples are identical,
  and the end is padded or cut to librosa's length, ``ceil(n * ratio)``;
- frame ``t`` of a centred STFT reads samples ``[t*hop - n_fft/2, t*hop + n_fft/2)``;
  :class:`LogMelStream` keeps that context between blocks and computes each frame once;
- segments are the same consecutive T-frame windows from frame 0, run in the same
  batches of consecutive segments, as :func:`mtsed.detection.outputs.network_outputs`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from mtsed.config import FeatureConfig
from mtsed.features.logmel import MEL_BLOCK, log_mel_frames
from mtsed.io.audio import READ_ERRORS, empty, existing, mono_of, unreadable

BLOCK_SECONDS = 20.0
HOLDBACK = 64  # resampled samples kept back until the end, so that the length fix never retracts any


def read_blocks(path: str | Path, sample_rate: int, block_seconds: float | None = None) -> Iterator[np.ndarray]:
    """Mono float32 blocks at ``sample_rate`` (about ``block_seconds``, default
    :data:`BLOCK_SECONDS`) whose concatenation equals :func:`mtsed.io.audio.load_audio` of
    ``path``; errors name the file, as there."""
    block_seconds = BLOCK_SECONDS if block_seconds is None else block_seconds
    path = existing(path)
    try:
        sound = sf.SoundFile(str(path))
    except READ_ERRORS as error:
        raise unreadable(path, error) from None
    with sound:
        yield from _resampled(
            _mono_blocks(sound, path, max(1, int(block_seconds * sound.samplerate))),
            sound.samplerate,
            sample_rate,
            path,
        )


def _mono_blocks(sound: sf.SoundFile, path: Path, frames: int) -> Iterator[np.ndarray]:
    """The file's samples, downmixed by the channel mean, block by block."""
    while True:
        try:
            data = sound.read(frames, dtype="float32", always_2d=True)
        except READ_ERRORS as error:
            raise unreadable(path, error) from None
        if data.size == 0:
            return
        yield mono_of(data, path)


def _resampled(blocks: Iterator[np.ndarray], native_rate: int, sample_rate: int, path: Path) -> Iterator[np.ndarray]:
    """``blocks`` resampled as one signal; librosa's output length, ``ceil(n * ratio)``."""
    if native_rate == sample_rate:
        count = 0
        for block in blocks:
            count += len(block)
            yield np.ascontiguousarray(block, dtype=np.float32)
        if count == 0:
            raise empty(path)
        return
    stream = soxr.ResampleStream(native_rate, sample_rate, 1, dtype="float32", quality="HQ")
    consumed, released, held = 0, 0, np.zeros(0, np.float32)
    for block in blocks:
        consumed += len(block)
        held = np.concatenate([held, stream.resample_chunk(np.ascontiguousarray(block, np.float32))])
        if len(held) > HOLDBACK:
            out, held = held[:-HOLDBACK], held[-HOLDBACK:]
            released += len(out)
            yield out
    if consumed == 0:
        raise empty(path)
    held = np.concatenate([held, stream.resample_chunk(np.zeros(0, np.float32), last=True)])
    remaining = int(np.ceil(consumed * (float(sample_rate) / native_rate))) - released
    if remaining < 0:  # never seen: soxr overshoots librosa's length by a sample or two at most
        raise RuntimeError(f"{path}: resampled stream overshot its length by {-remaining} samples")
    tail = np.zeros(remaining, np.float32)
    tail[: min(remaining, len(held))] = held[:remaining]
    yield tail


class LogMelStream:
    """Log-mel frames of a signal fed in pieces, equal to :func:`mtsed.features.logmel.log_mel`
    of the whole signal: :meth:`push` returns the frames each piece completes and
    :meth:`finish` the last ones."""

    def __init__(self, cfg: FeatureConfig) -> None:
        self.cfg = cfg
        self._pad = cfg.n_fft // 2
        self._buffer = np.zeros(self._pad, np.float32)  # the zero-padded signal from index _start on
        self._start = 0
        self._next = 0  # first frame not yet returned
        self._samples = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        self._samples += len(samples)
        self._buffer = np.concatenate([self._buffer, np.asarray(samples, np.float32)])
        ready = (self._start + len(self._buffer) - self.cfg.n_fft) // self.cfg.hop_length + 1
        return self._frames_until(ready // MEL_BLOCK * MEL_BLOCK)  # whole blocks only, see MEL_BLOCK

    def finish(self) -> np.ndarray:
        """The remaining frames; the signal has ``1 + samples // hop`` frames in all."""
        self._buffer = np.concatenate([self._buffer, np.zeros(self._pad, np.float32)])
        return self._frames_until(1 + self._samples // self.cfg.hop_length)

    def _frames_until(self, stop: int) -> np.ndarray:
        hop = self.cfg.hop_length
        if stop <= self._next:
            return np.zeros((0, self.cfg.n_mels), np.float32)
        first = self._next * hop - self._start
        frames = log_mel_frames(self._buffer[first : (stop - 1) * hop + self.cfg.n_fft - self._start], self.cfg)
        keep = stop * hop - self._start
        self._buffer, self._start, self._next = self._buffer[keep:], self._start + keep, stop
        return frames


def stream_log_mel(blocks: Iterator[np.ndarray], cfg: FeatureConfig) -> Iterator[np.ndarray]:
    """Log-mel frames, block by block, of the signal ``blocks`` concatenate to."""
    stream = LogMelStream(cfg)
    for block in blocks:
        frames = stream.push(block)
        if len(frames):
            yield frames
    last = stream.finish()
    if len(last):
        yield last
