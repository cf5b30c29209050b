"""Threshold search time: the vectorised grid vs a loop that scores each point with sed_eval.

    python benchmarks/threshold_search.py data/overlapping outputs/overlapping/proposed [--decoder confidence]

The sed_eval loop is timed on a random sample of grid points and extrapolated to the full
grid (running it in full takes many minutes).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import sed_eval

from mtsed.config import ThresholdConfig
from mtsed.detection.decoders import decode, ensemble_scores, get_decoder
from mtsed.detection.thresholds import grid_counts, select
from mtsed.io.fileio import read_json
from mtsed.stages.detector import validation_recordings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("outputs", type=Path, help="ensemble output folder of one system")
    parser.add_argument("--decoder", default="confidence")
    parser.add_argument("--sample", type=int, default=40, help="grid points timed with sed_eval")
    args = parser.parse_args()
    manifest = read_json(args.outputs / "manifest.json")
    labels, T, frame = manifest["labels"], manifest["segment_frames"], manifest["frame_seconds"]
    dec = get_decoder(args.decoder)
    recordings = validation_recordings(args.data, args.outputs)
    references = [
        [
            {"file": str(k), "event_label": labels[c], "onset": float(on), "offset": float(off)}
            for c, (ons, offs) in r.reference.items()
            for on, off in zip(ons, offs)
        ]
        for k, r in enumerate(recordings)
    ]

    started = time.perf_counter()
    counts = grid_counts(dec, recordings, len(labels), T, frame)
    chosen = select(counts, ThresholdConfig())
    vectorised = time.perf_counter() - started

    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for _ in range(args.sample):
        a, s = int(rng.integers(len(counts.alphas))), int(rng.integers(len(counts.second_grid)))
        alpha, second = np.full(len(labels), counts.alphas[a]), np.full(len(labels), counts.second_grid[s])
        metrics = sed_eval.sound_event.EventBasedMetrics(
            event_label_list=labels, t_collar=0.2, percentage_of_length=0.5
        )
        for k, (r, ref) in enumerate(zip(recordings, references)):
            norms = [counts.constants[r.fold][:, a]] if dec.normalised else []
            found = decode(
                dec,
                ensemble_scores(dec, [r.outputs], alpha, T, norms),
                [r.outputs],
                alpha,
                second,
                labels,
                frame,
                T,
                str(k),
            )
            metrics.evaluate(
                ref, [{"file": str(k), "event_label": e.label, "onset": e.onset, "offset": e.offset} for e in found]
            )
        metrics.results()
    per_point = (time.perf_counter() - started) / args.sample
    points = len(counts.alphas) * len(counts.second_grid)  # sed_eval scores all classes per point
    print(
        f"decoder: {dec.name}; validation recordings: {len(recordings)}, classes: {len(labels)}, grid points per "
        f"class: {points}"
    )
    print(f"vectorised search (all classes, full grid): {vectorised:.2f} s")
    print(
        f"sed_eval loop: {per_point * 1000:.1f} ms per grid point -> {per_point * points:.0f} s for the full grid "
        f"({per_point * points / vectorised:.0f}x slower)"
    )
    print(
        "chosen alpha:",
        counts.alphas[chosen.alpha_index].tolist(),
        f"{dec.second_name}:",
        counts.second_grid[chosen.second_index].tolist(),
    )


if __name__ == "__main__":
    main()
