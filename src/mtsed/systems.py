"""The systems a data set's evaluation compares, and the network each one reads.

Two networks are trained per data set: the paper's multi-task CRNN (``proposed``: activity,
onset and offset distance per class) and its single-task baseline (``baseline``: activity
only).  A *system* is a network plus a decoder:

- ``proposed``: the multi-task network with the paper's decoder (summed confidence votes),
  kept exactly so the comparison with the paper stays honest;
- ``baseline``: the single-task network, thresholded and median-filtered (the paper's);
- ``multitask``: the same multi-task network under the decoder that wins on validation among
  ``thresholds.multitask`` (e.g. ``bounded``: activity runs moved to where the distance head
  puts the boundaries).  It is what ``detect`` uses by default.
"""

from __future__ import annotations

NETWORKS = ("proposed", "baseline")
SYSTEMS = ("proposed", "baseline", "multitask")
DEFAULT_SYSTEM = "multitask"
PAPER_DECODERS = {"proposed": "confidence", "baseline": "activity"}  # the paper's post-processing of each network


def network_of(system: str) -> str:
    """The trained network a system reads (``multitask`` reads ``proposed``)."""
    if system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}; known: {', '.join(SYSTEMS)}")
    return "proposed" if system == "multitask" else system
