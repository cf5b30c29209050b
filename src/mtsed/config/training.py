"""Sections ``train``, ``thresholds`` and ``tracking``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mtsed.config.base import _check_range, _require
from mtsed.config.systems import DECODER_NAMES

# the choices of section train, named once: config checks params against them, the library its arguments
SAMPLINGS = ("random", "grid")
DISTANCE_READINGS = ("window", "recording")  # where distance targets are measured (mtsed.data.windows)
LR_SCHEDULES = ("constant", "cosine")
DISTANCE_LOSSES = ("squared", "smooth-l1")  # mtsed.model.losses
CPU_PRECISIONS = ("fp32", "bf16")
CHECKPOINTS = ("loss", "frame-f1", "last")  # which epoch best.pt holds (mtsed.model.training)
# system proposed: the paper's confidence integration, its votes brought to [0, 1] by one constant per
# class (confidence) or by each vote's region length (confidence-region; mtsed.detection.decoders)
PROPOSED_DECODERS = ("confidence-region", "confidence")
SELECTIONS = ("paper", "smoothed")  # paper: each class's raw best grid point; smoothed: smoothing and shrinkage


def _one_of(value: str, choices: tuple[str, ...], key: str) -> None:
    _require(value in choices, key, f"must be one of {', '.join(choices)}")


@dataclass(frozen=True)
class PerSet:
    """One integer per default data set kind."""

    isolated: int
    overlapping: int

    def __post_init__(self) -> None:
        _require(self.isolated >= 1, "isolated", "must be >= 1")
        _require(self.overlapping >= 1, "overlapping", "must be >= 1")

    def of(self, kind: str) -> int:
        return getattr(self, kind)


@dataclass(frozen=True)
class FoldLists:
    """Fold indices each training fan-out runs (DVC ``matrix`` and Kubeflow read these)."""

    isolated: tuple[int, ...]
    overlapping: tuple[int, ...]

    def of(self, kind: str) -> tuple[int, ...]:
        return getattr(self, kind)


@dataclass(frozen=True)
class LossWeights:
    """Weights of the three losses in the total (METHOD.md section 5; the paper: 1, 1, 1)."""

    classification: float = 1.0
    distance: float = 0.3
    confidence: float = 1.0

    def __post_init__(self) -> None:
        for name in ("classification", "distance", "confidence"):
            _require(getattr(self, name) >= 0, name, "must be >= 0")
        _require(self.classification > 0, "classification", "must be > 0 (activity drives detection)")

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.classification, self.distance, self.confidence)


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation (:mod:`mtsed.data.augment`)."""

    remix: float = 0.5  # probability of adding a second random training window (power domain)
    remix_gain_db: tuple[float, float] = (-12.0, 0.0)
    time_masks: int = 0
    time_mask_frames: int = 40
    freq_masks: int = 0
    freq_mask_bands: int = 6

    def __post_init__(self) -> None:
        _require(0 <= self.remix <= 1, "remix", "must be a probability in [0, 1]")
        _check_range(self.remix_gain_db, "remix_gain_db")
        for name in ("time_masks", "time_mask_frames", "freq_masks", "freq_mask_bands"):
            _require(getattr(self, name) >= 0, name, "must be >= 0")

    @property
    def masks(self) -> bool:
        return (self.time_masks > 0 and self.time_mask_frames > 0) or (self.freq_masks > 0 and self.freq_mask_bands > 0)

    @property
    def active(self) -> bool:
        return self.remix > 0 or self.masks


