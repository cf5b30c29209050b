"""A trained detector as one file: fold weights, feature settings, statistics, thresholds.

Like torchaudio's pipeline bundles, everything inference needs travels together, so
``detect`` can never pair weights with mismatched features.  The file holds only tensors
and a JSON string and loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from mtsed.config import FeatureConfig
from mtsed.config.layout import MAKE_BUNDLES, REBUILD_BUNDLE
from mtsed.detection.decoders import Decoder, decode, ensemble_scores, get_decoder
from mtsed.detection.outputs import SegmentRunner
from mtsed.features.logmel import Standardiser
from mtsed.io.events import Event
from mtsed.io.fileio import atomic_path
from mtsed.model.device import pick_device
from mtsed.model.network import CRNN, ModelSpec

FORMAT = "mtsed-bundle-3"  # 3: optional per-class decoders (system multitask)
READABLE_FORMATS = ("mtsed-bundle-2", FORMAT)

PER_CLASS = "per-class"  # the decoder name of a bundle whose classes decode differently


def decoder_summary(decoder: str, class_decoders: Sequence[str] = ()) -> str:
    """A bundle's decoder in a few words, e.g. ``bounded-10`` or ``per-class: capped-16 x7, capped-8 x1``."""
    if not class_decoders:
        return decoder
    names = list(class_decoders)
    return f"{PER_CLASS}: " + ", ".join(f"{n} x{names.count(n)}" for n in dict.fromkeys(names))


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

    ``decoder`` names how outputs become events (:mod:`mtsed.detection.decoders`); ``alpha`` and
    ``second`` (beta or median window) are its searched per-class thresholds, ``fixed``
    the fixed defaults (alpha, second) that the evaluation reports beside them.  A bundle
    whose ``decoder`` is ``per-class`` names each class's decoder in ``class_decoders``
    (system multitask: keyboard impulses and applause need different decoders); its fixed
    defaults are each class decoder's own.
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
    class_decoders: tuple[str, ...] = ()
    precision: str = "auto"  # how the networks run here (mtsed.detection.outputs.PRECISIONS); not saved

    @property
    def frame_seconds(self) -> float:
        return self.features.frame_seconds

    def __post_init__(self) -> None:
        if (self.decoder == PER_CLASS) != bool(self.class_decoders):
            raise ValueError(
                f"decoder {self.decoder!r} with class decoders {list(self.class_decoders)}: "
                f"a {PER_CLASS!r} bundle names one decoder per class, any other none"
            )
        if self.class_decoders and len(self.class_decoders) != len(self.labels):
            raise ValueError(f"{len(self.class_decoders)} class decoders for {len(self.labels)} labels")
        for name in self.class_decoders:
            get_decoder(name)  # unknown names fail here, not at the first file

    @property
    def common_decoder(self) -> Decoder:
        """The decoder of every class (not defined for a per-class bundle: see :attr:`decoders_by_class`)."""
        if self.class_decoders:
            raise ValueError(f"a {PER_CLASS} bundle has one decoder per class: {', '.join(self.class_decoders)}")
        return get_decoder(self.decoder)

    @property
    def decoders_by_class(self) -> tuple[Decoder, ...]:
        """Each class's decoder."""
        if self.class_decoders:
            return tuple(get_decoder(name) for name in self.class_decoders)
        return (self.common_decoder,) * len(self.labels)

    @property
    def summary(self) -> str:
        """The decoder in a few words (:func:`decoder_summary`)."""
        return decoder_summary(self.decoder, self.class_decoders)

    def _groups(self) -> list[tuple[Decoder, list[int]]]:
        """Classes grouped by decoder, in class order."""
        groups: dict[str, tuple[Decoder, list[int]]] = {}
        for c, dec in enumerate(self.decoders_by_class):
            groups.setdefault(dec.name, (dec, []))[1].append(c)
        return list(groups.values())

    def score_thresholds(self) -> tuple[float, ...]:
        """Where each class's scores (:meth:`scores`) are cut into events: alpha where its
        decoder thresholds activity before a median filter, else its second parameter (beta)."""
        return tuple(
            float(self.alpha[c] if dec.filtered else self.second[c]) for c, dec in enumerate(self.decoders_by_class)
        )

    def fixed_pairs(self) -> list[tuple[float, float]]:
        """Each class's fixed default (alpha, second)."""
        if self.class_decoders:
            return [(dec.fixed_first, float(dec.fixed_second)) for dec in self.decoders_by_class]
        return [tuple(self.fixed)] * len(self.labels)

    def meta(self) -> dict:
        """Everything but the weights, as plain JSON."""
        if self.class_decoders:
            thresholds = {"class_decoders": list(self.class_decoders), "second": list(self.second)}
        else:
            dec = self.common_decoder
            thresholds = {
                dec.second_name: list(self.second),
                "fixed": {"alpha": self.fixed[0], dec.second_name: self.fixed[1]},
            }
        return {
            "format": FORMAT,
            "system": self.system,
            "decoder": self.decoder,
            "labels": list(self.labels),
            "features": asdict(self.features),
            "segment_frames": self.segment_frames,
            "alpha": list(self.alpha),
            **thresholds,
            "folds": [
                {
                    "name": f.name,
                    "spec": asdict(f.spec),
                    "standardiser": f.standardiser,
                    "norm": list(f.norm),
                    "fixed_norm": list(f.fixed_norm),
                }
                for f in self.folds
            ],
        }

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp:
            torch.save({"meta": json.dumps(self.meta()), "weights": [f.weights for f in self.folds]}, tmp)

    def with_fixed_thresholds(self) -> Bundle:
        """The same detector with the fixed default thresholds instead of the searched ones."""
        pairs = self.fixed_pairs()
        folds = tuple(replace(f, norm=f.fixed_norm) for f in self.folds)
        return replace(self, alpha=tuple(a for a, _ in pairs), second=tuple(s for _, s in pairs), folds=folds)

    def with_thresholds(self, choice: dict) -> Bundle:
        """The same fold networks under another searched choice of decoder(s), thresholds and
        normalisers, as the thresholds stage writes it (``thresholds.json``, ``variants.json``)."""
        n = len(self.labels)
        folds = tuple(
            replace(
                f, norm=tuple(choice["norm"].get(f.name, ())), fixed_norm=tuple(choice["fixed_norm"].get(f.name, ()))
            )
            for f in self.folds
        )
        if choice["decoder"] == PER_CLASS:
            return replace(
                self,
                decoder=PER_CLASS,
                class_decoders=tuple(choice["class_decoders"]),
                alpha=tuple(choice["alpha"]),
                second=tuple(choice["second"]),
                folds=folds,
            )
        dec = get_decoder(choice["decoder"])
        if len(choice["alpha"]) != n:
            raise ValueError(f"thresholds of {len(choice['alpha'])} classes for a bundle of {n}")
        return replace(
            self,
            decoder=dec.name,
            class_decoders=(),
            alpha=tuple(choice["alpha"]),
            second=tuple(choice[dec.second_name]),
            folds=folds,
            fixed=(choice["fixed"]["alpha"], choice["fixed"][dec.second_name]),
        )

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
        runners = [
            (SegmentRunner(model, self.segment_frames, precision=self.precision), standardiser)
            for model, standardiser in self._networks
        ]
        for block in log_mel_blocks:
            for runner, standardiser in runners:
                runner.push(standardiser.apply(block))
        return [runner.finish() for runner, _ in runners]

    def scores(self, fold_outputs: list[np.ndarray]) -> np.ndarray:
        """Ensemble scores ``(frames, C)`` in [0, 1]: the decoder's confidence (proposed) or
        mean activity (baseline), averaged over the fold models."""
        norms = [np.asarray(f.norm) for f in self.folds]
        groups, alpha = self._groups(), np.asarray(self.alpha)
        if len(groups) == 1:
            return ensemble_scores(groups[0][0], fold_outputs, alpha, self.segment_frames, norms)
        scores = np.zeros((len(fold_outputs[0]), len(self.labels)))
        for dec, classes in groups:
            scores[:, classes] = ensemble_scores(dec, fold_outputs, alpha, self.segment_frames, norms, classes)[
                :, classes
            ]
        return scores

    def decode(self, fold_outputs: list[np.ndarray], file: str = "") -> tuple[list[Event], np.ndarray]:
        """Events of one recording from its fold outputs, and the ensemble scores."""
        scores = self.scores(fold_outputs)
        events = []
        for dec, classes in self._groups():
            events += decode(
                dec,
                scores,
                fold_outputs,
                np.asarray(self.alpha),
                np.asarray(self.second),
                self.labels,
                self.frame_seconds,
                self.segment_frames,
                file,
                classes,
            )
        return sorted(events, key=lambda e: (e.onset, e.offset, e.label)), scores

    def detect(self, path: Path, file: str = "") -> tuple[list[Event], float]:
        """Events in one audio file (any format libsndfile reads) and its duration in seconds;
        raises :class:`mtsed.io.audio.AudioError` naming the file if it cannot be used."""
        events, _, seconds = self.analyse(path, file)
        return events, seconds

    def analyse(
        self,
        path: Path,
        file: str = "",
        on_audio: Callable[[float], None] | None = None,
    ) -> tuple[list[Event], np.ndarray, float]:
        """:meth:`detect`, plus the ensemble's frame scores ``(frames, C)`` it decoded.

        The file is streamed (:mod:`mtsed.features.streaming`): memory does not grow with its length
        beyond the per-frame outputs, and the events equal whole-file processing exactly.
        ``on_audio`` is called with the seconds of each block once it is read.
        """
        from mtsed.features.streaming import read_blocks

        return self._analyse_blocks(read_blocks(path, self.features.sample_rate), file, on_audio)

    def analyse_audio(self, audio: np.ndarray, file: str = "") -> tuple[list[Event], np.ndarray]:
        """Events and frame scores of mono audio already at the bundle's sample rate."""
        from mtsed.features.streaming import BLOCK_SECONDS

        step = int(BLOCK_SECONDS * self.features.sample_rate)
        events, scores, _ = self._analyse_blocks((audio[i : i + step] for i in range(0, len(audio), step)), file)
        return events, scores

    def _analyse_blocks(
        self,
        blocks: Iterable[np.ndarray],
        file: str,
        on_audio: Callable[[float], None] | None = None,
    ) -> tuple[list[Event], np.ndarray, float]:
        from mtsed.features.streaming import stream_log_mel

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
        raise FileNotFoundError(f"{path}: no such model bundle ({MAKE_BUNDLES} or pass --model)")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
        meta = json.loads(raw["meta"])
    except Exception as error:
        raise ValueError(f"{path}: not a model bundle, or a damaged one ({error}); {REBUILD_BUNDLE}") from None
    if meta.get("format") not in READABLE_FORMATS:
        raise ValueError(
            f"{path}: unknown bundle format {meta.get('format')!r} (this mtsed reads "
            f"{', '.join(READABLE_FORMATS)}); {REBUILD_BUNDLE}, or use the mtsed that wrote it"
        )
    folds = tuple(
        FoldModel(
            f["name"],
            ModelSpec.from_saved(f["spec"]),
            weights,
            f["standardiser"],
            tuple(f["norm"]),
            tuple(f["fixed_norm"]),
        )
        for f, weights in zip(meta["folds"], raw["weights"])
    )
    common = (
        meta["system"],
        meta["decoder"],
        tuple(meta["labels"]),
        FeatureConfig(**meta["features"]),
        int(meta["segment_frames"]),
        tuple(meta["alpha"]),
    )
    try:
        if meta["decoder"] == PER_CLASS:
            return Bundle(*common, tuple(meta["second"]), folds, class_decoders=tuple(meta["class_decoders"]))
        dec = get_decoder(meta["decoder"])
        fixed = (float(meta["fixed"]["alpha"]), float(meta["fixed"][dec.second_name]))
        return Bundle(*common, tuple(meta[dec.second_name]), folds, fixed)
    except (KeyError, ValueError) as error:
        raise ValueError(f"{path}: damaged model bundle ({error}); {REBUILD_BUNDLE}") from None


def load_fold_model(checkpoint: Path) -> tuple[FoldModel, dict]:
    """A fold network from a training checkpoint (``best.pt``) and that checkpoint's config."""
    from mtsed.model.training import load_checkpoint

    state = load_checkpoint(checkpoint)
    config = json.loads(state["config"])
    spec = ModelSpec.from_saved(config["model"])
    return FoldModel(str(config["fold"]), spec, state["model"], config["standardiser"]), config
