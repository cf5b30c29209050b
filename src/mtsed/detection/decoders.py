"""Decoders: from network outputs to events, each under two thresholds (METHOD.md sections 6-7).

Every decoder turns one class's per-frame outputs into events under a first threshold
``alpha`` on the activity ``y_hat`` and a second parameter: ``beta`` on a confidence score,
or a median-filter window in frames.  Each is written twice over: for a whole grid of both
parameters at once (the threshold search) and for one pair per class over an ensemble of
fold models (detection).

- ``confidence`` (the paper; system ``proposed``): frames with ``y_hat > alpha`` vote
  ``y_hat`` for the event they predict, ``[t - p_hat*T, t + q_hat*T]``; votes add up, are
  normalised by a per-class constant fixed on validation data, and runs above ``beta``
  become events.
- ``confidence-region``: the paper's votes, each divided by the length of the region it
  votes for (``p_hat*T + q_hat*T + 1`` frames), so a frame's ``y_hat`` is spread over the event
  it places: the score of an event's frames is near their ``y_hat`` however long the event
  and wherever a segment edge cuts it, already in [0, 1] with no constant (one reading of
  the paper's "normalized to [0,1]"; system ``proposed`` takes it or ``confidence`` by
  ``thresholds.proposed_decoder``).
- ``confidence-mean``: the same votes averaged over the frames that cast them, so a
  score no longer grows with the event's length (no constant needed).
- ``activity`` (system ``baseline``; also the proposed network's activity head alone):
  ``y_hat > alpha``, median-filtered over ``window`` frames; runs become events.
- ``bounded``: the ``activity`` runs, each onset and offset then moved to where the
  distance head puts it: the mean of ``t - p_hat*T`` over the run's first ``BOUND_FRAMES``
  frames and of ``t + q_hat*T`` over its last ones (frames near a boundary predict it best).
- ``confidence-log``: the paper's scores on a log-spaced beta grid (0.001..1), so a class
  whose longest event sets the normaliser can still cut its short events' lower scores.
- ``capped-R``: the paper's votes with each reach capped at ``R`` frames either side, so
  frames far from a boundary cannot decide where it is.
- ``weighted-K``: the paper's votes weighed by ``K / (K + d)``, ``d`` the frames from the
  voting frame to the nearer boundary it places.
- ``bounded-M``: ``bounded`` with each boundary moved at most ``M`` frames from the run's.
- ``sebbs``: the ``sebbs`` package's change-point bounding boxes on the activity head; its
  first parameter is a configuration index, not alpha (:mod:`mtsed.detection.sebbs_decoder`; optional).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mtsed.data.targets import run_bounds
from mtsed.detection.postprocessing import class_votes, median_filter_binary, median_filter_many
from mtsed.io.events import Event

ALPHAS = np.round(np.arange(101) * 0.01, 2)
BETAS = np.round(np.arange(21) * 0.05, 2)
LOG_BETAS = np.concatenate([[0.0], np.round(np.geomspace(1e-3, 1.0, 31), 6)])
WINDOWS = np.arange(1, 257, 6)
BOUND_FRAMES = 5
FIXED_ALPHA = 0.5
VOTE_KINDS = ("votes", "region-votes", "mean-votes")  # scores made from the distance head's votes


@dataclass(frozen=True)
class Decoder:
    """A decoder's name, kind, and the grids and fixed defaults of its two parameters.

    ``kind`` says how scores are made: ``votes`` (summed, normalised per class), ``region-votes``
    (each divided by its region's length), ``mean-votes``,
    ``activity``, ``bounded`` (activity runs moved by the distance head) or ``sebbs``;
    ``radius``, ``closeness`` and ``max_shift`` are the kind's own setting (0: none).
    """

    name: str
    second_grid: np.ndarray  # the second parameter's values searched (beta or median window: not time)
    second_name: str  # "beta", "median_window" or "detection_threshold"
    fixed_second: float
    uses_distances: bool
    first_grid: np.ndarray = field(default_factory=lambda: ALPHAS)  # alpha, or (sebbs) a configuration index
    fixed_first: float = FIXED_ALPHA
    kind: str = "activity"
    radius: float = 0.0  # votes: reach cap in frames
    closeness: float = 0.0  # votes: weight k / (k + frames to the nearer boundary)
    max_shift: float = 0.0  # bounded: largest move of a boundary in frames

    @property
    def normalised(self) -> bool:
        """Whether scores need the per-class validation constant (summed votes)."""
        return self.kind == "votes"

    @property
    def filtered(self) -> bool:
        """Whether the second parameter is a median window on thresholded activity."""
        return self.second_name == "median_window"


def _votes(name: str, radius: float = 0.0, closeness: float = 0.0, betas: np.ndarray = BETAS) -> Decoder:
    return Decoder(name, betas, "beta", 0.5, True, kind="votes", radius=radius, closeness=closeness)


def _bounded_decoder(name: str, max_shift: float = 0.0) -> Decoder:
    return Decoder(name, WINDOWS, "median_window", 25, True, kind="bounded", max_shift=max_shift)


DECODERS = {
    "confidence": _votes("confidence"),
    "confidence-log": _votes("confidence-log", betas=LOG_BETAS),
    "confidence-region": Decoder("confidence-region", BETAS, "beta", 0.5, True, kind="region-votes"),
    "confidence-mean": Decoder("confidence-mean", BETAS, "beta", 0.5, True, kind="mean-votes"),
    **{f"capped-{r}": _votes(f"capped-{r}", radius=float(r)) for r in (4, 8, 16, 32)},
    **{f"weighted-{k}": _votes(f"weighted-{k}", closeness=float(k)) for k in (4, 16)},
    "activity": Decoder("activity", WINDOWS, "median_window", 25, False),
    "bounded": _bounded_decoder("bounded"),
    **{f"bounded-{m}": _bounded_decoder(f"bounded-{m}", float(m)) for m in (3, 10)},
    "sebbs": Decoder(
        "sebbs", BETAS, "detection_threshold", 0.5, False, np.arange(18), 7, kind="sebbs"
    ),  # 7: 0.48 s step, merge at 0.2
}


def get_decoder(name: str) -> Decoder:
    if name not in DECODERS:
        raise ValueError(f"unknown decoder {name!r}; known: {', '.join(DECODERS)}")
    return DECODERS[name]


@dataclass(frozen=True)
class ClassOutputs:
    """One class's per-frame outputs of one network: activity and, if any, the distances."""

    y: np.ndarray
    p: np.ndarray | None = None
    q: np.ndarray | None = None

    @classmethod
    def of(cls, outputs: np.ndarray, c: int, n_classes: int) -> ClassOutputs:
        if outputs.shape[1] == n_classes:
            return cls(outputs[:, c])
        return cls(outputs[:, c], outputs[:, n_classes + c], outputs[:, 2 * n_classes + c])


def raw_votes(
    dec: Decoder, out: ClassOutputs, alphas: np.ndarray, segment_frames: int, unit: bool = False
) -> np.ndarray:
    """A vote decoder's summed votes ``(len(alphas), frames)`` (its radius, closeness and
    division by each region's length applied)."""
    return class_votes(
        out.y,
        out.p,
        out.q,
        alphas,
        segment_frames,
        unit=unit,
        radius=dec.radius,
        closeness=dec.closeness,
        per_region=dec.kind == "region-votes",
    )


def class_scores(
    dec: Decoder, out: ClassOutputs, alphas: np.ndarray, segment_frames: int, constants: np.ndarray | None = None
) -> np.ndarray:
    """``(len(alphas), frames)``: the score ``beta`` cuts (vote decoders; summed votes
    over ``constants`` per alpha), or the activity that ``alpha`` cuts (activity decoders)."""
    if dec.kind == "votes":
        votes = raw_votes(dec, out, alphas, segment_frames)
        return np.clip(votes / np.maximum(np.asarray(constants)[:, None], 1e-12), 0.0, 1.0)
    if dec.kind == "region-votes":
        return np.clip(raw_votes(dec, out, alphas, segment_frames), 0.0, 1.0)
    if dec.kind == "mean-votes":
        votes = raw_votes(dec, out, alphas, segment_frames)
        voters = raw_votes(dec, out, alphas, segment_frames, unit=True)
        return np.where(voters > 0.5, votes / np.maximum(voters, 1.0), 0.0)
    return np.broadcast_to(out.y, (len(alphas), out.y.shape[0]))


def _active(dec: Decoder, scores: np.ndarray, alphas: np.ndarray, second_grid: np.ndarray) -> np.ndarray:
    """``(A, S, frames)`` activity for every alpha (rows of ``scores``) and second parameter."""
    if dec.filtered:
        return median_filter_many(scores > alphas[:, None], second_grid)
    return scores[:, None, :] > second_grid[None, :, None]


def _bounded(
    first: np.ndarray, stop: np.ndarray, out: ClassOutputs, segment_frames: int, max_shift: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Run boundaries (frames) moved to the distance head's estimate near each end, by at
    most ``max_shift`` frames when that is > 0."""
    t = np.arange(out.y.shape[0], dtype=np.float64)
    onset_sum = np.concatenate([[0.0], np.cumsum(t - out.p * segment_frames)])
    offset_sum = np.concatenate([[0.0], np.cumsum(t + out.q * segment_frames)])
    k = np.minimum(stop - first, BOUND_FRAMES)
    onsets = (onset_sum[first + k] - onset_sum[first]) / k
    offsets = (offset_sum[stop] - offset_sum[stop - k]) / k + 1.0
    if max_shift > 0:
        onsets = np.clip(onsets, first - max_shift, first + max_shift)
        offsets = np.clip(offsets, stop - max_shift, stop + max_shift)
    onsets = np.maximum(onsets, 0.0)
    return onsets, np.maximum(offsets, onsets + 1.0)


def grid_events(
    dec: Decoder,
    out: ClassOutputs,
    segment_frames: int,
    constants: np.ndarray | None = None,
    alphas: np.ndarray | None = None,
    frame_seconds: float = 0.02,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Events of one class for every grid point ``(alpha, second)``: each event's row
    (``alpha_index * len(dec.second_grid) + second_index``), onset and offset in frames, and
    the number of rows; ``constants`` are the normalisers per alpha (summed votes)."""
    if dec.kind == "sebbs":
        from mtsed.detection import sebbs_decoder

        return sebbs_decoder.grid_events(out.y, frame_seconds, dec.second_grid)
    alphas = dec.first_grid if alphas is None else alphas
    scores = class_scores(dec, out, alphas, segment_frames, constants)
    active = _active(dec, scores, alphas, dec.second_grid)
    rows, first, stop = run_bounds(active.reshape(-1, active.shape[-1]))
    if dec.kind == "bounded" and len(rows):
        onsets, offsets = _bounded(first, stop, out, segment_frames, dec.max_shift)
        return rows, onsets, offsets, active.shape[0] * active.shape[1]
    return rows, first.astype(np.float64), stop.astype(np.float64), active.shape[0] * active.shape[1]


def ensemble_scores(
    dec: Decoder,
    fold_outputs: Sequence[np.ndarray],
    alpha: np.ndarray,
    segment_frames: int,
    norms: Sequence[np.ndarray] = (),
    classes: Sequence[int] | None = None,
) -> np.ndarray:
    """Scores ``(frames, C)`` in [0, 1] of an ensemble of fold models: confidence per fold
    at each class's ``alpha`` then averaged, or the mean activity; vote scores only for
    ``classes`` (default: all; the other columns stay 0)."""
    n_classes = len(alpha)
    if dec.kind not in VOTE_KINDS:
        return np.mean([o[:, :n_classes] for o in fold_outputs], axis=0)
    classes = range(n_classes) if classes is None else classes
    scores = np.zeros((len(fold_outputs[0]), n_classes))
    for k, outputs in enumerate(fold_outputs):
        for c in classes:
            constant = np.asarray(norms[k])[c : c + 1] if dec.normalised else None
            scores[:, c] += class_scores(
                dec, ClassOutputs.of(outputs, c, n_classes), alpha[c : c + 1], segment_frames, constant
            )[0]
    return scores / len(fold_outputs)


def decode(
    dec: Decoder,
    scores: np.ndarray,
    fold_outputs: Sequence[np.ndarray],
    alpha: np.ndarray,
    second: np.ndarray,
    labels: Sequence[str],
    frame_seconds: float,
    segment_frames: int,
    file: str = "",
    classes: Sequence[int] | None = None,
) -> list[Event]:
    """Events of an ensemble from its scores (and, for ``bounded`` kinds, its mean distances),
    of ``classes`` only (default: all)."""
    classes = list(range(len(labels))) if classes is None else list(classes)
    if dec.kind == "sebbs":
        from mtsed.detection import sebbs_decoder

        boxes = sebbs_decoder.decode(
            scores[:, classes], alpha[classes], second[classes], [labels[c] for c in classes], frame_seconds
        )
        return sorted(
            (Event(float(a), float(b), label, file) for a, b, label in boxes),
            key=lambda e: (e.onset, e.offset, e.label),
        )
    mean = np.mean(fold_outputs, axis=0) if dec.kind == "bounded" else None
    events = []
    for c in classes:
        label = labels[c]
        if dec.filtered:
            active = median_filter_binary(scores[:, c] > alpha[c], int(second[c]))
        else:
            active = scores[:, c] > second[c]
        _, first, stop = run_bounds(active[None, :])
        onsets, offsets = first.astype(np.float64), stop.astype(np.float64)
        if mean is not None and len(first):
            onsets, offsets = _bounded(
                first, stop, ClassOutputs.of(mean, c, len(labels)), segment_frames, dec.max_shift
            )
        events += [
            Event(float(a * frame_seconds), float(b * frame_seconds), label, file) for a, b in zip(onsets, offsets)
        ]
    return sorted(events, key=lambda e: (e.onset, e.offset, e.label))