@dataclass(frozen=True)
class TrainConfig:
    """Stage ``train`` (METHOD.md sections 3 and 5): one model per fold and system."""

    windows_per_epoch: int = 512  # T-frame windows drawn at random start frames each epoch; 0: every window (hop 1)
    sampling: str = "random"  # random: uniform over all start frames (paper: all windows); grid: hop T/4
    distance_targets: str = "window"  # window: boundaries as seen in the window (METHOD.md section 2); recording
    batch_size: int = 8
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"  # constant, or cosine: decays to 0 over the run's steps
    warmup: float = 0.0  # fraction of the run's steps over which the rate rises from 0 (0: none, the paper)
    distance_loss: str = "smooth-l1"  # squared (paper), or smooth-l1 over active class-frames (mtsed.model.losses)
    cpu_precision: str = "fp32"  # fp32, or bf16: the forward pass under bf16 autocast on the CPU (CUDA: fp16)
    checkpoint: str = "frame-f1"  # the epoch kept as best.pt: highest validation frame F1, lowest loss, or last
    seed: int = 0
    num_workers: int = 0  # DataLoader worker processes
    loss_weights: LossWeights = LossWeights()
    augment: AugmentConfig = AugmentConfig()
    epochs: PerSet = PerSet(6, 10)
    folds: FoldLists = FoldLists((0, 1, 2), (0,))

    def __post_init__(self) -> None:
        _require(self.windows_per_epoch >= 0, "windows_per_epoch", "must be >= 0 (0: every window once, hop 1)")
        _one_of(self.sampling, SAMPLINGS, "sampling")
        _one_of(self.distance_targets, DISTANCE_READINGS, "distance_targets")
        _require(self.batch_size >= 1, "batch_size", "must be >= 1")
        _require(0 < self.learning_rate < 1, "learning_rate", "must be in (0, 1)")
        _one_of(self.lr_schedule, LR_SCHEDULES, "lr_schedule")
        _require(0 <= self.warmup < 1, "warmup", "must be a fraction in [0, 1)")
        _one_of(self.distance_loss, DISTANCE_LOSSES, "distance_loss")
        _one_of(self.cpu_precision, CPU_PRECISIONS, "cpu_precision")
        _one_of(self.checkpoint, CHECKPOINTS, "checkpoint")
        _require(self.num_workers >= 0, "num_workers", "must be >= 0")
        _require(
            self.distance_targets == "window" or self.augment.remix == 0,
            "augment.remix",
            "needs distance_targets: window (remixed windows have no recording-level distances)",
        )


@dataclass(frozen=True)
class ThresholdConfig:
    """Stage ``thresholds``: how per-class thresholds are chosen on validation data
    (:mod:`mtsed.detection.thresholds`), and which decoders system ``multitask`` chooses among."""

    smoothing: tuple[int, int] = (2, 1)  # grid steps (alpha, second) averaged around each point
    shrinkage_events: float = 50.0  # per-class choice leans on the shared one below ~this many events
    proposed_decoder: str = "confidence-region"  # system proposed's normalisation of the paper's votes
    proposed_selection: str = "smoothed"  # system proposed: smoothed and shrunk, or paper: each class's raw best
    variants: tuple[str, ...] = ("confidence",)  # decoders of the proposed network reported beside the paper's
    multitask: tuple[str, ...] = (
        "bounded",
        "bounded-10",
        "bounded-3",
        "capped-8",
        "capped-16",
        "weighted-4",
        "confidence-log",
        "activity",
    )  # system multitask: the one with the best held-out validation F1
    multitask_per_class: bool = True  # system multitask picks a decoder per class (shrunk as thresholds are)

    def __post_init__(self) -> None:
        _require(min(self.smoothing) >= 0, "smoothing", "must be >= 0 steps")
        _require(self.shrinkage_events >= 0, "shrinkage_events", "must be >= 0 (0: each class on its own)")
        _one_of(self.proposed_decoder, PROPOSED_DECODERS, "proposed_decoder")
        _one_of(self.proposed_selection, SELECTIONS, "proposed_selection")
        for key in ("variants", "multitask"):
            unknown = [v for v in getattr(self, key) if v not in DECODER_NAMES]
            _require(not unknown, key, f"unknown decoder(s) {unknown}; known: {list(DECODER_NAMES)}")
        _require(len(self.multitask) >= 1, "multitask", "must name at least one decoder")
        _require(
            not (self.multitask_per_class and "sebbs" in self.multitask),
            "multitask",
            "sebbs decodes all classes together: not with multitask_per_class",
        )

    def selection(self, system: str, rule: str = "") -> ThresholdConfig:
        """The settings a system's thresholds are chosen under: system ``proposed`` under
        ``rule`` (default ``proposed_selection``), where ``paper`` takes each class's own best
        grid point (no smoothing, no shrinkage); the other systems as configured."""
        rule = rule or self.proposed_selection
        _one_of(rule, SELECTIONS, "proposed_selection")
        if system == "proposed" and rule == "paper":
            return dataclasses.replace(self, smoothing=(0, 0), shrinkage_events=0.0)
        return self


@dataclass(frozen=True)
class TrackingConfig:
    """Where MLflow runs go; ``MLFLOW_TRACKING_URI`` overrides ``uri``."""

    uri: str = ""  # empty: sqlite:///mlflow.db in the project folder
    experiment: str = "mtsed"

    def __post_init__(self) -> None:
        _require(bool(self.experiment), "experiment", "must not be empty")
