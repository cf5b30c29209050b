"""Sections ``data``, ``clips`` and ``prepare``: where the two data sets come from."""

from __future__ import annotations

from dataclasses import dataclass, field

from mtsed.config.base import _check_range, _require


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
    sessions: int = 5
    test_sessions: int = 2
    session_seconds: float = 300.0
    gap_seconds: tuple[float, float] = (0.5, 3.0)
    snr_db: tuple[float, float] = (0.0, 15.0)
    sources_per_label: int = 6  # 0: every clip of the label is a source
    rooms: int = 1  # background clips that recur as the sessions' rooms (session k: room k mod rooms)
    speed_variation: float = 0.04  # tape-style: pitch and duration change together
    eq_db: float = 3.0

    def __post_init__(self) -> None:
        _require(
            len(self.labels) >= 1 and len(set(self.labels)) == len(self.labels),
            "labels",
            "must be distinct and non-empty",
        )
        _require(self.sessions >= 3, "sessions", "must be >= 3 (at least two for cross-validation plus one test)")
        _require(
            1 <= self.test_sessions <= self.sessions - 2, "test_sessions", "must leave at least two training sessions"
        )
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
    mixtures: tuple[int, int, int] = (60, 20, 20)  # train, validation, evaluation
    mixture_seconds: float = 40.0
    events_per_minute: float = 40.0
    max_polyphony: int = 4
    snr_db: tuple[float, float] = (-3.0, 12.0)

    def __post_init__(self) -> None:
        _require(
            len(self.labels) >= 1 and len(set(self.labels)) == len(self.labels),
            "labels",
            "must be distinct and non-empty",
        )
        _require(
            len(self.mixtures) == 3 and min(self.mixtures) >= 1,
            "mixtures",
            "must be [train, validation, evaluation] counts >= 1",
        )
        _require(self.mixture_seconds >= 5, "mixture_seconds", "must be >= 5")
        _require(self.events_per_minute > 0, "events_per_minute", "must be positive")
        _require(1 <= self.max_polyphony <= 16, "max_polyphony", "must be in 1..16")
        _check_range(self.snr_db, "snr_db")


@dataclass(frozen=True)
class EventConfig:
    """What one foreground event of the generated sets is (:mod:`mtsed.data.default.sounds`):
    a sequence of hits for a class of short clips (a walk, a burst of typing), annotated as
    one event; a random stretch of a long clip in the overlapping set (TUT-SED-Synthetic-2016:
    3-15 s); else a whole clip. ``sequences: false`` and ``stretch_seconds: [0, 0]`` make
    every event one whole clip."""

    sequences: bool = True
    impulsive_seconds: float = 0.5  # a class whose clips' median is shorter gives sequences
    sequence_seconds: tuple[float, float] = (2.0, 8.0)
    rates_hz: dict[str, float] = field(default_factory=lambda: {"footsteps": 1.8, "keyboard_typing": 5.0})
    default_rate_hz: float = 2.0  # hits per second of an impulsive class not in rates_hz
    rate_jitter: float = 0.3  # log-normal spread of each interval (and half of it, of each sequence's pace)
    split_gap_seconds: float = 1.0  # a silence longer than this between hits splits a sequence in two events
    stretch_seconds: tuple[float, float] = (3.0, 15.0)  # overlapping set: a longer clip gives a stretch this long

    def __post_init__(self) -> None:
        _require(self.impulsive_seconds > 0, "impulsive_seconds", "must be positive")
        _check_range(self.sequence_seconds, "sequence_seconds")
        _require(self.sequence_seconds[0] > 0, "sequence_seconds", "must be positive")
        _require(
            all(rate > 0 for rate in self.rates_hz.values()) and self.default_rate_hz > 0,
            "rates_hz",
            "rates must be positive (hits per second)",
        )
        _require(0 <= self.rate_jitter <= 1, "rate_jitter", "must be in [0, 1]")
        _require(self.split_gap_seconds > 0, "split_gap_seconds", "must be positive")
        _check_range(self.stretch_seconds, "stretch_seconds")
        _require(self.stretch_seconds[0] >= 0, "stretch_seconds", "must be >= 0 ([0, 0]: whole clips)")

    def rate_of(self, label: str) -> float:
        return self.rates_hz.get(label, self.default_rate_hz)


@dataclass(frozen=True)
class PrepareConfig:
    """Stage ``prepare``: the two embedded default data sets mixed from real clips."""

    seed: int
    sample_rate: int
    background_dbfs: float
    isolated: IsolatedSetConfig
    overlapping: OverlappingSetConfig
    events: EventConfig = EventConfig()

    def __post_init__(self) -> None:
        _require(self.sample_rate >= 8000, "sample_rate", "must be >= 8000")
        _require(-80 <= self.background_dbfs <= -6, "background_dbfs", "must be in [-80, -6]")


ITC_IRST_LABELS = (
    "door_knock",
    "door_slam",
    "steps",
    "chair_moving",
    "spoon_cup_jingle",
    "paper_wrapping",
    "key_jingle",
    "keyboard_clicking",
    "phone_ring",
    "applause",
    "cough",
    "laugh",
)  # the paper's 12 evaluated classes


@dataclass(frozen=True)
class SetSource:
    """Where one of the two data sets comes from: generated from clips, or a real set on disk."""

    source: str = "generated"
    root: str = ""  # folder holding the real set

    @property
    def generated(self) -> bool:
        return self.source == "generated"


@dataclass(frozen=True)
class IsolatedSource(SetSource):
    """Where the isolated set comes from, and for a real ITC-Irst which sessions are the
    test split and which labels are evaluated."""

    test_sessions: tuple[str, ...] = ()  # itc-irst: the sessions held out for test
    labels: tuple[str, ...] = ()  # itc-irst: evaluated labels (empty: the paper's 12); the rest is background


@dataclass(frozen=True)
class DataConfig:
    """Stage ``prepare``: the source of each set (``data.isolated``, ``data.overlapping``)."""

    isolated: IsolatedSource = IsolatedSource()
    overlapping: SetSource = SetSource()

    def __post_init__(self) -> None:
        for kind, real in (("isolated", "itc-irst"), ("overlapping", "tut-sed-synthetic-2016")):
            cfg: SetSource = getattr(self, kind)
            _require(cfg.source in ("generated", real), f"{kind}.source", f"must be 'generated' or '{real}'")
            _require(cfg.generated or bool(cfg.root), f"{kind}.root", f"is required when source is '{real}'")
        _require(
            self.isolated.generated or len(self.isolated.test_sessions) >= 1,
            "isolated.test_sessions",
            "must name the test sessions of itc-irst (the paper: 3 of 12)",
        )

    def of(self, kind: str) -> SetSource:
        return getattr(self, kind)
