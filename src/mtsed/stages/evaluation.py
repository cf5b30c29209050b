"""Stages after training: fold outputs (ensemble), threshold search, evaluation."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from mtsed.bundle import Bundle, FoldModel, load_bundle, load_fold_model
from mtsed.config import FeatureConfig
from mtsed.data import EVALUATION_SPLITS, load_dataset
from mtsed.events import write_event_list
from mtsed.features import Standardiser
from mtsed.fileio import atomic_dir, read_json, write_json, write_npy
from mtsed.inference import network_outputs
from mtsed.thresholds import ValidationRecording, search_baseline, search_proposed
from mtsed.train import pick_device


def _fold_models(models_dir: Path) -> list[tuple[FoldModel, dict]]:
    checkpoints = sorted(models_dir.glob("fold-*/best.pt"))
    if not checkpoints:
        raise FileNotFoundError(f"{models_dir}: no fold-*/best.pt checkpoints (run the train stages first)")
    return [load_fold_model(path) for path in checkpoints]


def ensemble(features_dir: Path, models_dir: Path, out_dir: Path) -> dict:
    """Outputs of every fold model: out-of-fold on validation recordings (``validation/``),
    all folds stacked on evaluation recordings (``evaluation/<id>.npy``: folds x frames x outputs)."""
    started = time.perf_counter()
    manifest = read_json(features_dir / "manifest.json")
    folds = _fold_models(models_dir)
    device = pick_device()
    networks = {}
    for fold, config in folds:
        networks[fold.name] = (fold.network(device), Standardiser.from_dict(fold.standardiser), int(config["segment_frames"]))
    evaluation = [r["id"] for r in manifest["recordings"] if r["split"] in EVALUATION_SPLITS]
    validation = {rid: name for name in networks for rid in manifest["folds"][name]["validation"]}

    def outputs(rid: str, names: list[str]) -> list[np.ndarray]:
        features = np.load(features_dir / f"{rid}.npy")  # read once, standardised per fold
        return [network_outputs(networks[n][0], networks[n][1].apply(features), networks[n][2]) for n in names]

    with atomic_dir(out_dir) as tmp:
        for rid, name in validation.items():
            write_npy(tmp / "validation" / f"{rid}.npy", outputs(rid, [name])[0])
        for rid in evaluation:
            write_npy(tmp / "evaluation" / f"{rid}.npy", np.stack(outputs(rid, list(networks))))
        first = folds[0][1]
        write_json(tmp / "manifest.json", {
            "dataset": manifest["dataset"], "system": folds[0][0].spec.system, "labels": manifest["labels"],
            "segment_frames": first["segment_frames"], "frame_seconds": manifest["frame_seconds"],
            "folds": list(networks), "validation": validation, "evaluation": evaluation,
        })
    return {"folds": len(networks), "validation_recordings": len(validation), "evaluation_recordings": len(evaluation),
            "seconds": round(time.perf_counter() - started, 2)}


def thresholds(feature_cfg: FeatureConfig, dataset_dir: Path, ensemble_dir: Path, models_dir: Path, out_dir: Path) -> dict:
    """Search per-class thresholds on out-of-fold validation outputs; write the model bundle."""
    started = time.perf_counter()
    dataset = load_dataset(dataset_dir)
    manifest = read_json(ensemble_dir / "manifest.json")
    labels, system = manifest["labels"], manifest["system"]
    recordings = {r.id: r for r in dataset.recordings}
    validation = []
    for rid, fold in manifest["validation"].items():
        events = dataset.events(recordings[rid])
        reference = {c: (np.array([e.onset for e in events if e.label == label]), np.array([e.offset for e in events if e.label == label]))
                     for c, label in enumerate(labels)}
        validation.append(ValidationRecording(np.load(ensemble_dir / "validation" / f"{rid}.npy"), fold, reference))
    search_started = time.perf_counter()
    if system == "proposed":
        result = search_proposed(validation, len(labels), manifest["segment_frames"], manifest["frame_seconds"])
    else:
        result = search_baseline(validation, len(labels), manifest["frame_seconds"])
    search_seconds = time.perf_counter() - search_started
    folds = tuple(
        FoldModel(f.name, f.spec, f.weights, f.standardiser, tuple(float(v) for v in result.norm.get(f.name, ())))
        for f, _ in _fold_models(models_dir)
    )
    bundle = Bundle(system, tuple(labels), feature_cfg, int(manifest["segment_frames"]), tuple(float(a) for a in result.alpha),
                    tuple(result.second.tolist()), folds)
    best_f1 = {label: _finite(np.nanmax(result.f1[c], initial=-np.inf)) for c, label in enumerate(labels)}
    with atomic_dir(out_dir) as tmp:
        bundle.save(tmp / "bundle.pt")
        write_json(tmp / "thresholds.json", {**{k: v for k, v in bundle.meta().items() if k != "folds"},
                                              "norm": {f.name: list(f.norm) for f in folds}, "validation_f1": best_f1})
        np.save(tmp / "validation_f1_grid.npy", result.f1)
    return {"system": system, "search_seconds": round(search_seconds, 3), "grid_points": int(result.f1.size),
            "validation_f1": best_f1, "seconds": round(time.perf_counter() - started, 2)}


def _finite(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 4)


def estimated_events(bundle_path: Path, ensemble_dir: Path, out_dir: Path) -> dict:
    """Apply a bundle to the stored evaluation outputs; one DCASE event list per recording."""
    bundle = load_bundle(bundle_path)
    manifest = read_json(ensemble_dir / "manifest.json")
    events, scores = {}, {}
    for rid in manifest["evaluation"]:
        stacked = np.load(ensemble_dir / "evaluation" / f"{rid}.npy")
        scores[rid] = bundle.scores(list(stacked))
        events[rid] = bundle.events(scores[rid], rid)
        write_event_list(out_dir / f"{rid}.tsv", events[rid])
    return {"events": events, "scores": scores, "bundle": bundle}


def evaluate(dataset_dir: Path, features_dir: Path, systems: dict[str, tuple[Path, Path, Path]], out_dir: Path) -> dict:
    """Evaluate every system on the evaluation recordings: tables, event lists, plots.

    ``systems`` maps a system name to its (ensemble outputs, bundle file, models) paths.
    Writes ``table.md``/``table.json``, ``estimated/<system>/<id>.tsv``, ``per_class.csv``
    and PNG figures into ``out_dir``; returns overall, class-average and per-class F1/ER.
    """
    from mtsed import report
    from mtsed.metrics import evaluate_events

    dataset = load_dataset(dataset_dir)
    evaluation = dataset.evaluation()
    reference = {r.id: dataset.events(r) for r in evaluation}
    results, scores, labels = {}, {}, list(dataset.labels)
    with atomic_dir(out_dir) as tmp:
        for system, (ensemble_dir, bundle_path, models_dir) in systems.items():
            estimated = estimated_events(bundle_path, ensemble_dir, tmp / "estimated" / system)
            results[system] = evaluate_events(reference, estimated["events"], labels)
            scores[system] = estimated["scores"]
            histories = {p.parent.name: read_json(p) for p in sorted(models_dir.glob("fold-*/history.json"))}
            report.plot_training_curves(tmp / f"training_{system}.png", histories, f"{dataset.name}: {system} training")
        title = f"{dataset.name}: {len(evaluation)} evaluation recordings"
        table = report.comparison_table(title, results, labels)
        (tmp / "table.md").write_text(table)
        write_json(tmp / "table.json", results)
        rows = ["class," + ",".join(f"{s}_f1,{s}_er" for s in results)]
        for label in labels:
            rows.append(label + "," + ",".join(f"{_csv(results[s]['per_class'][label]['f1'])},{_csv(results[s]['per_class'][label]['er'])}" for s in results))
        (tmp / "per_class.csv").write_text("\n".join(rows) + "\n")
        report.plot_f1_bars(tmp / "f1_per_class.png", results, labels, title)
        shown = max(evaluation, key=lambda r: len(reference[r.id]))  # the busiest recording
        report.plot_detection(tmp / "detection.png", np.load(features_dir / f"{shown.id}.npy"),
                              {s: scores[s][shown.id] for s in results}, reference[shown.id], labels,
                              read_json(features_dir / "manifest.json")["frame_seconds"], f"{dataset.name} / {shown.id}")
    print(table)
    return scores_summary(results)


def scores_summary(results: dict) -> dict:
    """The evaluate stage's metrics from full results (``table.json``): overall and
    class-average scores and per-class F1/ER of each system."""
    return {s: {"overall": r["overall"], "class_average": r["class_average"],
                "per_class": {label: {"f1": c["f1"], "er": c["er"]} for label, c in r["per_class"].items()}}
            for s, r in results.items()}


def _csv(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
