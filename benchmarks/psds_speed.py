"""Threshold-free scoring time: exact PSDS against scores floored to a fixed number of levels.

    python benchmarks/psds_speed.py data/isolated reports/isolated/scores/proposed [--levels 50 100 200]

``sed_scores_eval`` evaluates every distinct score as a threshold; frame scores have one
per frame, so the exact PSDS of the isolated set takes minutes. Flooring the scores to
``levels`` values and merging identical rows (what the evaluate stage does,
:func:`mtsed.evaluation.threshold_free.quantised`) bounds the thresholds. This prints the seconds and
the PSDS1 / PSDS2 / class-average best F1 of each, and the change against the exact figures.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mtsed.data.datasets import load_dataset
from mtsed.evaluation.threshold_free import evaluate_scores, read_scores
from mtsed.io.audio import audio_duration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="data set folder (reference events of its evaluation split)")
    parser.add_argument("scores", type=Path, help="folder of score files, e.g. reports/isolated/scores/proposed")
    parser.add_argument("--levels", type=int, nargs="+", default=[50, 100, 200])
    args = parser.parse_args()
    dataset = load_dataset(args.data)
    evaluation = dataset.evaluation()
    reference = {r.id: dataset.events(r) for r in evaluation}
    durations = {r.id: audio_duration(dataset.audio_path(r)) for r in evaluation}
    scores = read_scores(args.scores)
    rows = len(next(iter(scores.values())))
    print(f"{args.scores}: {len(scores)} recordings, {rows} score rows in the first")
    results = {}
    for levels in [None, *args.levels]:
        started = time.perf_counter()
        results[levels] = evaluate_scores(scores, reference, durations, list(dataset.labels), levels=levels)
        seconds = time.perf_counter() - started
        r, exact = results[levels], results[None]
        delta = (
            ""
            if levels is None
            else (
                f"  change: PSDS1 {r['psds1'] - exact['psds1']:+.4f}, PSDS2 {r['psds2'] - exact['psds2']:+.4f}, "
                f"best F1 {r['best_f1_class_average'] - exact['best_f1_class_average']:+.4f}"
            )
        )
        print(
            f"levels {levels or 'exact':>5}: {seconds:7.1f} s  PSDS1 {r['psds1']:.4f}  PSDS2 {r['psds2']:.4f}  "
            f"best F1 {r['best_f1_class_average']:.4f}{delta}",
            flush=True,
        )


if __name__ == "__main__":
    main()
