"""Stages after training: fold outputs (ensemble) and threshold search (the model bundle)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from mtsed.bundle import Bundle, FoldModel, load_fold_model
from mtsed.config import FeatureConfig, ThresholdConfig
from mtsed.data import EVALUATION_SPLITS, load_dataset
from mtsed.decoders import Decoder, get_decoder
from mtsed.features import Standardiser
from mtsed.fileio import atomic_dir, read_json, write_json, write_npy
from mtsed.inference import network_outputs
from mtsed.systems import PAPER_DECODERS, network_of
from mtsed.thresholds import GridCounts, Selection, ValidationRecording, chosen_constants, fixed_selection, grid_counts, micro_f1, select
from mtsed.train import pick_device

def _fold_models(models_dir: Path, folds: list[str]) -> list[tuple[FoldModel, dict]]:
    """The data set's fold models, in fold order (stale folders of other folds are ignored)."""
    missing = [fold for fold in folds if not (models_dir / f"fold-{fold}" / "best.pt").is_file()]
    if missing:
        raise FileNotFoundError(f"{models_dir}: no model for fold(s) {missing} (train.folds must list every fold, "
                                "and the train stages must have run)")
    return [load_fold_model(models_dir / f"fold-{fold}" / "best.pt") for fold in folds]


def ensemble(features_dir: Path, models_dir: Path, out_dir: Path) -> dict:
    """Outputs of the fold models on every recording: out-of-fold on validation recordings
    (``validation/<id>.npy``), every fold on evaluation recordings and the folds that
    trained on it on each training recording (``evaluation/``, ``training/``: folds x
    frames x outputs)."""
    started = time.perf_counter()
    manifest = read_json(features_dir / "manifest.json")
    folds = _fold_models(models_dir, sorted(manifest["folds"], key=int))
    device = pick_device()
    networks = {fold.name: (fold.network(device), Standardiser.from_dict(fold.standardiser), int(config["segment_frames"]))
                for fold, config in folds}
    evaluation = [r["id"] for r in manifest["recordings"] if r["split"] in EVALUATION_SPLITS]
    validation = {rid: name for name in networks for rid in manifest["folds"][name]["validation"]}
    training: dict[str, list[str]] = {}
    for name in networks:
        for rid in manifest["folds"][name]["train"]:
            training.setdefault(rid, []).append(name)

    def outputs(rid: str, names: list[str]) -> np.ndarray:
        features = np.load(features_dir / f"{rid}.npy")  # read once, standardised per fold
        return np.stack([network_outputs(networks[n][0], networks[n][1].apply(features), networks[n][2]) for n in names])

    with atomic_dir(out_dir) as tmp:
        for rid, name in validation.items():
            write_npy(tmp / "validation" / f"{rid}.npy", outputs(rid, [name])[0])
        for rid in evaluation:
            write_npy(tmp / "evaluation" / f"{rid}.npy", outputs(rid, list(networks)))
        for rid, names in training.items():
            write_npy(tmp / "training" / f"{rid}.npy", outputs(rid, names))
        first = folds[0][1]
        write_json(tmp / "manifest.json", {
            "dataset": manifest["dataset"], "system": folds[0][0].spec.system, "labels": manifest["labels"],
            "segment_frames": first["segment_frames"], "frame_seconds": manifest["frame_seconds"],
            "distance_targets": first.get("distance_targets", "window"),
            "folds": list(networks), "validation": validation, "evaluation": evaluation, "training": training,
        })
    return {"folds": len(networks), "validation_recordings": len(validation), "evaluation_recordings": len(evaluation),
            "training_recordings": len(training), "seconds": round(time.perf_counter() - started, 2)}


def validation_recordings(dataset_dir: Path, ensemble_dir: Path) -> list[ValidationRecording]:
    """Out-of-fold outputs of every validation recording with its reference events per class."""
    dataset = load_dataset(dataset_dir)
    manifest = read_json(ensemble_dir / "manifest.json")
    recordings = {r.id: r for r in dataset.recordings}
    out = []
    for rid, fold in manifest["validation"].items():
        events = dataset.events(recordings[rid])
        reference = {c: (np.array([e.onset for e in events if e.label == label]), np.array([e.offset for e in events if e.label == label]))
                     for c, label in enumerate(manifest["labels"])}
        out.append(ValidationRecording(np.load(ensemble_dir / "validation" / f"{rid}.npy"), fold, reference))
    return out


def _choice(dec: Decoder, counts: GridCounts, selection: Selection, fixed: Selection, labels: list[str]) -> dict:
    """A decoder's searched and fixed thresholds, normalisers and validation F1, as JSON."""
    def f1(values: np.ndarray) -> dict[str, float | None]:
        return {label: (None if not np.isfinite(v) else round(float(v), 4)) for label, v in zip(labels, values)}

    return {
        "decoder": dec.name, "alpha": [float(counts.alphas[i]) for i in selection.alpha_index],
        dec.second_name: [float(counts.seconds[i]) for i in selection.second_index],
        "fixed": {"alpha": float(counts.alphas[fixed.alpha_index[0]]), dec.second_name: float(counts.seconds[fixed.second_index[0]])},
        "norm": chosen_constants(counts, selection.alpha_index), "fixed_norm": chosen_constants(counts, fixed.alpha_index),
        "validation_f1": f1(selection.validation_f1), "validation_f1_fixed": f1(fixed.validation_f1),
        "validation_overall_f1": round(micro_f1(counts, selection), 4), "validation_overall_f1_fixed": round(micro_f1(counts, fixed), 4),
        "validation_class_average_f1": round(class_average(selection.validation_f1), 4),
    }


