"""Threshold search time: the vectorised grid vs a loop that scores each point with sed_eval.

    python benchmarks/threshold_search.py data/overlapping outputs/overlapping/proposed

The sed_eval loop is timed on a random sample of grid points and extrapolated to the full
grid (running it in full takes many minutes).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import sed_eval

from mtsed import thresholds
from mtsed.data import load_dataset
from mtsed.fileio import read_json
from mtsed.inference import confidence_scores, events_from_activity, normalise
from mtsed.thresholds import ValidationRecording, search_proposed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("outputs", type=Path, help="ensemble output folder of the proposed system")
    parser.add_argument("--sample", type=int, default=40, help="grid points timed with sed_eval")
    args = parser.parse_args()
    dataset, manifest = load_dataset(args.data), read_json(args.outputs / "manifest.json")
    labels, T, frame = manifest["labels"], manifest["segment_frames"], manifest["frame_seconds"]
    by_id = {r.id: r for r in dataset.recordings}
    recordings, references = [], []
    for rid, fold in manifest["validation"].items():
        events = dataset.events(by_id[rid])
        reference = {c: (np.array([e.onset for e in events if e.label == lab]), np.array([e.offset for e in events if e.label == lab]))
                     for c, lab in enumerate(labels)}
        recordings.append(ValidationRecording(np.load(args.outputs / "validation" / f"{rid}.npy"), fold, reference))
        references.append([{"file": rid, "event_label": e.label, "onset": e.onset, "offset": e.offset} for e in events])

    started = time.perf_counter()
    result = search_proposed(recordings, len(labels), T, frame)
    vectorised = time.perf_counter() - started

    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for _ in range(args.sample):
        alpha, beta = rng.choice(thresholds.ALPHAS), rng.choice(thresholds.BETAS)
        metrics = sed_eval.sound_event.EventBasedMetrics(event_label_list=labels, t_collar=0.2, percentage_of_length=0.5)
        for r, ref in zip(recordings, references):
            raw = confidence_scores(r.outputs, np.full(len(labels), alpha), T)
            active = normalise(raw, raw.max(axis=0)) > beta
            estimated = [{"file": ref[0]["file"] if ref else "", "event_label": e.label, "onset": e.onset, "offset": e.offset}
                         for e in events_from_activity(active, labels, frame)]
            metrics.evaluate(ref, estimated)
        metrics.results()
    per_point = (time.perf_counter() - started) / args.sample
    points = len(thresholds.ALPHAS) * len(thresholds.BETAS)  # sed_eval scores all classes per point
    print(f"validation recordings: {len(recordings)}, classes: {len(labels)}, grid points per class: {points}")
    print(f"vectorised search (all classes, full grid): {vectorised:.2f} s")
    print(f"sed_eval loop: {per_point * 1000:.1f} ms per grid point -> {per_point * points:.0f} s for the full grid "
          f"({per_point * points / vectorised:.0f}x slower)")
    print("chosen alpha:", result.alpha.tolist(), "beta:", result.second.tolist())


if __name__ == "__main__":
    main()
