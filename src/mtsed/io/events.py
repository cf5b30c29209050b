"""DCASE event lists: tab-separated ``onset offset label`` in seconds.

Also reads the multi-file variants ``file onset offset label`` and
``file scene onset offset label``, with or without the header line that DESED and DCASE
2020+ lists open with (``filename onset offset event_label``).  Zero-length events
(onset = offset) are kept, as sed_eval keeps and scores them.  Every malformed line is
reported with its file and line number; all problems of a file are collected into one error
so a user fixes them in one go.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mtsed.io.fileio import write_text


@dataclass(frozen=True, order=True)
class Event:
    """One sound event: active on ``[onset, offset)`` seconds."""

    onset: float
    offset: float
    label: str
    file: str = ""

    @property
    def duration(self) -> float:
        return self.offset - self.onset


class EventListError(ValueError):
    """An event list has bad lines; ``problems`` holds ``(line_number, message)`` pairs."""

    def __init__(self, path: str | Path, problems: list[tuple[int, str]]) -> None:
        self.path = str(path)
        self.problems = problems
        lines = "\n".join(f"  {path}:{number}: {message}" for number, message in problems)
        super().__init__(f"{path}: {len(problems)} bad event line(s)\n{lines}")


HEADER_NAMES = {
    "file": ("filename", "file", "audio_filename", "audio_file"),
    "scene": ("scene_label", "scene"),
    "onset": ("onset", "event_onset"),
    "offset": ("offset", "event_offset"),
    "label": ("event_label", "label", "event"),
}
_HEADER_WORDS = frozenset(name for names in HEADER_NAMES.values() for name in names)


def is_header(fields: list[str]) -> bool:
    """Whether a list's first line names its columns (``filename onset offset event_label``)
    rather than holding an event: every field a known column name, onset and offset among them."""
    words = [f.strip().lower() for f in fields]
    return (
        all(w in _HEADER_WORDS for w in words)
        and any(w in HEADER_NAMES["onset"] for w in words)
        and any(w in HEADER_NAMES["offset"] for w in words)
    )


def _parse_time(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not finite")
    return value


def parse_event_line(fields: list[str], labels: frozenset[str] | None) -> Event:
    """Parse one split line; raise ValueError with a user-facing reason."""
    if len(fields) == 3:
        file, (onset_text, offset_text, label) = "", fields
    elif len(fields) == 4:
        file, onset_text, offset_text, label = fields
    elif len(fields) == 5:
        file, _scene, onset_text, offset_text, label = fields
    else:
        raise ValueError(f"expected 3 to 5 tab-separated columns (onset offset label), found {len(fields)}")
    if not onset_text.strip() or not offset_text.strip():
        raise ValueError(
            f"no onset/offset for {label.strip()!r}: a weakly labelled line (clip-level label only); "
            "an event list needs both times on every line"
        )
    try:
        onset, offset = _parse_time(onset_text), _parse_time(offset_text)
    except ValueError:
        raise ValueError(f"onset/offset must be finite numbers, got {onset_text!r} and {offset_text!r}") from None
    if onset < 0:
        raise ValueError(f"negative onset {onset}")
    if offset < onset:
        raise ValueError(f"offset {offset} is before onset {onset}")
    label = label.strip()
    if not label:
        raise ValueError("empty label")
    if labels is not None and label not in labels:
        raise ValueError(f"unknown label {label!r} (known: {', '.join(sorted(labels))})")
    return Event(onset, offset, label, file.strip())


def read_event_list(path: str | Path, labels: Iterable[str] | None = None) -> list[Event]:
    """Read a DCASE event list, sorted by onset.

    Blank lines and ``#`` comments are skipped, and so is a header line naming the
    columns; a line holding only a file name (a file with no events, in the multi-file
    layout, with or without empty columns after it) is accepted and yields nothing.  With
    ``labels`` given, any other label is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such event list")
    known = frozenset(labels) if labels is not None else None
    events: list[Event] = []
    problems: list[tuple[int, str]] = []
    first = True
    for number, raw_bytes in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            raw = raw_bytes.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            problems.append((number, f"not UTF-8 text (byte {error.start + 1})"))
            continue
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f for f in raw.rstrip("\r\n").split("\t")]
        if len(fields) == 1 and " " in line:
            fields = line.split()
        if first and is_header(fields):
            first = False
            continue
        first = False
        if len(fields) == 1 or not any(f.strip() for f in fields[1:]):
            continue  # file listed with no events
        try:
            events.append(parse_event_line(fields, known))
        except ValueError as error:
            problems.append((number, str(error)))
    if problems:
        raise EventListError(path, problems)
    return sorted(events)


def _file_key(name: str) -> str:
    """A reference list's file column as the recording's name: no folder, no extension."""
    return Path(name).stem if name else ""


def read_event_lists(path: Path) -> dict[str, list[Event]]:
    """Events per file from a single list (with or without a file column) or a folder of lists."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".txt", ".tsv", ".csv", ".ann"))
        if not files:
            raise FileNotFoundError(f"{path}: no .txt/.tsv/.csv/.ann event lists in this folder")
        return {p.stem: read_event_list(p) for p in files}
    grouped: dict[str, list[Event]] = {}
    for event in read_event_list(path):
        grouped.setdefault(_file_key(event.file), []).append(event)
    return grouped or {"": []}


def format_event_list(events: Sequence[Event], with_file: bool = False) -> str:
    """Format events as DCASE lines (microsecond precision, sorted by onset)."""
    rows = []
    for event in sorted(events):
        cols = [f"{event.onset:.6f}", f"{event.offset:.6f}", event.label]
        rows.append("\t".join(([event.file] if with_file else []) + cols))
    return "".join(row + "\n" for row in rows)


def write_event_list(path: str | Path, events: Sequence[Event], with_file: bool = False) -> None:
    """Atomically write events as a DCASE tab-separated list."""
    write_text(path, format_event_list(events, with_file))


def merged_intervals(intervals: Iterable[tuple]) -> list[tuple]:
    """Union of ``(start, end)`` intervals: overlapping or touching ones become one, in order."""
    merged: list[tuple] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def merge_overlaps(events: Iterable[Event]) -> list[Event]:
    """Union of events per label: overlapping or touching events of one class become one."""
    by_label: dict[str, list[Event]] = {}
    for event in events:
        by_label.setdefault(event.label, []).append(event)
    merged = []
    for label, group in by_label.items():
        files: dict[float, str] = {}
        for event in sorted(group):
            files.setdefault(event.onset, event.file)  # a merged event keeps its first event's file
        merged += [Event(a, b, label, files[a]) for a, b in merged_intervals((e.onset, e.offset) for e in group)]
    return sorted(merged)
