"""Pages to look at what the detector heard: one per recording, an index per set.

People in this field look at detections before they trust a number (sed_vis, Sonic Visualiser,
Audacity label tracks). These pages need no audio device, no server and no network: static
HTML that works opened from disk (``file://``), where browsers forbid ``fetch`` of local files.
So everything a page shows is inside it (JSON script blocks) or beside it as plain files a page
may load from disk: the log-mel spectrogram as JPEG tiles (one per ``TILE_SECONDS``, so a long
recording stays light: a spectrogram compresses to a sixth of its PNG) and the audio, linked by
relative path, never embedded. Plain JavaScript (the ``templates`` folder's ``recording.html``)
draws the rows and curves and moves one cursor with playback.

A recording page shows, per class, the reference row above each system's estimates (hits,
false alarms and misses told apart, a miss with its cause as the report names it:
:func:`mtsed.evaluation.diagnostics.miss_reason`) and each system's score curve with the
threshold it is cut at. Score curves are kept at frame resolution up to ``MAX_POINTS`` points a
curve and max-pooled beyond (a 20-minute recording: 0.3 s a point), in thousandths (integers).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from jinja2.utils import htmlsafe_json_dumps

from mtsed.evaluation.diagnostics import miss_reason
from mtsed.io.events import Event
from mtsed.io.fileio import atomic_path

TILE_SECONDS = 60.0  # one spectrogram image per minute of audio
MAX_POINTS = 4000  # score points per curve before max-pooling
COLOUR_RANGE = (2.0, 99.5)  # log-mel percentiles mapped to the ends of the colour map


@dataclass(frozen=True)
class SystemView:
    """One system's detections in one recording: events, frame scores ``(frames, C)``, each
    class's score threshold, and (with a reference) the recording's own F1 and ER."""

    name: str
    events: Sequence[Event]
    scores: np.ndarray
    thresholds: Sequence[float]
    f1: float | None = None
    er: float | None = None


@dataclass(frozen=True)
class RecordingView:
    """Everything a recording page shows. Paths are as the page links them (relative to it)."""

    id: str
    audio: str
    duration: float
    frame_seconds: float
    labels: Sequence[str]
    log_mel: np.ndarray  # (frames, bands): what the network saw, before standardisation
    systems: Sequence[SystemView]
    reference: Sequence[Event] | None = None  # None: a user's file, nothing to compare with
    event_lists: dict[str, str] = field(default_factory=dict)  # name -> relative link
    index: str = "index.html"


def _environment() -> Environment:
    return Environment(loader=PackageLoader("mtsed.evaluation", "templates"), autoescape=select_autoescape(["html"]))


def page_name(recording_id: str) -> str:
    """The page's file name: the recording id made safe for a file name."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in recording_id) + ".html"


def relative_link(target: Path, pages_dir: Path) -> str:
    """``target`` as a link from a page in ``pages_dir`` (forward slashes, as URLs want)."""
    return Path(os.path.relpath(Path(target).resolve(), Path(pages_dir).resolve())).as_posix()


def pooled_scores(scores: np.ndarray, max_points: int = MAX_POINTS) -> tuple[int, np.ndarray]:
    """``(frames per point, (points, C) scores in thousandths)``: every frame up to
    ``max_points``, else the maximum of each block of frames (so a short peak stays visible)."""
    scores = np.asarray(scores, float)
    step = max(1, math.ceil(len(scores) / max_points))
    if step > 1:
        padded = np.pad(scores, ((0, (-len(scores)) % step), (0, 0)), constant_values=-np.inf)
        scores = padded.reshape(-1, step, scores.shape[1]).max(axis=1)
    return step, np.rint(np.clip(scores, 0, 1) * 1000).astype(int)


def _status(events: Sequence[Event], others: Sequence[Event], reference: bool) -> list[str]:
    """Per event: for a reference event ``hit`` or its miss cause; for an estimate ``hit`` or
    ``false alarm`` (it hits no reference event of its class under the same collars)."""
    out = []
    for event in events:
        mine = np.array([(e.onset, e.offset) for e in others if e.label == event.label], float).reshape(-1, 2)
        if reference:
            out.append(miss_reason(event.onset, event.offset, mine))
        else:
            hits = [miss_reason(a, b, np.array([[event.onset, event.offset]])) == "hit" for a, b in mine]
            out.append("hit" if any(hits) else "false alarm")
    return out


def _events_json(events: Sequence[Event], labels: Sequence[str], status: list[str] | None) -> list[list]:
    index = {label: i for i, label in enumerate(labels)}
    return [
        [round(e.onset, 4), round(e.offset, 4), index[e.label], *([status[k]] if status else [])]
        for k, e in enumerate(events)
        if e.label in index
    ]


