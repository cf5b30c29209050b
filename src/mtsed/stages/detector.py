"""Stages after training: fold outputs (ensemble) and threshold search (the model bundle)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from mtsed.config import FeatureConfig, ThresholdConfig
from mtsed.config.layout import repro_command
from mtsed.config.systems import PAPER_DECODERS, network_of
from mtsed.config.training import SELECTIONS
from mtsed.data.datasets import EVALUATION_SPLITS, load_dataset
from mtsed.detection.bundle import PER_CLASS, Bundle, FoldModel, load_fold_model
from mtsed.detection.decoders import Decoder, get_decoder
from mtsed.detection.outputs import network_outputs
from mtsed.detection.thresholds import (
    GridCounts,
    Selection,
    ValidationRecording,
    chosen_constants,
    counts_at,
    counts_f1,
    fixed_selection,
    grid_counts,
    group_counts,
    held_out_from,
    micro_f1,
    pooled_f1,
    select,
    validation_groups,
)
from mtsed.features.logmel import Standardiser
from mtsed.io.fileio import atomic_dir, read_frames, read_json, write_json, write_npy
from mtsed.model.device import pick_device


def _fold_models(models_dir: Path, folds: list[str]) -> list[tuple[FoldModel, dict]]:
    """The data set's fold models, in fold order (stale folders of other folds are ignored)."""
    missing = [fold for fold in folds if not (models_dir / f"fold-{fold}" / "best.pt").is_file()]
    if missing:
        raise FileNotFoundError(
            f"{models_dir}: no model for fold(s) {missing} (train.folds must list every fold, "
            "and the train stages must have run)"
        )
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
            tmp / "manifest.json",
            {
                "dataset": manifest["dataset"],
                "network": folds[0][0].spec.network,
                "labels": manifest["labels"],
                "segment_frames": first["segment_frames"],
                "frame_seconds": manifest["frame_seconds"],
                # where checkpoints say: in their train section since issue 33, at the top before it
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
    manifest = read_json(ensemble_dir / "manifest.json")
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


def _per_label(values: np.ndarray, labels: list[str]) -> dict[str, float | None]:
    """Class F1 values as JSON (``None`` where undefined)."""
    return {label: (None if not np.isfinite(v) else round(float(v), 4)) for label, v in zip(labels, values)}


def _values(per_label: dict[str, float | None]) -> np.ndarray:
    """:func:`_per_label`'s JSON back to an array (NaN where undefined)."""
    return np.array([np.nan if v is None else v for v in per_label.values()], float)


def _choice(dec: Decoder, counts: GridCounts, selection: Selection, fixed: Selection, labels: list[str]) -> dict:
    """A decoder's searched and fixed thresholds, normalisers and validation F1, as JSON."""

    def f1(values: np.ndarray) -> dict[str, float | None]:
        return _per_label(values, labels)

    return {
        "decoder": dec.name,
        "alpha": [float(counts.alphas[i]) for i in selection.alpha_index],
        dec.second_name: [float(counts.second_grid[i]) for i in selection.second_index],
        "fixed": {
            "alpha": float(counts.alphas[fixed.alpha_index[0]]),
            dec.second_name: float(counts.second_grid[fixed.second_index[0]]),
        },
        "norm": chosen_constants(counts, selection.alpha_index),
        "fixed_norm": chosen_constants(counts, fixed.alpha_index),
        "validation_f1": f1(selection.validation_f1),
        "validation_f1_fixed": f1(fixed.validation_f1),
        "validation_overall_f1": round(micro_f1(counts, selection), 4),
        "validation_overall_f1_fixed": round(micro_f1(counts, fixed), 4),
        "validation_class_average_f1": round(class_average(selection.validation_f1), 4),
        "validation_events": [int(n) for n in counts.n_ref],
    }


def class_average(values: np.ndarray) -> float:
    """Mean of the defined class F1 values (NaN where a class has no validation events); 0 if none."""
    values = np.asarray(values, float)
    return float(np.nanmean(values)) if np.isfinite(values).any() else 0.0


def search(
    dec: Decoder,
    validation: list[ValidationRecording],
    labels: list[str],
    segment_frames: int,
    frame_seconds: float,
    cfg: ThresholdConfig,
    groups: list[list[int]] | None = None,
    rules: dict[str, ThresholdConfig] | None = None,
) -> dict:
    """Search one decoder's thresholds; returns :func:`_choice`'s JSON plus, under keys that
    are not saved (:data:`UNSAVED`), the grid's F1 and the counts at the chosen points.
    With ``groups`` it also holds the held-out validation F1 (:func:`_held_out`), and with
    ``rules`` (selection settings by name) the choice each rule makes on the same grid
    (``by_rule``) and their validation F1 (``selection_rules``: in-sample, and held out with ``groups``)."""
    counts = grid_counts(dec, validation, len(labels), segment_frames, frame_seconds)
    selection, fixed = select(counts, cfg), fixed_selection(dec, counts)
    per_group = (
        group_counts(dec, validation, groups, len(labels), segment_frames, frame_seconds) if groups is not None else []
    )
    choice = _rule_choice(dec, counts, per_group, cfg, fixed, labels, selection)
    by_rule = {name: _rule_choice(dec, counts, per_group, rule, fixed, labels) for name, rule in (rules or {}).items()}
    if by_rule:
        choice["selection_rules"] = {name: _rule_summary(c) for name, c in by_rule.items()}
    return {
        **choice,
        "grid_f1": counts.f1(),
        "chosen_counts": counts_at(counts, selection),
        "fixed_counts": counts_at(counts, fixed),
        "by_rule": by_rule,
    }


def _rule_choice(
    dec: Decoder,
    counts: GridCounts,
    per_group: list[GridCounts],
    rule: ThresholdConfig,
    fixed: Selection,
    labels: list[str],
    selection: Selection | None = None,
) -> dict:
    """The choice one selection rule makes on the grid (as :func:`_choice` writes it; ``selection``
    when already made), with its held-out validation F1 when there are groups."""
    choice = _choice(dec, counts, selection or select(counts, rule), fixed, labels)
    if per_group:
        choice.update(_held_out(held_out_from(per_group, rule), labels))
    return choice


RULE_FIGURES = (
    "validation_class_average_f1",
    "validation_overall_f1",
    "held_out_class_average_f1",
    "held_out_overall_f1",
)


def _rule_summary(choice: dict) -> dict:
    """A selection rule's validation figures (in-sample and held out)."""
    return {k: choice[k] for k in RULE_FIGURES if k in choice}


def _held_out(counts: np.ndarray, labels: list[str]) -> dict:
    """Held-out validation F1 (:func:`mtsed.detection.thresholds.held_out_from`) per class,
    class-averaged and pooled."""
    pooled = pooled_f1(counts)
    return {
        "held_out_f1": _per_label(counts_f1(counts), labels),
        "held_out_class_average_f1": round(class_average(counts_f1(counts)), 4),
        "held_out_overall_f1": round(pooled, 4) if np.isfinite(pooled) else None,
        "held_out_counts": counts,
    }


UNSAVED = ("grid_f1", "chosen_counts", "fixed_counts", "held_out_counts", "by_rule")


def _saved(choice: dict) -> dict:
    return {k: v for k, v in choice.items() if k not in UNSAVED}


def class_decoders(choices: dict[str, dict], shrinkage_events: float) -> list[str]:
    """Each class's decoder for system multitask: the candidate with the highest held-out
    validation F1 shrunk toward that candidate's held-out class average, with the class's
    weight ``n / (n + shrinkage)`` for ``n`` validation events (as :func:`mtsed.detection.thresholds.select`
    shrinks thresholds), so a class leaves the decoder that is best for all only on its own
    evidence.  First on ties."""
    names = list(choices)
    n = np.asarray(choices[names[0]]["validation_events"], float)
    weight = n / (n + shrinkage_events) if shrinkage_events > 0 else np.ones_like(n)
    scores = []
    for name in names:
        own = _values(choices[name]["held_out_f1"])
        average = choices[name]["held_out_class_average_f1"]
        scores.append(np.where(np.isfinite(own), weight * np.nan_to_num(own) + (1 - weight) * average, average))
    return [names[i] for i in np.argmax(np.asarray(scores), axis=0)]


def per_class_choice(choices: dict[str, dict], decoders: list[str]) -> dict:
    """One choice (as :func:`_choice` writes it) out of each class's own candidate."""
    labels = list(choices[decoders[0]]["validation_f1"])
    picked = [choices[name] for name in decoders]
    folds = sorted({fold for c in picked for fold in c["norm"]})

    def norms(key: str) -> dict[str, list[float]]:
        return {fold: [c[key][fold][k] if fold in c[key] else 1.0 for k, c in enumerate(picked)] for fold in folds}

    def pooled(key: str) -> float:
        return round(
            pooled_f1(np.stack([c[key][:, k] for k, c in enumerate(picked)], axis=1)), 4
        )  # (3, C): each class's own

    def second(c: dict, k: int) -> float:
        return c[get_decoder(c["decoder"]).second_name][k]

    f1 = {label: c["validation_f1"][label] for label, c in zip(labels, picked)}
    held_out = np.stack([c["held_out_counts"][:, k] for k, c in enumerate(picked)], axis=1)  # (3, C)
    return {
        "decoder": PER_CLASS,
        "class_decoders": list(decoders),
        "alpha": [c["alpha"][k] for k, c in enumerate(picked)],
        "second": [second(c, k) for k, c in enumerate(picked)],
        "norm": norms("norm"),
        "fixed_norm": norms("fixed_norm"),
        "validation_f1": f1,
        "validation_f1_fixed": {label: c["validation_f1_fixed"][label] for label, c in zip(labels, picked)},
        "validation_overall_f1": pooled("chosen_counts"),
        "validation_overall_f1_fixed": pooled("fixed_counts"),
        "validation_class_average_f1": round(class_average(_values(f1)), 4),
        "validation_events": picked[0]["validation_events"],
        **_held_out(held_out, labels),
    }


def bundle_from_choice(
    system: str,
    choice: dict,
    labels: list[str],
    feature_cfg: FeatureConfig,
    segment_frames: int,
    folds: list[FoldModel],
) -> Bundle:
    """The detector: fold models plus one decoder's chosen thresholds and normalisers."""
    paper = PAPER_DECODERS[network_of(system)]
    empty = Bundle(
        system,
        paper,
        tuple(labels),
        feature_cfg,
        segment_frames,
        (0.0,) * len(labels),
        (0.0,) * len(labels),
        tuple(folds),
    )
    return empty.with_thresholds(choice)


def system_decoders(system: str, cfg: ThresholdConfig) -> tuple[str, ...]:
    """The decoders a system's threshold stage searches: the paper's own for ``proposed``
    and ``baseline`` (``proposed``: the paper's votes normalised as ``proposed_decoder`` says, plus
    the reported ``variants``), the candidates of
    ``thresholds.multitask`` for ``multitask``."""
    if system == "multitask":
        return tuple(dict.fromkeys(cfg.multitask))
    if system == "proposed":
        return tuple(dict.fromkeys([cfg.proposed_decoder, *cfg.variants]))
    return (PAPER_DECODERS[system],)


def best_choice(system: str, choices: dict[str, dict], cfg: ThresholdConfig) -> str:
    """The one decoder a system's bundle uses: the paper's for ``proposed`` (its votes
    normalised as ``proposed_decoder`` says) and ``baseline``; for ``multitask`` the candidate
    with the highest held-out validation class-average F1 (first on ties)."""
    if system == "proposed":
        return cfg.proposed_decoder
    if system != "multitask":
        return PAPER_DECODERS[system]
    return max(choices, key=lambda name: choices[name]["held_out_class_average_f1"])


def system_choice(system: str, choices: dict[str, dict], cfg: ThresholdConfig) -> dict:
    """The choice a system's bundle is built from: :func:`best_choice`'s, or for ``multitask``
    with ``multitask_per_class`` each class's own (:func:`class_decoders`) when they differ."""
    if system == "multitask" and cfg.multitask_per_class:
        decoders = class_decoders(choices, cfg.shrinkage_events)
        if len(set(decoders)) > 1:
            return per_class_choice(choices, decoders)
        return choices[decoders[0]]
    return choices[best_choice(system, choices, cfg)]


def _variants(choices: dict[str, dict], main: dict, rule: str) -> dict[str, dict]:
    """What ``variants.json`` holds: every searched choice but the system's own, and its own
    decoder under each other selection rule (``<decoder>:<rule>``)."""
    variants = {k: _saved(c) for k, c in choices.items() if c is not main}
    for name, choice in main.get("by_rule", {}).items():
        if name != rule:
            variants[f"{main['decoder']}:{name}"] = _saved(choice)
    return variants


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
    manifest = read_json(ensemble_dir / "manifest.json")
    labels, network, segment_frames = manifest["labels"], manifest["network"], int(manifest["segment_frames"])
    system = system or network
    if network_of(system) != network:
        raise ValueError(
            f"{ensemble_dir}: outputs of network {network!r}, but system {system!r} reads {network_of(system)!r}"
        )
    validation = validation_recordings(dataset_dir, ensemble_dir)
    # choosing between decoders (multitask) or selection rules (proposed): held-out F1
    groups = validation_groups(validation) if system in ("multitask", "proposed") else None
    rules = {rule: cfg.selection(system, rule) for rule in SELECTIONS} if system == "proposed" else None
    choices, seconds = {}, {}
    for name in system_decoders(system, cfg):
        begun = time.perf_counter()
        choices[name] = search(
            get_decoder(name),
            validation,
            labels,
            segment_frames,
            manifest["frame_seconds"],
            cfg.selection(system),
            groups,
            rules if name == cfg.proposed_decoder else None,
        )
        seconds[name] = round(time.perf_counter() - begun, 3)
    main = system_choice(system, choices, cfg)
    used = main.get("class_decoders", [main["decoder"]])
    folds = [fold for fold, _ in _fold_models(models_dir, manifest["folds"])]
    bundle = bundle_from_choice(system, main, labels, feature_cfg, segment_frames, folds)
    with atomic_dir(out_dir) as tmp:
        bundle.save(tmp / "bundle.pt")
        write_json(tmp / "thresholds.json", _saved(main))
        write_json(tmp / "variants.json", _variants(choices, main, cfg.proposed_selection))
        if "grid_f1" in main:  # one decoder's grid (a per-class choice has none of its own)
            np.save(tmp / "validation_f1_grid.npy", main["grid_f1"])
    return {
        "system": system,
        "decoder": bundle.summary,
        "search_seconds": round(sum(seconds[n] for n in set(used)), 3),
        "grid_points": int(sum(choices[n]["grid_f1"][0].size for n in used)),
        "validation_overall_f1": main["validation_overall_f1"],
        "validation_overall_f1_fixed": main["validation_overall_f1_fixed"],
        "validation_class_average_f1": main["validation_class_average_f1"],
        "validation_f1": main["validation_f1"],
        **({"selection_rules": main["selection_rules"]} if "selection_rules" in main else {}),
        "variants": {
            k: {
                "validation_overall_f1": c["validation_overall_f1"],
                "validation_class_average_f1": c["validation_class_average_f1"],
                **(
                    {"held_out_class_average_f1": c["held_out_class_average_f1"]}
                    if "held_out_class_average_f1" in c
                    else {}
                ),
                "search_seconds": seconds[k],
            }
            for k, c in choices.items()
            if c is not main
        },
        "seconds": round(time.perf_counter() - started, 2),
    }
