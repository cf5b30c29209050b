"""Detection over many files: inputs as files, folders (recursively) and globs.

The next short file is decoded in a background thread while the networks run on the current
one (decoding and resampling release the GIL); a long file is streamed instead
(:mod:`mtsed.features.streaming`), so memory stays flat.  Progress is counted in seconds of audio,
and a bad file is reported and skipped without stopping the others.
"""

from __future__ import annotations

import glob
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from mtsed.detection.bundle import Bundle
from mtsed.io.audio import AudioError, audio_duration, load_audio
from mtsed.io.events import Event, format_event_list, write_event_list
from mtsed.io.fileio import write_text
from mtsed.io.progress import progress

AUDIO_SUFFIXES = frozenset("." + ext.lower() for ext in sf.available_formats())
GLOB_CHARACTERS = frozenset("*?[")
PREFETCH_SECONDS = 120.0  # files up to this long are decoded ahead whole; longer ones are streamed


@dataclass(frozen=True)
class AudioInput:
    """One file to analyse and the name its outputs take (relative to its folder input)."""

    path: Path
    name: str


def expand_inputs(items: Sequence[str]) -> list[AudioInput]:
    """Files as given; folders searched recursively for audio libsndfile reads; patterns
    (``*``, ``?``, ``[``, ``**``) expanded.  A pattern that matches nothing is an error;
    a missing plain path is kept, so that it is reported like any other bad file."""
    found: list[AudioInput] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            found += [AudioInput(p, p.relative_to(path).with_suffix("").as_posix()) for p in files]
        elif not path.exists() and GLOB_CHARACTERS & set(item):
            matches = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
            if not matches:
                raise FileNotFoundError(f"{item}: no files match this pattern")
            found += [AudioInput(p, p.stem) for p in matches]
        else:
            found.append(AudioInput(path, path.stem))
    return _unique_names(found)


def _unique_names(inputs: list[AudioInput]) -> list[AudioInput]:
    """Outputs never overwrite each other: a repeated name gets its parent folders."""
    counts: dict[str, int] = {}
    for item in inputs:
        counts[item.name] = counts.get(item.name, 0) + 1
    return [
        item if counts[item.name] == 1 else AudioInput(item.path, item.path.with_suffix("").as_posix().strip("/"))
        for item in inputs
    ]


def seconds_of(path: Path) -> float:
    """A file's duration from its header (0 when unreadable: the error comes later, naming it)."""
    try:
        return audio_duration(path)
    except (AudioError, OSError):
        return 0.0


def prefetched(
    inputs: Sequence[AudioInput],
    sample_rate: int,
    max_seconds: float | None = None,
) -> Iterator[tuple[AudioInput, np.ndarray | Exception | None]]:
    """Each input with its decoded audio (or the error decoding raised), decoding the
    next file in a background thread while the caller works on the current one.  Files
    longer than ``max_seconds`` (default :data:`PREFETCH_SECONDS`) come with ``None``:
    the caller streams them."""
    max_seconds = PREFETCH_SECONDS if max_seconds is None else max_seconds

    def decode(item: AudioInput) -> np.ndarray | Exception | None:
        if seconds_of(item.path) > max_seconds:
            return None
        try:
            return load_audio(item.path, sample_rate)
        except (AudioError, OSError, ValueError, RuntimeError) as error:
            return error

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: Future | None = pool.submit(decode, inputs[0]) if inputs else None
        for index, item in enumerate(inputs):
            result = pending.result()
            pending = pool.submit(decode, inputs[index + 1]) if index + 1 < len(inputs) else None
            yield item, result


def combined_list(per_file: Sequence[tuple[str, list[Event]]]) -> str:
    """One DESED-layout list (``filename onset offset event_label`` header) of every file's events."""
    return "filename\tonset\toffset\tevent_label\n" + "".join(
        format_event_list([replace(e, file=filename) for e in events], with_file=True) for filename, events in per_file
    )


def write_combined(path: Path, per_file: Sequence[tuple[str, list[Event]]]) -> None:
    """Atomically write :func:`combined_list`."""
    write_text(path, combined_list(per_file))


def run_batch(
    inputs: Sequence[AudioInput],
    sample_rate: int,
    analyse: Callable[[AudioInput, np.ndarray | None], None],
    report: Callable[[AudioInput, Exception], None],
    done: Callable[[AudioInput], None],
) -> int:
    """Decode ahead and ``analyse`` every input (with ``None`` for audio, a long file that
    ``analyse`` streams itself); ``report`` each failure; ``done`` after each file, failed
    or not.  Returns the number of failed files."""
    failed = 0
    for item, audio in prefetched(inputs, sample_rate):
        if isinstance(audio, Exception):
            failed += 1
            report(item, audio)
        else:
            try:
                analyse(item, audio)
            except (AudioError, OSError, ValueError, RuntimeError) as error:
                failed += 1
                report(item, error)
        done(item)
    return failed


