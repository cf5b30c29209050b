"""The systems a data set's evaluation compares, and the network each one reads.

Two networks are trained per data set: the paper's multi-task CRNN (``proposed``: activity,
onset and offset distance per class) and its single-task baseline (``baseline``: activity
only).  A *system* is a network plus a decoder:

- ``proposed``: the multi-task network with the paper's decoder (summed confidence votes),
  kept exactly so the comparison with the paper stays honest;
- ``baseline``: the single-task network, thresholded and median-filtered (the paper's);
- ``multitask``: the same multi-task network under the decoder that wins on validation among
  ``thresholds.multitask`` (e.g. ``bounded``: activity runs moved to where the distance head
  puts the boundaries).

``detect`` and ``serve`` default to the system with the best validation F1 over the study's
seeds (``benchmarks/QUALITY.md``), never the evaluation split's: ``baseline`` on both sets.
Single-task activity generalises to the unseen clips of the validation split better than
either decoder of the multi-task network (overlapping, class-average: 17.8-21.2 % in-sample,
against 15.5-17.3 % for multitask in-sample and 14.6-14.9 % held out).
"""

from __future__ import annotations

NETWORKS = ("proposed", "baseline")
SYSTEMS = ("proposed", "baseline", "multitask")
DEFAULT_SYSTEM = "baseline"
PAPER_DECODERS = {"proposed": "confidence", "baseline": "activity"}  # the paper's post-processing of each network
# Every decoder :mod:`mtsed.detection.decoders` defines, by name, so params can be checked
# without importing detection code (a test holds the two lists equal).
DECODER_NAMES = (
    "confidence",
    "confidence-log",
    "confidence-region",
    "confidence-mean",
    "capped-4",
    "capped-8",
    "capped-16",
    "capped-32",
    "weighted-4",
    "weighted-16",
    "activity",
    "bounded",
    "bounded-3",
    "bounded-10",
    "sebbs",
)


def network_of(system: str) -> str:
    """The trained network a system reads (``multitask`` reads ``proposed``)."""
    if system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}; known: {', '.join(SYSTEMS)}")
    return "proposed" if system == "multitask" else system