def page_data(view: RecordingView) -> dict:
    """What the page's script reads (the ``page-data`` JSON block)."""
    systems = []
    for system in view.systems:
        step, points = pooled_scores(system.scores)
        status = _status(system.events, view.reference, reference=False) if view.reference is not None else None
        systems.append(
            {
                "name": system.name,
                "events": _events_json(system.events, view.labels, status),
                "score_step": step * view.frame_seconds,
                "scores": points.T.tolist(),
                "thresholds": [round(float(t), 4) for t in system.thresholds],
                "f1": system.f1,
                "er": system.er,
            }
        )
    reference = None
    if view.reference is not None:
        reference = {
            "events": _events_json(view.reference, view.labels, None),
            "by_system": {s.name: _status(view.reference, s.events, reference=True) for s in view.systems},
        }
    return {
        "id": view.id,
        "duration": view.duration,
        "labels": list(view.labels),
        "systems": systems,
        "reference": reference,
        "tiles": [],
        "tile_seconds": TILE_SECONDS,
    }


def _write_tiles(log_mel: np.ndarray, frame_seconds: float, folder: Path) -> list[str]:
    """JPEG tiles of the log-mel (a pixel a frame and band, low bands at the bottom), one per
    ``TILE_SECONDS``; returns their names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image
    from matplotlib import cm

    folder.mkdir(parents=True, exist_ok=True)
    low, high = np.percentile(log_mel, COLOUR_RANGE) if log_mel.size else (0.0, 1.0)
    per_tile = max(1, int(round(TILE_SECONDS / frame_seconds)))
    starts = list(range(0, len(log_mel), per_tile))
    if len(starts) > 1 and (len(log_mel) - starts[-1]) * frame_seconds < 1.0:
        starts.pop()  # a last second or less joins the tile before it
    names = []
    for k, start in enumerate(starts):
        stop = starts[k + 1] if k + 1 < len(starts) else len(log_mel)
        block = np.clip((log_mel[start:stop] - low) / max(high - low, 1e-9), 0, 1).T[::-1]
        name = f"tile-{k:04d}.jpg"
        with atomic_path(folder / name) as tmp:
            matplotlib.image.imsave(tmp, block, cmap=cm.magma, vmin=0, vmax=1, format="jpg", pil_kwargs={"quality": 85})
        names.append(name)
    return names


def write_recording_page(view: RecordingView, pages_dir: Path) -> Path:
    """Write the page of one recording into ``pages_dir`` (its tiles in a folder named after it)."""
    pages_dir.mkdir(parents=True, exist_ok=True)
    page = pages_dir / page_name(view.id)
    tiles = page.with_suffix("")
    data = page_data(view)
    data["tiles"] = [
        f"{tiles.name}/{name}" for name in _write_tiles(np.asarray(view.log_mel), view.frame_seconds, tiles)
    ]
    html = _environment().get_template("recording.html").render(view=view, data=_json_block(data))
    with atomic_path(page) as tmp:
        tmp.write_text(html)
    return page


@dataclass(frozen=True)
class IndexRow:
    """One recording in a set's index."""

    id: str
    page: str
    duration: float
    reference_events: int | None
    estimates: dict[str, int]
    f1: dict[str, float | None]
    worst_class: str | None


def index_row(view: RecordingView, page: Path) -> IndexRow:
    """The index's row of a recording: counts, each system's F1, and its worst class: the
    lowest share of reference events hit (mean over the systems), the most events on a tie."""
    worst = None
    if view.reference is not None:
        present = sorted({e.label for e in view.reference})
        by_class = {label: [] for label in present}
        for system in view.systems:
            status = _status([e for e in view.reference if e.label in by_class], system.events, reference=True)
            for event, s in zip([e for e in view.reference if e.label in by_class], status):
                by_class[event.label].append(s == "hit")
        worst = (
            min(present, key=lambda label: (np.mean(by_class[label]), -len(by_class[label]), label))
            if present
            else None
        )
    return IndexRow(
        view.id,
        page.name,
        round(view.duration, 2),
        None if view.reference is None else len(view.reference),
        {s.name: len(s.events) for s in view.systems},
        {s.name: s.f1 for s in view.systems},
        worst,
    )


def write_index(
    title: str, rows: Sequence[IndexRow], systems: Sequence[str], pages_dir: Path, summary: Sequence[dict] | None = None
) -> Path:
    """A sortable index of the pages (worst recording first); ``summary`` rows (system,
    overall F1 and ER, class-average F1 and ER) repeat the set's ``table.md``."""
    data = {"systems": list(systems), "rows": [row.__dict__ for row in rows], "summary": list(summary or [])}
    html = _environment().get_template("index.html").render(title=title, data=_json_block(data))
    path = pages_dir / "index.html"
    with atomic_path(path) as tmp:
        tmp.write_text(html)
    return path


def _json_block(data: dict) -> str:
    """JSON safe inside a ``<script type="application/json">`` block: ``<``, ``>``, ``&`` and
    ``'`` are written as ``\\u003c``-style escapes (Jinja2's ``tojson``), so no text in the data
    (``</script>``, ``<!--``) can end the block or change how HTML parses it."""
    return str(htmlsafe_json_dumps(data, separators=(",", ":"), allow_nan=False))
