"""Typed, frozen configuration read from ``params.yaml`` in exactly one place.

Every section of ``params.yaml`` maps onto one dataclass below.  Unknown keys, missing keys
and out-of-range values raise :class:`ConfigError` naming the dotted key, so a typo or a
deleted line in a parameter file fails loudly instead of silently falling back to a default:
``params.yaml`` is the only source of a run's recipe.  The dataclasses' own defaults serve code
that builds a section directly (tests, notebooks); they equal ``params.yaml``'s values, and
``tests/config/test_config.py`` holds them equal.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mtsed.config.base import ConfigError, _require
from mtsed.config.data import (
    ITC_IRST_LABELS,
    ClipsConfig,
    DataConfig,
    EventConfig,
    IsolatedSetConfig,
    IsolatedSource,
    OverlappingSetConfig,
    PrepareConfig,
    SetSource,
)
from mtsed.config.layout import SETS
from mtsed.config.model import FeatureConfig, ModelConfig, TargetConfig
from mtsed.config.training import (
    AugmentConfig,
    FoldLists,
    LossWeights,
    PerSet,
    ThresholdConfig,
    TrackingConfig,
    TrainConfig,
)

__all__ = [
    "ITC_IRST_LABELS",
    "AugmentConfig",
    "ClipsConfig",
    "ConfigError",
    "DataConfig",
    "FeatureConfig",
    "FoldLists",
    "EventConfig",
    "IsolatedSetConfig",
    "IsolatedSource",
    "LossWeights",
    "ModelConfig",
    "OverlappingSetConfig",
    "Params",
    "PerSet",
    "PrepareConfig",
    "SetSource",
    "TargetConfig",
    "ThresholdConfig",
    "TrackingConfig",
    "TrainConfig",
    "load_params",
    "params_from_dict",
]


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
            _require(
                folds == expected,
                "train.folds.isolated",
                f"must be {list(expected)}: one leave-one-session-out fold per training session",
            )
        else:  # how many sessions the real set has is known only when it is read
            _require(
                folds == tuple(range(len(folds))) and len(folds) >= 2,
                "train.folds.isolated",
                "must be 0, 1, ..., one fold per training session of the real set (ITC-Irst: 0..8)",
            )
        _require(
            self.train.folds.overlapping == (0,), "train.folds.overlapping", "must be [0]: one train/validation fold"
        )

    def generated_labels(self) -> set[str]:
        """Labels whose clips the generated sets need (none when both sets are real)."""
        labels: set[str] = set()
        for kind in SETS:
            if self.data.of(kind).generated:
                labels |= set(getattr(self.prepare, kind).labels)
        return labels


def _convert(tp: Any, value: Any, key: str) -> Any:
    """Coerce a YAML value to the annotated type, raising ConfigError on a mismatch."""
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    origin = typing.get_origin(tp)
    if origin is dict:
        _require(isinstance(value, dict), key, "must be a mapping")
        key_type, value_type = typing.get_args(tp)
        return {_convert(key_type, k, f"{key}.{k}"): _convert(value_type, v, f"{key}.{k}") for k, v in value.items()}
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
    for name in fields:
        key = f"{prefix}.{name}" if prefix else name
        _require(
            name in mapping,
            key,
            "is missing (a parameter file names every key: copy it from the params.yaml that ships with mtsed)",
        )
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
