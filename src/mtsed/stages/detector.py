"""Stages after training: fold outputs (ensemble) and threshold search (the model bundle)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from mtsed.config import FeatureConfig, ThresholdConfig
from mtsed.config.layout import (
    BUNDLE_FILE,
    CHECKPOINT_FILE,
    MANIFEST_FILE,
    THRESHOLDS_FILE,
    VARIANTS_FILE,
    fold_folder,
    repro_command,
)
from mtsed.config.systems import network_of
from mtsed.data.datasets import EVALUATION_SPLITS, load_dataset
from mtsed.detection.bundle import FoldModel, load_fold_model
from mtsed.detection.choice import bundle_from_choice, reported_variants, search_system, system_choice
from mtsed.detection.outputs import network_outputs
from mtsed.detection.thresholds import ValidationRecording
from mtsed.features.logmel import Standardiser
from mtsed.io.fileio import atomic_dir, read_frames, read_json, write_json, write_npy
from mtsed.model.device import pick_device


def _fold_models(models_dir: Path, folds: list[str]) -> list[tuple[FoldModel, dict]]:
    """The data set's fold models, in fold order (stale folders of other folds are ignored)."""
    missing = [fold for fold in folds if not (fold_folder(models_dir, fold) / CHECKPOINT_FILE).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{models_dir}: no model for fold(s) {missing} (train.folds must list every fold, "
            "and the train stages must have run)"
        )
    return [load_fold_model(fold_folder(models_dir, fold) / CHECKPOINT_FILE) for fold in folds]


def ensemble(features_dir: Path, models_dir: Path, out_dir: Path) -> dict:
    """Outputs of the fold models on every recording: out-of-fold on validation recordings
    (``validation/<id>.npy``), every fold on evaluation recordings and the folds that
    trained on it on each training recording (``evaluation/``, ``training/``: folds x
    frames x outputs)."""
    started = time.perf_counter()
    manifest = read_json(features_dir / MANIFEST_FILE)
    folds = _fold_models(models_dir, sorted(manifest["folds"], key=int))
    device = pick_device()
    networks = {
        fold.name: (fold.network(device), Standardiser.from_dict(fold.standardiser), int(config["segment_frames"]))
        for fold, config in folds
    }
    bands = folds[0][0].spec.n_mels
    evaluation = [r["id"] for r in manifest["recordings"] if r["split"] in EVALUATION_SPLITS]
    validation = {rid: name for name in networks for rid in manifest["folds"][name]["validation"]}
    training: dict[str, list[str]] = {}
    for name in networks:
        for rid in manifest["folds"][name]["train"]:
            training.setdefault(rid, []).append(name)

    def outputs(rid: str, names: list[str]) -> np.ndarray:
        # read once, standardised per fold
        features = read_frames(features_dir / f"{rid}.npy", bands, repro_command("features", features_dir))
        return np.stack(
            [network_outputs(networks[n][0], networks[n][1].apply(features), networks[n][2]) for n in names]
        )

    with atomic_dir(out_dir) as tmp:
        for rid, name in validation.items():
            write_npy(tmp / "validation" / f"{rid}.npy", outputs(rid, [name])[0])
        for rid in evaluation:
            write_npy(tmp / "evaluation" / f"{rid}.npy", outputs(rid, list(networks)))
        for rid, names in training.items():
            write_npy(tmp / "training" / f"{rid}.npy", outputs(rid, names))
        first = folds[0][1]
        write_json(
            tmp / MANIFEST_FILE,
            {
                "dataset": manifest["dataset"],
                "network": folds[0][0].spec.network,
                "labels": manifest["labels"],
                "segment_frames": first["segment_frames"],
                "frame_seconds": manifest["frame_seconds"],
                # where a checkpoint says: in its train section, or at its top level
                "distance_targets": first.get("train", first).get("distance_targets", "window"),
                "folds": list(networks),
                "validation": validation,
                "evaluation": evaluation,
                "training": training,
            },
        )
    return {
        "folds": len(networks),
        "validation_recordings": len(validation),
        "evaluation_recordings": len(evaluation),
        "training_recordings": len(training),
        "seconds": round(time.perf_counter() - started, 2),
    }


def validation_recordings(dataset_dir: Path, ensemble_dir: Path) -> list[ValidationRecording]:
    """Out-of-fold outputs of every validation recording with its reference events per class."""
    dataset = load_dataset(dataset_dir)
    manifest = read_json(ensemble_dir / MANIFEST_FILE)
    recordings = {r.id: r for r in dataset.recordings}
    out = []
    for rid, fold in manifest["validation"].items():
        events = dataset.events(recordings[rid])
        reference = {
            c: (
                np.array([e.onset for e in events if e.label == label]),
                np.array([e.offset for e in events if e.label == label]),
            )
            for c, label in enumerate(manifest["labels"])
        }
        out.append(ValidationRecording(np.load(ensemble_dir / "validation" / f"{rid}.npy"), fold, reference))
    return out


def thresholds(
    feature_cfg: FeatureConfig,
    cfg: ThresholdConfig,
    dataset_dir: Path,
    ensemble_dir: Path,
    models_dir: Path,
    out_dir: Path,
    system: str = "",
) -> dict:
    """Search per-class thresholds on out-of-fold validation outputs; write the model bundle
    of ``system`` (default: the network's own, i.e. the paper's decoder) and the thresholds
    of the other decoders searched (``variants.json``)."""
    started = time.perf_counter()
    manifest = read_json(ensemble_dir / MANIFEST_FILE)
    labels, network, segment_frames = manifest["labels"], manifest["network"], int(manifest["segment_frames"])
    system = system or network
    if network_of(system) != network:
        raise ValueError(
            f"{ensemble_dir}: outputs of network {network!r}, but system {system!r} reads {network_of(system)!r}"
        )
    validation = validation_recordings(dataset_dir, ensemble_dir)
    choices, seconds = search_system(system, cfg, validation, labels, segment_frames, manifest["frame_seconds"])
    main = system_choice(system, choices, cfg)
    used = main.class_decoders
    folds = [fold for fold, _ in _fold_models(models_dir, manifest["folds"])]
    bundle = bundle_from_choice(system, main, labels, feature_cfg, segment_frames, folds)
    with atomic_dir(out_dir) as tmp:
        bundle.save(tmp / BUNDLE_FILE)
        write_json(tmp / THRESHOLDS_FILE, main.record)
        write_json(tmp / VARIANTS_FILE, reported_variants(choices, main, cfg.proposed_selection))
        if main.grid_f1 is not None:  # one decoder's grid (a per-class choice has none of its own)
            np.save(tmp / "validation_f1_grid.npy", main.grid_f1)
    chosen = main.record
    return {
        "system": system,
        "decoder": bundle.summary,
        "search_seconds": round(sum(seconds[n] for n in set(used)), 3),
        "grid_points": int(sum(choices[n].grid_f1[0].size for n in used)),
        "validation_overall_f1": chosen["validation_overall_f1"],
        "validation_overall_f1_fixed": chosen["validation_overall_f1_fixed"],
        "validation_class_average_f1": chosen["validation_class_average_f1"],
        "validation_f1": chosen["validation_f1"],
        **({"selection_rules": chosen["selection_rules"]} if "selection_rules" in chosen else {}),
        "variants": {
            k: {
                "validation_overall_f1": c.record["validation_overall_f1"],
                "validation_class_average_f1": c.record["validation_class_average_f1"],
                **(
                    {"held_out_class_average_f1": c.record["held_out_class_average_f1"]}
                    if "held_out_class_average_f1" in c.record
                    else {}
                ),
                "search_seconds": seconds[k],
            }
            for k, c in choices.items()
            if c is not main
        },
        "seconds": round(time.perf_counter() - started, 2),
    }
