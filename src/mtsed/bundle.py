"""A trained detector as one file: fold weights, feature settings, statistics, thresholds.

Like torchaudio's pipeline bundles, everything inference needs travels together, so
``detect`` can never pair weights with mismatched features.  The file holds only tensors
and a JSON string and loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from mtsed.config import FeatureConfig
from mtsed.decoders import Decoder, decode, ensemble_scores, get_decoder
from mtsed.events import Event
from mtsed.features import Standardiser
from mtsed.fileio import atomic_path
from mtsed.inference import SegmentRunner
from mtsed.model import CRNN, ModelSpec
from mtsed.train import pick_device

FORMAT = "mtsed-bundle-2"


@dataclass(frozen=True)
class FoldModel:
    """One cross-validation fold's network with its own standardisation and normalisers
    (summed-vote decoder only: at the chosen alphas, and at the fixed default alpha)."""

    name: str
    spec: ModelSpec
    weights: dict[str, torch.Tensor]
    standardiser: dict
    norm: tuple[float, ...] = ()
    fixed_norm: tuple[float, ...] = ()

    def network(self, device: torch.device) -> CRNN:
        """The fold's CRNN with its weights, on ``device``, ready for inference (channels-last,
        as in training: x1.4-1.7 on CPU, outputs within 2e-7 of the default layout)."""
        model = CRNN(self.spec)
        model.load_state_dict(self.weights)
        return model.to(device, memory_format=torch.channels_last).eval()


@dataclass(frozen=True)
class Bundle:
    """An ensemble of fold models plus everything needed to turn audio into events.

    ``decoder`` names how outputs become events (:mod:`mtsed.decoders`); ``alpha`` and
    ``second`` (beta or median window) are its searched per-class thresholds, ``fixed``
    the fixed defaults (alpha, second) that the evaluation reports beside them.
    """

    system: str
    decoder: str
    labels: tuple[str, ...]
    features: FeatureConfig
    segment_frames: int
    alpha: tuple[float, ...]
    second: tuple[float, ...]
    folds: tuple[FoldModel, ...]
    fixed: tuple[float, float] = (0.5, 0.5)
    precision: str = "auto"  # how the networks run here (mtsed.inference.PRECISIONS); not saved

    @property
    def frame_seconds(self) -> float:
        return self.features.frame_seconds

    @property
    def spec(self) -> Decoder:
        return get_decoder(self.decoder)

    def meta(self) -> dict:
        """Everything but the weights, as plain JSON."""
        return {
            "format": FORMAT, "system": self.system, "decoder": self.decoder, "labels": list(self.labels),
            "features": asdict(self.features), "segment_frames": self.segment_frames, "alpha": list(self.alpha),
            self.spec.second_name: list(self.second), "fixed": {"alpha": self.fixed[0], self.spec.second_name: self.fixed[1]},
            "folds": [{"name": f.name, "spec": asdict(f.spec), "standardiser": f.standardiser, "norm": list(f.norm),
                       "fixed_norm": list(f.fixed_norm)} for f in self.folds],
        }

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp:
            torch.save({"meta": json.dumps(self.meta()), "weights": [f.weights for f in self.folds]}, tmp)

    def with_fixed_thresholds(self) -> Bundle:
        """The same detector with the fixed default thresholds instead of the searched ones."""
        n = len(self.labels)
        folds = tuple(replace(f, norm=f.fixed_norm) for f in self.folds)
        return replace(self, alpha=(self.fixed[0],) * n, second=(self.fixed[1],) * n, folds=folds)

    @cached_property
    def _networks(self) -> list[tuple[CRNN, Standardiser]]:
        """Fold networks built once per bundle, not once per file (``detect``, serving)."""
        device = pick_device()
        return [(fold.network(device), Standardiser.from_dict(fold.standardiser)) for fold in self.folds]

    def fold_outputs(self, log_mel: np.ndarray) -> list[np.ndarray]:
        """Each fold network's per-frame outputs for one recording's raw log-mel features."""
        return self.stream_outputs([np.asarray(log_mel)])

    def stream_outputs(self, log_mel_blocks: Iterable[np.ndarray]) -> list[np.ndarray]:
        """Each fold network's per-frame outputs for raw log-mel frames that arrive block by
        block (the same, bit for bit, however the frames are split)."""
        runners = [(SegmentRunner(model, self.segment_frames, precision=self.precision), standardiser)
                   for model, standardiser in self._networks]
        for block in log_mel_blocks:
            for runner, standardiser in runners:
                runner.push(standardiser.apply(block))
        return [runner.finish() for runner, _ in runners]

    def scores(self, fold_outputs: list[np.ndarray]) -> np.ndarray:
        """Ensemble scores ``(frames, C)`` in [0, 1]: the decoder's confidence (proposed) or
        mean activity (baseline), averaged over the fold models."""
        norms = [np.asarray(f.norm) for f in self.folds]
        return ensemble_scores(self.spec, fold_outputs, np.asarray(self.alpha), self.segment_frames, norms)

    def decode(self, fold_outputs: list[np.ndarray], file: str = "") -> tuple[list[Event], np.ndarray]:
        """Events of one recording from its fold outputs, and the ensemble scores."""
        scores = self.scores(fold_outputs)
        events = decode(self.spec, scores, fold_outputs, np.asarray(self.alpha), np.asarray(self.second), self.labels,
                        self.frame_seconds, self.segment_frames, file)
        return events, scores

    def detect(self, path: Path, file: str = "") -> tuple[list[Event], float]:
        """Events in one audio file (any format libsndfile reads) and its duration in seconds;
        raises :class:`mtsed.audio.AudioError` naming the file if it cannot be used."""
        events, _, seconds = self.analyse(path, file)
        return events, seconds

    def analyse(self, path: Path, file: str = "", on_audio: Callable[[float], None] | None = None,
                ) -> tuple[list[Event], np.ndarray, float]:
        """:meth:`detect`, plus the ensemble's frame scores ``(frames, C)`` it decoded.

        The file is streamed (:mod:`mtsed.streaming`): memory does not grow with its length
        beyond the per-frame outputs, and the events equal whole-file processing exactly.
        ``on_audio`` is called with the seconds of each block once it is read.
        """
        from mtsed.streaming import read_blocks

        return self._analyse_blocks(read_blocks(path, self.features.sample_rate), file, on_audio)

    def analyse_audio(self, audio: np.ndarray, file: str = "") -> tuple[list[Event], np.ndarray]:
        """Events and frame scores of mono audio already at the bundle's sample rate."""
        from mtsed.streaming import BLOCK_SECONDS

        step = int(BLOCK_SECONDS * self.features.sample_rate)
        events, scores, _ = self._analyse_blocks((audio[i:i + step] for i in range(0, len(audio), step)), file)
        return events, scores

    def _analyse_blocks(self, blocks: Iterable[np.ndarray], file: str, on_audio: Callable[[float], None] | None = None,
                        ) -> tuple[list[Event], np.ndarray, float]:
        from mtsed.streaming import stream_log_mel

        rate, samples = self.features.sample_rate, 0

        def counted() -> Iterator[np.ndarray]:
            nonlocal samples
            for block in blocks:
                samples += len(block)
                if on_audio is not None:
                    on_audio(len(block) / rate)
                yield block

        outputs = self.stream_outputs(stream_log_mel(counted(), self.features))
        events, scores = self.decode(outputs, file)
        return events, scores, samples / rate


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
    dec = get_decoder(meta["decoder"])
    folds = tuple(
        FoldModel(f["name"], ModelSpec(**f["spec"]), weights, f["standardiser"], tuple(f["norm"]), tuple(f["fixed_norm"]))
        for f, weights in zip(meta["folds"], raw["weights"])
    )
    fixed = (float(meta["fixed"]["alpha"]), float(meta["fixed"][dec.second_name]))
    return Bundle(meta["system"], dec.name, tuple(meta["labels"]), FeatureConfig(**meta["features"]), int(meta["segment_frames"]),
                  tuple(meta["alpha"]), tuple(meta[dec.second_name]), folds, fixed)


def load_fold_model(checkpoint: Path) -> tuple[FoldModel, dict]:
    """A fold network from a training checkpoint (``best.pt``) and that checkpoint's config."""
    from mtsed.train import load_checkpoint

    state = load_checkpoint(checkpoint)
    config = json.loads(state["config"])
    spec = ModelSpec(**config["model"])
    return FoldModel(str(config["fold"]), spec, state["model"], config["standardiser"]), config
