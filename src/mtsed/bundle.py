"""A trained detector as one file: fold weights, feature settings, statistics, thresholds.

Like torchaudio's pipeline bundles, everything inference needs travels together, so
``detect`` can never pair weights with mismatched features.  The file holds only tensors
and a JSON string and loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from mtsed.config import FeatureConfig
from mtsed.events import Event
from mtsed.features import Standardiser
from mtsed.fileio import atomic_path
from mtsed.inference import (
    baseline_activity,
    confidence_scores,
    events_from_activity,
    network_outputs,
    normalise,
)
from mtsed.model import CRNN, ModelSpec
from mtsed.train import pick_device

FORMAT = "mtsed-bundle-1"


@dataclass(frozen=True)
class FoldModel:
    """One cross-validation fold's network with its own standardisation and normaliser."""

    name: str
    spec: ModelSpec
    weights: dict[str, torch.Tensor]
    standardiser: dict
    norm: tuple[float, ...]  # per class (proposed); empty for the baseline

    def network(self, device: torch.device) -> CRNN:
        """The fold's CRNN with its weights, on ``device``, ready for inference."""
        model = CRNN(self.spec)
        model.load_state_dict(self.weights)
        return model.to(device)


@dataclass(frozen=True)
class Bundle:
    """An ensemble of fold models plus everything needed to turn audio into events."""

    system: str
    labels: tuple[str, ...]
    features: FeatureConfig
    segment_frames: int
    alpha: tuple[float, ...]
    second: tuple[float, ...]  # beta per class (proposed) or median window (baseline)
    folds: tuple[FoldModel, ...]

    @property
    def frame_seconds(self) -> float:
        return self.features.frame_seconds

    def meta(self) -> dict:
        """Everything but the weights, as plain JSON."""
        key = "beta" if self.system == "proposed" else "median_window"
        return {
            "format": FORMAT, "system": self.system, "labels": list(self.labels), "features": asdict(self.features),
            "segment_frames": self.segment_frames, "alpha": list(self.alpha), key: list(self.second),
            "folds": [{"name": f.name, "spec": asdict(f.spec), "standardiser": f.standardiser, "norm": list(f.norm)} for f in self.folds],
        }

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp:
            torch.save({"meta": json.dumps(self.meta()), "weights": [f.weights for f in self.folds]}, tmp)

    @cached_property
    def _networks(self) -> list[tuple[CRNN, Standardiser]]:
        """Fold networks built once per bundle, not once per file (``detect``, serving)."""
        device = pick_device()
        return [(fold.network(device), Standardiser.from_dict(fold.standardiser)) for fold in self.folds]

    def fold_outputs(self, log_mel: np.ndarray) -> list[np.ndarray]:
        """Each fold network's per-frame outputs for one recording's raw log-mel features."""
        return [network_outputs(model, standardiser.apply(np.asarray(log_mel)), self.segment_frames)
                for model, standardiser in self._networks]

    def scores(self, fold_outputs: list[np.ndarray]) -> np.ndarray:
        """Ensemble scores ``(frames, C)`` in [0, 1]: normalised confidence (proposed) or
        mean activity (baseline), averaged over the fold models."""
        alpha = np.asarray(self.alpha)
        if self.system == "baseline":
            return np.mean(fold_outputs, axis=0)
        per_fold = [normalise(confidence_scores(o, alpha, self.segment_frames), np.asarray(f.norm)[None, :])
                    for o, f in zip(fold_outputs, self.folds)]
        return np.mean(per_fold, axis=0)

    def events(self, scores: np.ndarray, file: str = "") -> list[Event]:
        """Events from ensemble scores with the searched thresholds."""
        if self.system == "baseline":
            active = baseline_activity(scores, np.asarray(self.alpha), np.asarray(self.second, int))
        else:
            active = scores > np.asarray(self.second)[None, :]
        return events_from_activity(active, self.labels, self.frame_seconds, file)

    def detect(self, path: Path, file: str = "") -> tuple[list[Event], float]:
        """Events in one audio file (any format libsndfile reads) and its duration in seconds;
        raises :class:`mtsed.audio.AudioError` naming the file if it cannot be used."""
        from mtsed.audio import load_audio
        from mtsed.features import log_mel

        audio = load_audio(path, self.features.sample_rate)
        scores = self.scores(self.fold_outputs(log_mel(audio, self.features)))
        return self.events(scores, file), len(audio) / self.features.sample_rate


def load_bundle(path: Path) -> Bundle:
    """Read a bundle written by :meth:`Bundle.save`, naming the file on any problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model bundle (run `make run` or pass --model)")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
        meta = json.loads(raw["meta"])
    except Exception as error:
        raise ValueError(f"{path}: not a model bundle ({error})") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown bundle format {meta.get('format')!r}")
    folds = tuple(
        FoldModel(f["name"], ModelSpec(**f["spec"]), weights, f["standardiser"], tuple(f["norm"]))
        for f, weights in zip(meta["folds"], raw["weights"])
    )
    second = meta["beta"] if meta["system"] == "proposed" else meta["median_window"]
    return Bundle(meta["system"], tuple(meta["labels"]), FeatureConfig(**meta["features"]), int(meta["segment_frames"]),
                  tuple(meta["alpha"]), tuple(second), folds)


def load_fold_model(checkpoint: Path) -> tuple[FoldModel, dict]:
    """A fold network from a training checkpoint (``best.pt``) and that checkpoint's config."""
    from mtsed.train import load_checkpoint

    state = load_checkpoint(checkpoint)
    config = json.loads(state["config"])
    spec = ModelSpec(**config["model"])
    return FoldModel(str(config["fold"]), spec, state["model"], config["standardiser"], ()), config