def class_average(values: np.ndarray) -> float:
    """Mean of the defined class F1 values (NaN where a class has no validation events); 0 if none."""
    values = np.asarray(values, float)
    return float(np.nanmean(values)) if np.isfinite(values).any() else 0.0


def search(dec: Decoder, validation: list[ValidationRecording], labels: list[str], segment_frames: int, frame_seconds: float,
           cfg: ThresholdConfig) -> dict:
    """Search one decoder's thresholds; returns :func:`_choice`'s JSON plus the grid."""
    counts = grid_counts(dec, validation, len(labels), segment_frames, frame_seconds)
    choice = _choice(dec, counts, select(counts, cfg), fixed_selection(dec, counts), labels)
    return {**choice, "grid_f1": counts.f1()}


def bundle_from_choice(system: str, choice: dict, labels: list[str], feature_cfg: FeatureConfig, segment_frames: int,
                       folds: list[FoldModel]) -> Bundle:
    """The detector: fold models plus one decoder's chosen thresholds and normalisers."""
    dec = get_decoder(choice["decoder"])
    with_norms = tuple(FoldModel(f.name, f.spec, f.weights, f.standardiser, tuple(choice["norm"].get(f.name, ())),
                                 tuple(choice["fixed_norm"].get(f.name, ()))) for f in folds)
    return Bundle(system, dec.name, tuple(labels), feature_cfg, segment_frames, tuple(choice["alpha"]), tuple(choice[dec.second_name]),
                  with_norms, (choice["fixed"]["alpha"], choice["fixed"][dec.second_name]))


def system_decoders(system: str, cfg: ThresholdConfig) -> tuple[str, ...]:
    """The decoders a system's threshold stage searches: the paper's own for ``proposed``
    and ``baseline`` (plus the reported ``variants`` for ``proposed``), the candidates of
    ``thresholds.multitask`` for ``multitask``."""
    if system == "multitask":
        return tuple(dict.fromkeys(cfg.multitask))
    return tuple(dict.fromkeys([PAPER_DECODERS[system], *(cfg.variants if system == "proposed" else ())]))


def best_choice(system: str, choices: dict[str, dict]) -> str:
    """The decoder a system's bundle uses: the paper's for ``proposed`` and ``baseline``; for
    ``multitask`` the candidate with the highest validation class-average F1 (first on ties)."""
    if system != "multitask":
        return PAPER_DECODERS[system]
    return max(choices, key=lambda name: choices[name]["validation_class_average_f1"])


def thresholds(feature_cfg: FeatureConfig, cfg: ThresholdConfig, dataset_dir: Path, ensemble_dir: Path, models_dir: Path,
               out_dir: Path, system: str = "") -> dict:
    """Search per-class thresholds on out-of-fold validation outputs; write the model bundle
    of ``system`` (default: the network's own, i.e. the paper's decoder) and the thresholds
    of the other decoders searched (``variants.json``)."""
    started = time.perf_counter()
    manifest = read_json(ensemble_dir / "manifest.json")
    labels, network, segment_frames = manifest["labels"], manifest["system"], int(manifest["segment_frames"])
    system = system or network
    if network_of(system) != network:
        raise ValueError(f"{ensemble_dir}: outputs of network {network!r}, but system {system!r} reads {network_of(system)!r}")
    validation = validation_recordings(dataset_dir, ensemble_dir)
    choices, seconds = {}, {}
    for name in system_decoders(system, cfg):
        begun = time.perf_counter()
        choices[name] = search(get_decoder(name), validation, labels, segment_frames, manifest["frame_seconds"], cfg)
        seconds[name] = round(time.perf_counter() - begun, 3)
    main = choices[best_choice(system, choices)]
    folds = [fold for fold, _ in _fold_models(models_dir, manifest["folds"])]
    bundle = bundle_from_choice(system, main, labels, feature_cfg, segment_frames, folds)
    with atomic_dir(out_dir) as tmp:
        bundle.save(tmp / "bundle.pt")
        write_json(tmp / "thresholds.json", {k: v for k, v in main.items() if k != "grid_f1"})
        write_json(tmp / "variants.json", {k: {n: v for n, v in c.items() if n != "grid_f1"} for k, c in choices.items() if c is not main})
        np.save(tmp / "validation_f1_grid.npy", main["grid_f1"])
    return {"system": system, "decoder": bundle.decoder, "search_seconds": seconds[bundle.decoder],
            "grid_points": int(main["grid_f1"].size), "validation_overall_f1": main["validation_overall_f1"],
            "validation_overall_f1_fixed": main["validation_overall_f1_fixed"],
            "validation_class_average_f1": main["validation_class_average_f1"], "validation_f1": main["validation_f1"],
            "variants": {k: {"validation_overall_f1": c["validation_overall_f1"],
                             "validation_class_average_f1": c["validation_class_average_f1"], "search_seconds": seconds[k]}
                         for k, c in choices.items() if c is not main},
            "seconds": round(time.perf_counter() - started, 2)}