def file_page(
    bundle: Bundle,
    item: AudioInput,
    events: list[Event],
    scores: np.ndarray,
    duration: float,
    event_list: Path,
    pages_dir: Path,
):
    """The page of a user's file (:mod:`mtsed.evaluation.pages`): its log-mel (read again,
    block by block), the bundle's events and scores, no reference; returns its index row."""
    from mtsed.evaluation import pages
    from mtsed.features.streaming import read_blocks, stream_log_mel

    blocks = list(stream_log_mel(read_blocks(item.path, bundle.features.sample_rate), bundle.features))
    log_mel = np.concatenate(blocks) if blocks else np.zeros((0, bundle.features.n_mels), np.float32)
    system = pages.SystemView(bundle.system, events, scores, bundle.score_thresholds())
    view = pages.RecordingView(
        item.name,
        pages.relative_link(item.path, pages_dir),
        duration,
        bundle.frame_seconds,
        bundle.labels,
        log_mel,
        [system],
        None,
        {"event list": pages.relative_link(event_list, pages_dir)},
    )
    return pages.index_row(view, pages.write_recording_page(view, pages_dir))


@dataclass(frozen=True)
class FileDetections:
    """What :func:`detect_files` did: each analysed file's name and events, in input order,
    how many files failed, and the index of the pages (``None`` without pages)."""

    found: list[tuple[str, list[Event]]]
    failed: int
    pages_index: Path | None = None

    @property
    def events(self) -> int:
        return sum(len(events) for _, events in self.found)


def detect_files(
    bundle: Bundle,
    inputs: Sequence[AudioInput],
    out: Path,
    scores_dir: Path | None = None,
    pages_dir: Path | None = None,
    combined: Path | None = None,
) -> FileDetections:
    """Detect events in every input with ``bundle``: one DCASE event list per file in ``out``
    (``<name>.tsv``); with ``scores_dir``, its frame scores in the ``sed_scores_eval`` layout;
    with ``pages_dir``, a page per file and an index (:mod:`mtsed.evaluation.pages`); with
    ``combined``, one DESED list of all files. A bar counts seconds of audio (not for one short
    file) and each file gets a line; a bad file is reported on stderr and skipped."""
    from mtsed.evaluation.threshold_free import score_frame, write_scores

    rate = bundle.features.sample_rate
    seconds = {item.path: seconds_of(item.path) for item in inputs}
    found: list[tuple[str, list[Event]]] = []
    page_rows = []
    one_short_file = len(inputs) == 1 and sum(seconds.values()) <= PREFETCH_SECONDS
    bar = progress(
        total=round(sum(seconds.values()), 1),
        unit="s",
        desc="detect",
        disable=one_short_file,
        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s audio [{elapsed}<{remaining}, {rate_fmt}]",
    )
    counted: dict[Path, float] = {}

    def advance(item: AudioInput, seconds_read: float) -> None:
        counted[item.path] = counted.get(item.path, 0.0) + seconds_read
        bar.update(seconds_read)

    def analyse(item: AudioInput, audio: np.ndarray | None) -> None:
        if audio is None:  # a long file: streamed, the bar moves block by block
            events, scores, duration = bundle.analyse(item.path, item.path.name, on_audio=lambda s: advance(item, s))
        else:
            events, scores = bundle.analyse_audio(audio, item.path.name)
            duration = len(audio) / rate
        target = out / f"{item.name}.tsv"
        write_event_list(target, events)
        if scores_dir is not None:
            write_scores(scores_dir / f"{item.name}.tsv", score_frame(scores, bundle.frame_seconds, bundle.labels))
        if pages_dir is not None:
            page_rows.append(file_page(bundle, item, events, scores, duration, target, pages_dir))
        found.append((item.path.name, events))
        counts = Counter(e.label for e in events)
        summary = ", ".join(f"{label} x{n}" for label, n in sorted(counts.items())) or "no events"
        bar.write(f"{item.path}: {duration:.1f} s, {len(events)} events ({summary}) -> {target}")

    def report(item: AudioInput, error: Exception) -> None:
        message = str(error) if str(item.path) in str(error) else f"{item.path}: {error}"
        bar.write(f"mtsed detect: error: {message}", file=sys.stderr)

    def done(item: AudioInput) -> None:
        bar.update(max(0.0, seconds[item.path] - counted.get(item.path, 0.0)))

    failed = run_batch(inputs, rate, analyse, report, done)
    bar.close()
    if combined is not None:
        write_combined(combined, found)
    index = None
    if page_rows:
        from mtsed.evaluation.pages import write_index

        index = write_index(f"detections of {bundle.system}", page_rows, [bundle.system], pages_dir)
    return FileDetections(found, failed, index)
