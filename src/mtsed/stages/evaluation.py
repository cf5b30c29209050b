"""Stage ``evaluate``: both systems on the evaluation split, with what explains the scores.

Besides the paper-like table (searched thresholds, evaluation split) the report holds,
for every system: searched against fixed thresholds; the same figures on the training
split (in-sample outputs of the folds that trained on each recording); frame-level F1 of
the activity head and the distance head's median boundary error (:mod:`mtsed.evaluation.diagnostics`);
and, for the proposed network, the variant decoders next to the paper's.  Beside the
event-based scores each system gets sed_eval's segment-based scores (1-s segments) and the
threshold-free ones of :mod:`mtsed.evaluation.threshold_free` (PSDS1, PSDS2), computed from its frame
scores, which the report also keeps in ``scores/<system>/`` (``sed_scores_eval`` layout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mtsed.config.layout import (
    BUNDLE_FILE,
    HISTORY_FILE,
    MANIFEST_FILE,
    TABLE_FILE,
    TABLE_JSON_FILE,
    VARIANTS_FILE,
    fold_folder,
)
from mtsed.config.systems import network_of
from mtsed.data.datasets import load_dataset
from mtsed.detection.bundle import Bundle, load_bundle
from mtsed.evaluation import diagnostics, pages, report, threshold_free
from mtsed.evaluation.metrics import evaluate_events, evaluate_segments
from mtsed.io.audio import audio_duration
from mtsed.io.events import Event, write_event_list
from mtsed.io.fileio import atomic_dir, read_json, write_json
from mtsed.measures.distance_errors import band_medians


def _outputs(ensemble_dir: Path, split: str, ids: list[str]) -> dict[str, list[np.ndarray]]:
    return {rid: list(np.load(ensemble_dir / split / f"{rid}.npy")) for rid in ids}


def _score(
    bundle: Bundle, outputs: dict[str, list[np.ndarray]], reference: dict[str, list[Event]], labels: list[str]
) -> tuple[dict, dict[str, list[Event]], dict[str, np.ndarray]]:
    """sed_eval results of a bundle on some recordings, their events and ensemble scores."""
    events, scores = {}, {}
    for rid, folds in outputs.items():
        events[rid], scores[rid] = bundle.decode(folds, rid)
    return evaluate_events(reference, events, labels), events, scores


def _diagnostics(
    outputs: dict[str, list[np.ndarray]], targets_dir: Path, segment_frames: int, reading: str, n_classes: int
) -> dict:
    """Frame-level F1 of the activity head and, for the proposed network, the median
    boundary errors and the signed distance errors binned by true distance."""
    counts, onset, offset, signed = [], [], [], []
    for rid, folds in outputs.items():
        mean = np.mean(folds, axis=0)
        targets = diagnostics.inference_targets(np.load(targets_dir / f"{rid}.npy"), segment_frames, reading)
        counts.append(diagnostics.frame_counts(mean[:, :n_classes], targets[:, :n_classes]))
        if mean.shape[1] == 3 * n_classes:
            errors = diagnostics.boundary_errors(mean, targets, segment_frames)
            onset.append(errors[0])
            offset.append(errors[1])
            signed.append(diagnostics.signed_distance_errors(mean, targets, segment_frames))
    binned = {name: band_medians(s[name] for s in signed) for name in ("onset", "offset")} if signed else None
    return {
        "frame_f1": diagnostics.frame_f1(counts),
        "onset_error_frames": diagnostics.median_or_none(onset),
        "offset_error_frames": diagnostics.median_or_none(offset),
        "distance_errors": binned,
    }


def _beyond_events(
    bundle: Bundle,
    reference: dict[str, list[Event]],
    events: dict[str, list[Event]],
    scores: dict[str, np.ndarray],
    durations: dict[str, float],
    labels: list[str],
    scores_dir: Path,
) -> dict:
    """Segment-based scores of the events and threshold-free scores of the frame scores
    (which are kept in ``scores_dir``, one ``sed_scores_eval`` TSV per recording)."""
    frames = {}
    for rid, values in scores.items():
        frames[rid] = threshold_free.score_frame(values, bundle.frame_seconds, labels)
        threshold_free.write_scores(scores_dir / f"{rid}.tsv", frames[rid])
    return {
        "segment_based": evaluate_segments(reference, events, labels, durations),
        "threshold_free": threshold_free.evaluate_scores(frames, reference, durations, labels),
    }


def write_pages(
    dataset,
    features_dir: Path,
    bundles: dict[str, Bundle],
    events: dict[str, dict[str, list[Event]]],
    scores: dict[str, dict[str, np.ndarray]],
    durations: dict[str, float],
    results: dict,
    out_dir: Path,
    pages_dir: Path,
) -> None:
    """A page per evaluation recording and an index (:mod:`mtsed.evaluation.pages`) into
    ``pages_dir``, its links made as from ``out_dir / "pages"`` (where the pages end up)."""
    labels, frame_seconds = list(dataset.labels), next(iter(bundles.values())).frame_seconds
    final = out_dir / "pages"
    rows = []
    for recording in dataset.evaluation():
        rid, reference = recording.id, dataset.events(recording)
        views = []
        for system, bundle in bundles.items():
            own = evaluate_events({rid: reference}, {rid: events[system][rid]}, labels)["overall"]
            views.append(
                pages.SystemView(
                    system, events[system][rid], scores[system][rid], bundle.score_thresholds(), own["f1"], own["er"]
                )
            )
        lists = {
            "reference": pages.relative_link(dataset.root / recording.events, final),
            **{f"{system} events": f"../estimated/{system}/{rid}.tsv" for system in bundles},
        }
        view = pages.RecordingView(
            rid,
            pages.relative_link(dataset.audio_path(recording), final),
            durations[rid],
            frame_seconds,
            labels,
            np.load(features_dir / f"{rid}.npy"),
            views,
            reference,
            lists,
        )
        page = pages.write_recording_page(view, pages_dir)
        rows.append(pages.index_row(view, page))
    summary = [
        {
            "system": system,
            "overall_f1": r["overall"]["f1"],
            "overall_er": r["overall"]["er"],
            "class_average_f1": r["class_average"]["f1"],
            "class_average_er": r["class_average"]["er"],
        }
        for system, r in results.items()
    ]
    pages.write_index(f"{dataset.name}: evaluation recordings", rows, list(bundles), pages_dir, summary)


def _headline(result: dict) -> dict:
    return {"overall": {k: result["overall"][k] for k in ("f1", "er")}, "class_average": result["class_average"]}


@dataclass
class _Report:
    """What the evaluation of every system gathers, system by system."""

    results: dict = field(default_factory=dict)  # searched thresholds, evaluation split: the paper-like table
    study: dict = field(default_factory=dict)  # per split: searched and fixed, with the network's diagnostics
    variants: dict = field(default_factory=dict)  # the other decoders searched, on the evaluation split
    misses: dict = field(default_factory=dict)  # why reference events are missed
    events: dict = field(default_factory=dict)  # estimated events per recording
    scores: dict = field(default_factory=dict)  # frame scores per recording
    bundles: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)  # (network, split) -> figures: systems of one network share them


def _splits(dataset, ensemble_dir: Path, reference: dict[str, list[Event]]) -> tuple[dict, dict]:
    """The ensemble manifest, and per split (evaluation, training) its outputs and reference events."""
    manifest = read_json(ensemble_dir / MANIFEST_FILE)
    recordings = {r.id: r for r in dataset.recordings}
    training = list(manifest.get("training", {}))
    return manifest, {
        "evaluation": (_outputs(ensemble_dir, "evaluation", list(reference)), reference),
        "training": (
            _outputs(ensemble_dir, "training", training),
            {rid: dataset.events(recordings[rid]) for rid in training},
        ),
    }


def _evaluate_system(
    rep: _Report,
    system: str,
    bundle: Bundle,
    splits: dict,
    manifest: dict,
    labels: list[str],
    durations: dict[str, float],
    targets_dir: Path,
    tmp: Path,
) -> None:
    """One system on both splits, searched and fixed thresholds; its evaluation events and scores written."""
    rep.study[system] = {}
    for split, (outputs, ref) in splits.items():
        searched, events, split_scores = _score(bundle, outputs, ref, labels)
        fixed = _score(bundle.with_fixed_thresholds(), outputs, ref, labels)[0]
        if split == "evaluation":
            rep.results[system] = {
                **searched,
                **_beyond_events(bundle, ref, events, split_scores, durations, labels, tmp / "scores" / system),
            }
            rep.scores[system], rep.events[system] = split_scores, events
            rep.misses[system] = diagnostics.miss_reasons(ref, events, labels)
            for rid, found in events.items():
                write_event_list(tmp / "estimated" / system / f"{rid}.tsv", found)
        key = (network_of(system), split)
        if key not in rep.diagnostics:
            rep.diagnostics[key] = _diagnostics(
                outputs, targets_dir, bundle.segment_frames, manifest.get("distance_targets", "window"), len(labels)
            )
        rep.study[system][split] = {"searched": _headline(searched), "fixed": _headline(fixed), **rep.diagnostics[key]}


def _evaluate_variants(
    rep: _Report, system: str, bundle: Bundle, bundle_dir: Path, evaluation: tuple, labels: list[str]
) -> None:
    """The other decoders the thresholds stage searched for ``system`` (``variants.json``), on the evaluation split."""
    choices = read_json(bundle_dir / VARIANTS_FILE) if (bundle_dir / VARIANTS_FILE).is_file() else {}
    outputs, ref = evaluation
    for name, choice in choices.items():
        variant = bundle.with_thresholds(choice)
        rep.variants[f"{system}:{name}"] = {
            "searched": _headline(_score(variant, outputs, ref, labels)[0]),
            "fixed": _headline(_score(variant.with_fixed_thresholds(), outputs, ref, labels)[0]),
            "validation_class_average_f1": choice.get("validation_class_average_f1"),
            "held_out_class_average_f1": choice.get("held_out_class_average_f1"),
        }


def _write_tables(rep: _Report, title: str, labels: list[str], tmp: Path) -> dict:
    """``table.md``, ``table.json`` and ``per_class.csv``; returns the full table."""
    decoders = {s: bundle.summary for s, bundle in rep.bundles.items()}
    table = report_markdown(title, rep.results, rep.study, rep.variants, decoders, rep.misses, labels)
    (tmp / TABLE_FILE).write_text(table)
    full = {**rep.results, "study": rep.study, "variants": rep.variants, "miss_reasons": rep.misses}
    write_json(tmp / TABLE_JSON_FILE, full)
    (tmp / "per_class.csv").write_text(report.per_class_csv(rep.results, labels))
    return full


def report_markdown(
    title: str, results: dict, study: dict, variants: dict, decoders: dict, misses: dict, labels: list[str]
) -> str:
    """The whole ``table.md``: the paper-like table, the field's scores, and what explains them."""
    return (
        report.comparison_table(title, results, labels)
        + "\n"
        + report.field_table(results, labels)
        + "\n"
        + report.study_tables(study, variants, decoders)
        + "\n"
        + report.distance_error_table(study)
        + "\n"
        + report.miss_reason_table(misses, labels)
    )


