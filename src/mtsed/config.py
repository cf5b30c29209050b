"""Typed, frozen configuration read from ``params.yaml`` in exactly one place.

Every section of ``params.yaml`` maps onto one dataclass below.  Unknown keys, missing keys
and out-of-range values raise :class:`ConfigError` naming the dotted key, so a typo in a
parameter file fails loudly instead of silently falling back to a default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A parameter file is malformed; ``key`` is the dotted path of the culprit."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"params: '{key}' {message}" if key else f"params: {message}")
        self.key = key
        self.message = message


def _require(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise ConfigError(key, message)


def _check_range(pair: tuple[float, float], key: str) -> None:
    _require(len(pair) == 2 and pair[0] <= pair[1], key, "must be [low, high] with low <= high")


@dataclass(frozen=True)
class ClipsConfig:
    """Where real foreground/background clips come from (stage ``clips``)."""

    source: str = "debian"  # "debian": fetch packages with apt-get download; "folder": use `folder`
    folder: str = ""  # foreground/<label>/*.wav and background/*.wav (Scaper's layout)
    max_clip_seconds: float = 12.0  # longer foreground clips are cut (keeps events event-like)
    trim_top_db: float = 40.0  # leading/trailing audio quieter than peak - top_db is trimmed
    extra_packages: tuple[str, ...] = ()  # Debian packages over 100 MB to fetch too (e.g. 0ad-data)

    def __post_init__(self) -> None:
        _require(self.source in ("debian", "folder"), "source", "must be 'debian' or 'folder'")
        _require(self.source != "folder" or bool(self.folder), "folder", "is required when source is 'folder'")
        _require(self.max_clip_seconds > 0, "max_clip_seconds", "must be positive")
        _require(self.trim_top_db > 0, "trim_top_db", "must be positive")


@dataclass(frozen=True)
class IsolatedSetConfig:
    """ITC-Irst-style set: sessions of non-overlapping events over room background.

    As in ITC-Irst, the same sound sources recur in every session: each event is a new
    take of one of ``sources_per_label`` fixed clips (random gain and timing, playback
    speed within +-``speed_variation`` and a random equaliser curve within +-``eq_db``),
    and the sessions take turns in ``rooms`` fixed background clips (a random stretch of
    each), so the test sessions hold new takes of known sources in known rooms.
    """

    labels: tuple[str, ...]
    sessions: int = 6
    test_sessions: int = 2
    session_seconds: float = 60.0
    gap_seconds: tuple[float, float] = (0.5, 3.0)
    snr_db: tuple[float, float] = (0.0, 15.0)
    sources_per_label: int = 0  # 0: every clip of the label is a source
    rooms: int = 2  # background clips that recur as the sessions' rooms (session k: room k mod rooms)
    speed_variation: float = 0.04  # tape-style: pitch and duration change together
    eq_db: float = 3.0

    def __post_init__(self) -> None:
        _require(len(self.labels) >= 1 and len(set(self.labels)) == len(self.labels), "labels", "must be distinct and non-empty")
        _require(self.sessions >= 3, "sessions", "must be >= 3 (at least two for cross-validation plus one test)")
        _require(1 <= self.test_sessions <= self.sessions - 2, "test_sessions", "must leave at least two training sessions")
        _require(self.session_seconds >= 5, "session_seconds", "must be >= 5")
        _check_range(self.gap_seconds, "gap_seconds")
        _require(self.gap_seconds[0] >= 0, "gap_seconds", "must be non-negative")
        _check_range(self.snr_db, "snr_db")
        _require(self.sources_per_label >= 0, "sources_per_label", "must be >= 0 (0: all clips)")
        _require(self.rooms >= 1, "rooms", "must be >= 1")
        _require(0 <= self.speed_variation < 0.5, "speed_variation", "must be in [0, 0.5)")
        _require(0 <= self.eq_db <= 24, "eq_db", "must be in [0, 24]")


@dataclass(frozen=True)
class OverlappingSetConfig:
    """TUT-SED-Synthetic-2016-style set: polyphonic mixtures split train/validation/evaluation."""

    labels: tuple[str, ...]
    mixtures: tuple[int, int, int] = (12, 4, 4)  # train, validation, evaluation
    mixture_seconds: float = 40.0
    events_per_minute: float = 40.0
    max_polyphony: int = 4
    snr_db: tuple[float, float] = (-3.0, 12.0)

    def __post_init__(self) -> None:
        _require(len(self.labels) >= 1 and len(set(self.labels)) == len(self.labels), "labels", "must be distinct and non-empty")
        _require(len(self.mixtures) == 3 and min(self.mixtures) >= 1, "mixtures", "must be [train, validation, evaluation] counts >= 1")
        _require(self.mixture_seconds >= 5, "mixture_seconds", "must be >= 5")
        _require(self.events_per_minute > 0, "events_per_minute", "must be positive")
        _require(1 <= self.max_polyphony <= 16, "max_polyphony", "must be in 1..16")
        _check_range(self.snr_db, "snr_db")


@dataclass(frozen=True)
class PrepareConfig:
    """Stage ``prepare``: the two embedded default data sets mixed from real clips."""

    seed: int
    sample_rate: int
    background_dbfs: float
    isolated: IsolatedSetConfig
    overlapping: OverlappingSetConfig

    def __post_init__(self) -> None:
        _require(self.sample_rate >= 8000, "sample_rate", "must be >= 8000")
        _require(-80 <= self.background_dbfs <= -6, "background_dbfs", "must be in [-80, -6]")


ITC_IRST_LABELS = ("door_knock", "door_slam", "steps", "chair_moving", "spoon_cup_jingle", "paper_wrapping", "key_jingle",
                   "keyboard_clicking", "phone_ring", "applause", "cough", "laugh")  # the paper's 12 evaluated classes


@dataclass(frozen=True)
class SetSource:
    """Where one of the two data sets comes from: generated from clips, or a real set on disk."""

    source: str = "generated"
    root: str = ""  # folder holding the real set
    test_sessions: tuple[str, ...] = ()  # itc-irst: the sessions held out for test
    labels: tuple[str, ...] = ()  # itc-irst: evaluated labels (empty: the paper's 12); the rest is background

    @property
    def generated(self) -> bool:
        return self.source == "generated"


@dataclass(frozen=True)
class DataConfig:
    """Stage ``prepare``: the source of each set (``data.isolated``, ``data.overlapping``)."""

    isolated: SetSource = SetSource()
    overlapping: SetSource = SetSource()

    def __post_init__(self) -> None:
        for kind, real in (("isolated", "itc-irst"), ("overlapping", "tut-sed-synthetic-2016")):
            cfg: SetSource = getattr(self, kind)
            _require(cfg.source in ("generated", real), f"{kind}.source", f"must be 'generated' or '{real}'")
            _require(cfg.generated or bool(cfg.root), f"{kind}.root", f"is required when source is '{real}'")
        _require(self.isolated.generated or len(self.isolated.test_sessions) >= 1, "isolated.test_sessions",
                 "must name the test sessions of itc-irst (the paper: 3 of 12)")

    def of(self, kind: str) -> SetSource:
        return getattr(self, kind)


@dataclass(frozen=True)
class FeatureConfig:
    """Stage ``features``: log mel spectrogram (SPEC section 1)."""

    sample_rate: int = 44100
    n_mels: int = 40
    fmin: float = 50.0
    fmax: float = 22050.0
    win_length: int = 1764
    hop_length: int = 882
    n_fft: int = 2048
    log_eps: float = 1e-8
    workers: int = 2

    def __post_init__(self) -> None:
        _require(self.sample_rate >= 8000, "sample_rate", "must be >= 8000")
        _require(self.n_mels >= 1, "n_mels", "must be >= 1")
        _require(0 <= self.fmin < self.fmax, "fmin", "must be >= 0 and below fmax")
        _require(self.fmax <= self.sample_rate / 2, "fmax", "must not exceed the Nyquist frequency")
        _require(self.win_length >= 1, "win_length", "must be >= 1")
        _require(1 <= self.hop_length <= self.win_length, "hop_length", "must be in 1..win_length")
        _require(self.n_fft >= self.win_length, "n_fft", "must be >= win_length")
        _require(self.log_eps > 0, "log_eps", "must be positive")
        _require(self.workers >= 1, "workers", "must be >= 1")

    @property
    def frame_seconds(self) -> float:
        """Seconds between consecutive frames (the hop)."""
        return self.hop_length / self.sample_rate


@dataclass(frozen=True)
class TargetConfig:
    """Stage ``targets``: triplet encoding (SPEC section 2)."""

    segment_frames: int = 512

    def __post_init__(self) -> None:
        _require(self.segment_frames >= 1, "segment_frames", "must be >= 1")


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the CRNN (SPEC section 4); the paper uses filters = hidden = 256."""

    filters: int = 64  # F
    hidden: int = 64  # H per GRU direction
    dropout: float = 0.25
    residual: str = "sum"  # "sum" or "concat"

    def __post_init__(self) -> None:
        _require(self.filters >= 1, "filters", "must be >= 1")
        _require(self.hidden >= 1, "hidden", "must be >= 1")
        _require(0 <= self.dropout < 1, "dropout", "must be in [0, 1)")
        _require(self.residual in ("sum", "concat"), "residual", "must be 'sum' or 'concat'")


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
    """Weights of the three losses in the total (SPEC section 5; the paper: 1, 1, 1)."""

    classification: float = 1.0
    distance: float = 1.0
    confidence: float = 1.0

    def __post_init__(self) -> None:
        for name in ("classification", "distance", "confidence"):
            _require(getattr(self, name) >= 0, name, "must be >= 0")
        _require(self.classification > 0, "classification", "must be > 0 (activity drives detection)")

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.classification, self.distance, self.confidence)


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation (:mod:`mtsed.augment`); everything off by default."""

    remix: float = 0.0  # probability of adding a second random training window (power domain)
    remix_gain_db: tuple[float, float] = (-12.0, 0.0)
    time_masks: int = 0
    time_mask_frames: int = 0
    freq_masks: int = 0
    freq_mask_bands: int = 0

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
    """Stage ``train`` (SPEC sections 3 and 5): one model per fold and system."""

    windows_per_epoch: int = 512  # T-frame windows drawn at random start frames each epoch; 0: every window (hop 1)
    sampling: str = "random"  # random: uniform over all start frames (paper: all windows); grid: hop T/4
    distance_targets: str = "window"  # window: boundaries as seen in the window (SPEC 2); recording
    batch_size: int = 8
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"  # constant, or cosine: decays to 0 over the run's steps
    seed: int = 0
    num_workers: int = 0  # DataLoader worker processes
    loss_weights: LossWeights = LossWeights()
    augment: AugmentConfig = AugmentConfig()
    epochs: PerSet = PerSet(12, 10)
    folds: FoldLists = FoldLists((0, 1, 2, 3), (0,))

    def __post_init__(self) -> None:
        _require(self.windows_per_epoch >= 0, "windows_per_epoch", "must be >= 0 (0: every window once, hop 1)")
        _require(self.sampling in ("random", "grid"), "sampling", "must be 'random' or 'grid'")
        _require(self.distance_targets in ("window", "recording"), "distance_targets", "must be 'window' or 'recording'")
        _require(self.batch_size >= 1, "batch_size", "must be >= 1")
        _require(0 < self.learning_rate < 1, "learning_rate", "must be in (0, 1)")
        _require(self.lr_schedule in ("constant", "cosine"), "lr_schedule", "must be 'constant' or 'cosine'")
        _require(self.num_workers >= 0, "num_workers", "must be >= 0")
        _require(self.distance_targets == "window" or self.augment.remix == 0, "augment.remix",
                 "needs distance_targets: window (remixed windows have no recording-level distances)")


@dataclass(frozen=True)
class ThresholdConfig:
    """Stage ``thresholds``: how per-class thresholds are chosen on validation data
    (:mod:`mtsed.thresholds`)."""

    smoothing: tuple[int, int] = (2, 1)  # grid steps (alpha, second) averaged around each point
    shrinkage_events: float = 50.0  # per-class choice leans on the shared one below ~this many events
    variants: tuple[str, ...] = ()  # decoders of the proposed network reported beside the paper's

    def __post_init__(self) -> None:
        _require(min(self.smoothing) >= 0, "smoothing", "must be >= 0 steps")
        _require(self.shrinkage_events >= 0, "shrinkage_events", "must be >= 0 (0: each class on its own)")
        known = ("confidence", "confidence-mean", "activity", "bounded", "sebbs")
        unknown = [v for v in self.variants if v not in known]
        _require(not unknown, "variants", f"unknown decoder(s) {unknown}; known: {list(known)}")


@dataclass(frozen=True)
class TrackingConfig:
    """Where MLflow runs go; ``MLFLOW_TRACKING_URI`` overrides ``uri``."""

    uri: str = ""  # empty: sqlite:///mlflow.db in the project folder
    experiment: str = "mtsed"

    def __post_init__(self) -> None:
        _require(bool(self.experiment), "experiment", "must not be empty")


@dataclass(frozen=True)
class Params:
    """All parameters of the pipeline, one attribute per ``params.yaml`` section."""

    data: DataConfig
    clips: ClipsConfig
    prepare: PrepareConfig
    features: FeatureConfig
    targets: TargetConfig
    model: ModelConfig
    train: TrainConfig
    thresholds: ThresholdConfig
    tracking: TrackingConfig

    def __post_init__(self) -> None:
        isolated = self.prepare.isolated
        folds = self.train.folds.isolated
        if self.data.isolated.generated:
            expected = tuple(range(isolated.sessions - isolated.test_sessions))
            _require(folds == expected, "train.folds.isolated",
                     f"must be {list(expected)}: one leave-one-session-out fold per training session")
        else:  # how many sessions the real set has is known only when it is read
            _require(folds == tuple(range(len(folds))) and len(folds) >= 2, "train.folds.isolated",
                     "must be 0, 1, ..., one fold per training session of the real set (ITC-Irst: 0..8)")
        _require(self.train.folds.overlapping == (0,), "train.folds.overlapping", "must be [0]: one train/validation fold")

    def generated_labels(self) -> set[str]:
        """Labels whose clips the generated sets need (none when both sets are real)."""
        labels: set[str] = set()
        for kind in ("isolated", "overlapping"):
            if self.data.of(kind).generated:
                labels |= set(getattr(self.prepare, kind).labels)
        return labels


def _convert(tp: Any, value: Any, key: str) -> Any:
    """Coerce a YAML value to the annotated type, raising ConfigError on a mismatch."""
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    origin = typing.get_origin(tp)
    if origin is tuple:
        _require(isinstance(value, (list, tuple)), key, "must be a list")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
        _require(len(value) == len(args), key, f"must have {len(args)} items")
        return tuple(_convert(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"unsupported annotation for {key}: {tp}")
    if tp is float:
        _require(isinstance(value, (int, float)) and not isinstance(value, bool), key, "must be a number")
        return float(value)
    if tp is int:
        _require(isinstance(value, int) and not isinstance(value, bool), key, "must be an integer")
        return value
    if tp is str:
        _require(isinstance(value, str), key, "must be a string")
        return value
    if tp is bool:
        _require(isinstance(value, bool), key, "must be true or false")
        return value
    raise TypeError(f"unsupported annotation for {key}: {tp}")


def _build(cls: type, mapping: Any, prefix: str) -> Any:
    """Build dataclass ``cls`` from a mapping, rejecting unknown and missing keys."""
    _require(isinstance(mapping, dict), prefix, "must be a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise ConfigError(f"{prefix}.{unknown[0]}" if prefix else str(unknown[0]), "is not a known parameter")
    kwargs = {}
    for name, field in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in mapping:
            has_default = field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
            _require(has_default, key, "is missing")
            continue
        kwargs[name] = _convert(hints[name], mapping[name], key)
    try:
        return cls(**kwargs)
    except ConfigError as error:
        raise ConfigError(f"{prefix}.{error.key}" if prefix else error.key, error.message) from None


def params_from_dict(raw: dict[str, Any]) -> Params:
    """Validate a parsed parameter mapping into :class:`Params`."""
    return _build(Params, raw, "")


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate ``params.yaml``; the only place parameters are parsed."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("", f"parameter file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError("", f"{path} is not valid YAML: {error}") from None
    return params_from_dict(raw or {})
