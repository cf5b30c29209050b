"""How long a detection page takes to build and how much it weighs, for long recordings.

Builds the page of one recording as long as asked (default 2, 20 and 60 minutes), tiling the
log-mel, events and ensemble scores of a set's evaluation recordings from a `make run`
(real features, real detections), three systems as the evaluate stage shows them. Prints one
Markdown row per length: build seconds (median of 3), the HTML's size, the tiles' size.

    python benchmarks/pages_speed.py reports/overlapping features/overlapping bundles/overlapping
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from mtsed.config.layout import BUNDLE_FILE
from mtsed.detection.bundle import load_bundle
from mtsed.evaluation import pages
from mtsed.evaluation.threshold_free import read_scores
from mtsed.io.events import Event, read_event_list

SYSTEMS = ("proposed", "baseline", "multitask")


def tiled(report: Path, features: Path, bundles: Path, minutes: float) -> pages.RecordingView:
    """One long recording made of the evaluation recordings one after another."""
    ids = sorted(p.stem for p in (report / "estimated" / SYSTEMS[0]).glob("*.tsv"))
    frame_seconds = load_bundle(bundles / SYSTEMS[0] / BUNDLE_FILE).frame_seconds
    labels = list(load_bundle(bundles / SYSTEMS[0] / BUNDLE_FILE).labels)
    frames = {s: read_scores(report / "scores" / s) for s in SYSTEMS}
    log_mel, scores, events, offset = [], {s: [] for s in SYSTEMS}, {s: [] for s in SYSTEMS}, 0.0
    while offset < minutes * 60:
        for rid in ids:
            block = np.load(features / f"{rid}.npy")
            log_mel.append(block)
            for system in SYSTEMS:
                scores[system].append(frames[system][rid][labels].to_numpy()[: len(block)])
                events[system] += [
                    Event(e.onset + offset, e.offset + offset, e.label)
                    for e in read_event_list(report / "estimated" / system / f"{rid}.tsv")
                ]
            offset += len(block) * frame_seconds
            if offset >= minutes * 60:
                break
    views = [
        pages.SystemView(
            s, events[s], np.concatenate(scores[s]), load_bundle(bundles / s / BUNDLE_FILE).score_thresholds()
        )
        for s in SYSTEMS
    ]
    return pages.RecordingView(
        f"tiled-{minutes:g}min", "audio.wav", offset, frame_seconds, labels, np.concatenate(log_mel), views
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("features", type=Path)
    parser.add_argument("bundles", type=Path)
    parser.add_argument("--minutes", type=float, nargs="*", default=[2, 20, 60])
    args = parser.parse_args()
    print("| recording | events shown | build s (median of 3) | HTML MB | tiles | tiles MB |")
    print("|---|---|---|---|---|---|")
    for minutes in args.minutes:
        view = tiled(args.report, args.features, args.bundles, minutes)
        times = []
        with tempfile.TemporaryDirectory() as folder:
            for _ in range(3):
                started = time.perf_counter()
                page = pages.write_recording_page(view, Path(folder))
                times.append(time.perf_counter() - started)
            tiles = list(page.with_suffix("").glob("*.jpg"))
            shown = sum(len(s.events) for s in view.systems)
            print(
                f"| {minutes:g} min | {shown} | {statistics.median(times):.2f} | {page.stat().st_size / 1e6:.2f} | "
                f"{len(tiles)} | "
                f"{sum(t.stat().st_size for t in tiles) / 1e6:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