def _plots(
    rep: _Report, dataset, systems: dict, reference: dict, features_dir: Path, labels: list[str], title: str, tmp: Path
) -> None:
    """Training curves of each network, F1 per class, and the busiest recording's detections."""
    for system, (ensemble_dir, _, models_dir) in systems.items():
        if network_of(system) == system:
            folds = read_json(ensemble_dir / MANIFEST_FILE)["folds"]
            folders = {fold: fold_folder(models_dir, fold) for fold in folds}
            histories = {folder.name: read_json(folder / HISTORY_FILE) for folder in folders.values()}
            report.plot_training_curves(tmp / f"training_{system}.png", histories, f"{dataset.name}: {system} training")
    report.plot_f1_bars(tmp / "f1_per_class.png", rep.results, labels, title)
    shown = max(dataset.evaluation(), key=lambda r: len(reference[r.id]))  # the busiest recording
    report.plot_detection(
        tmp / "detection.png",
        np.load(features_dir / f"{shown.id}.npy"),
        {s: rep.scores[s][shown.id] for s in rep.results},
        reference[shown.id],
        labels,
        read_json(features_dir / MANIFEST_FILE)["frame_seconds"],
        f"{dataset.name} / {shown.id}",
    )


def evaluate(
    dataset_dir: Path, features_dir: Path, targets_dir: Path, systems: dict[str, tuple[Path, Path, Path]], out_dir: Path
) -> dict:
    """Evaluate every system; write tables, event lists, plots and pages into ``out_dir``.

    ``systems`` maps a system name to its (ensemble outputs, bundle folder, models) paths.
    Returns the main results (searched thresholds, evaluation split) plus the study block.
    """
    dataset = load_dataset(dataset_dir)
    labels = list(dataset.labels)
    evaluation = dataset.evaluation()
    reference = {r.id: dataset.events(r) for r in evaluation}
    durations = {r.id: audio_duration(dataset.audio_path(r)) for r in evaluation}
    title = f"{dataset.name}: {len(evaluation)} evaluation recordings" + (
        f" ({dataset.protocol})" if dataset.protocol else ""
    )
    rep = _Report()
    with atomic_dir(out_dir) as tmp:
        for system, (ensemble_dir, bundle_dir, _) in systems.items():
            bundle = rep.bundles[system] = load_bundle(bundle_dir / BUNDLE_FILE)
            manifest, splits = _splits(dataset, ensemble_dir, reference)
            _evaluate_system(rep, system, bundle, splits, manifest, labels, durations, targets_dir, tmp)
            _evaluate_variants(rep, system, bundle, bundle_dir, splits["evaluation"], labels)
        full = _write_tables(rep, title, labels, tmp)
        _plots(rep, dataset, systems, reference, features_dir, labels, title, tmp)
        write_pages(
            dataset, features_dir, rep.bundles, rep.events, rep.scores, durations, rep.results, out_dir, tmp / "pages"
        )
    return report_metrics(full)


def report_metrics(table: dict) -> dict:
    """The evaluate stage's metrics out of a full report (``table.json``): the scores
    summary plus the study and decoder-variant figures, as DVC and Kubeflow both log them."""
    return {
        **scores_summary(table),
        "study": table["study"],
        "variants": table["variants"],
        "miss_reasons": table.get("miss_reasons", {}),
    }


def scores_summary(results: dict) -> dict:
    """The evaluate stage's metrics from full results (``table.json``): overall and
    class-average scores and per-class F1/ER of each system."""
    return {
        s: {
            "overall": r["overall"],
            "class_average": r["class_average"],
            "per_class": {label: {"f1": c["f1"], "er": c["er"]} for label, c in r["per_class"].items()},
            "segment_based": r["segment_based"],
            "threshold_free": r["threshold_free"],
        }
        for s, r in results.items()
        if s not in ("study", "variants", "miss_reasons")
    }
