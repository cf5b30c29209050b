"""Which decoder and thresholds a system's detector takes, chosen on validation outputs.

The threshold search (:mod:`mtsed.detection.thresholds`) counts every grid point of one
decoder; a :class:`Choice` is what one selection rule keeps of it: per-class thresholds and
normalisers, with the validation F1 that justifies them. A system then takes one choice
(:func:`system_choice`): the paper's decoder for ``proposed`` and ``baseline``, for
``multitask`` the candidate decoder with the best held-out validation F1, per class where
``thresholds.multitask_per_class`` says (:func:`class_decoders`, :func:`per_class_choice`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mtsed.config import FeatureConfig, ThresholdConfig
from mtsed.config.systems import PAPER_DECODERS, network_of
from mtsed.config.training import SELECTIONS
from mtsed.detection.bundle import PER_CLASS, Bundle, FoldModel
from mtsed.detection.decoders import Decoder, get_decoder
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

RULE_FIGURES = (
    "validation_class_average_f1",
    "validation_overall_f1",
    "held_out_class_average_f1",
    "held_out_overall_f1",
)


@dataclass(frozen=True)
class Choice:
    """One decoder's (or a per-class join's) chosen thresholds.

    ``record`` is what ``thresholds.json`` and ``variants.json`` save, and what
    :meth:`mtsed.detection.bundle.Bundle.with_thresholds` reads: the decoder, per-class
    thresholds and normalisers, validation F1 (in-sample, and held out where validation
    groups were given). The arrays are what joining and reporting need and are not saved:
    the grid's F1 (``None`` for a per-class join, which has no grid of its own), the
    (3, classes) counts (true positives, estimated, reference events) at the chosen and at
    the fixed thresholds and held out, and the choice each other selection rule makes on
    the same grid (``by_rule``).
    """

    record: dict[str, Any]
    chosen_counts: np.ndarray
    fixed_counts: np.ndarray
    grid_f1: np.ndarray | None = None
    held_out_counts: np.ndarray | None = None
    by_rule: Mapping[str, Choice] = field(default_factory=dict)

    @property
    def decoder(self) -> str:
        return self.record["decoder"]

    @property
    def class_decoders(self) -> list[str]:
        """Each class's decoder: the decoder itself for every class, unless a per-class join."""
        return list(self.record.get("class_decoders", [self.decoder]))


def class_average(values: np.ndarray) -> float:
    """Mean of the defined class F1 values (NaN where a class has no validation events); 0 if none."""
    values = np.asarray(values, float)
    return float(np.nanmean(values)) if np.isfinite(values).any() else 0.0


def _per_label(values: np.ndarray, labels: list[str]) -> dict[str, float | None]:
    """Class F1 values as JSON (``None`` where undefined)."""
    return {label: (None if not np.isfinite(v) else round(float(v), 4)) for label, v in zip(labels, values)}


def _values(per_label: dict[str, float | None]) -> np.ndarray:
    """:func:`_per_label`'s JSON back to an array (NaN where undefined)."""
    return np.array([np.nan if v is None else v for v in per_label.values()], float)


def _record(dec: Decoder, counts: GridCounts, selection: Selection, fixed: Selection, labels: list[str]) -> dict:
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


def _held_out_record(held_out: np.ndarray, labels: list[str]) -> dict:
    """Held-out validation F1 per class, class-averaged and pooled, as JSON, from the (3, classes)
    held-out counts (:func:`mtsed.detection.thresholds.held_out_from`)."""
    pooled = pooled_f1(held_out)
    return {
        "held_out_f1": _per_label(counts_f1(held_out), labels),
        "held_out_class_average_f1": round(class_average(counts_f1(held_out)), 4),
        "held_out_overall_f1": round(pooled, 4) if np.isfinite(pooled) else None,
    }


def _rule_choice(
    dec: Decoder,
    counts: GridCounts,
    per_group: list[GridCounts],
    rule: ThresholdConfig,
    fixed: Selection,
    labels: list[str],
    grid_f1: np.ndarray,
) -> Choice:
    """The choice one selection rule makes on the grid (whose F1 is ``grid_f1``), with its
    held-out validation F1 when there are groups."""
    selection = select(counts, rule)
    record = _record(dec, counts, selection, fixed, labels)
    held_out = held_out_from(per_group, rule) if per_group else None
    if held_out is not None:
        record.update(_held_out_record(held_out, labels))
    return Choice(record, counts_at(counts, selection), counts_at(counts, fixed), grid_f1, held_out_counts=held_out)


def search(
    dec: Decoder,
    validation: list[ValidationRecording],
    labels: list[str],
    segment_frames: int,
    frame_seconds: float,
    cfg: ThresholdConfig,
    groups: list[list[int]] | None = None,
    rules: Mapping[str, ThresholdConfig] | None = None,
) -> Choice:
    """Search one decoder's thresholds on validation outputs and choose them as ``cfg`` says.
    With ``groups`` the choice also holds its held-out validation F1 (each group scored at the
    thresholds the other groups chose), and with ``rules`` (selection settings by name) the
    choice each rule makes on the same grid (``by_rule``) and their validation figures
    (``selection_rules`` in its record: in-sample, and held out with ``groups``)."""
    counts = grid_counts(dec, validation, len(labels), segment_frames, frame_seconds)
    fixed = fixed_selection(dec, counts)
    per_group = (
        group_counts(dec, validation, groups, len(labels), segment_frames, frame_seconds) if groups is not None else []
    )
    grid_f1 = counts.f1()
    by_rule = {
        name: _rule_choice(dec, counts, per_group, rule, fixed, labels, grid_f1) for name, rule in (rules or {}).items()
    }
    same = [name for name, rule in (rules or {}).items() if rule == cfg]  # the rule cfg is, chosen once
    choice = by_rule[same[0]] if same else _rule_choice(dec, counts, per_group, cfg, fixed, labels, grid_f1)
    if not by_rule:
        return choice
    figures = {name: {k: c.record[k] for k in RULE_FIGURES if k in c.record} for name, c in by_rule.items()}
    record = {**choice.record, "selection_rules": figures}
    return Choice(record, choice.chosen_counts, choice.fixed_counts, choice.grid_f1, choice.held_out_counts, by_rule)


def class_decoders(choices: Mapping[str, Choice], shrinkage_events: float) -> list[str]:
    """Each class's decoder for system multitask: the candidate with the highest held-out
    validation F1 shrunk toward that candidate's held-out class average, with the class's
    weight ``n / (n + shrinkage)`` for ``n`` validation events (as :func:`mtsed.detection.thresholds.select`
    shrinks thresholds), so a class leaves the decoder that is best for all only on its own
    evidence.  First on ties."""
    names = list(choices)
    n = np.asarray(choices[names[0]].record["validation_events"], float)
    weight = n / (n + shrinkage_events) if shrinkage_events > 0 else np.ones_like(n)
    scores = []
    for name in names:
        own = _values(choices[name].record["held_out_f1"])
        average = choices[name].record["held_out_class_average_f1"]
        scores.append(np.where(np.isfinite(own), weight * np.nan_to_num(own) + (1 - weight) * average, average))
    return [names[i] for i in np.argmax(np.asarray(scores), axis=0)]


def per_class_choice(choices: Mapping[str, Choice], decoders: list[str]) -> Choice:
    """One choice out of each class's own candidate: its thresholds and normalisers, its
    validation F1, and counts pooled from each class's own column."""
    picked = [choices[name] for name in decoders]
    records = [c.record for c in picked]
    labels = list(records[0]["validation_f1"])
    folds = sorted({fold for r in records for fold in r["norm"]})

    def norms(key: str) -> dict[str, list[float]]:
        return {fold: [r[key][fold][k] if fold in r[key] else 1.0 for k, r in enumerate(records)] for fold in folds}

    def own_columns(arrays: list[np.ndarray]) -> np.ndarray:
        return np.stack([a[:, k] for k, a in enumerate(arrays)], axis=1)  # (3, C): each class's own

    def second(r: dict, k: int) -> float:
        return r[get_decoder(r["decoder"]).second_name][k]

    chosen = own_columns([c.chosen_counts for c in picked])
    fixed = own_columns([c.fixed_counts for c in picked])
    held_out = own_columns([c.held_out_counts for c in picked])
    f1 = {label: r["validation_f1"][label] for label, r in zip(labels, records)}
    record = {
        "decoder": PER_CLASS,
        "class_decoders": list(decoders),
        "alpha": [r["alpha"][k] for k, r in enumerate(records)],
        "second": [second(r, k) for k, r in enumerate(records)],
        "norm": norms("norm"),
        "fixed_norm": norms("fixed_norm"),
        "validation_f1": f1,
        "validation_f1_fixed": {label: r["validation_f1_fixed"][label] for label, r in zip(labels, records)},
        "validation_overall_f1": round(pooled_f1(chosen), 4),
        "validation_overall_f1_fixed": round(pooled_f1(fixed), 4),
        "validation_class_average_f1": round(class_average(_values(f1)), 4),
        "validation_events": records[0]["validation_events"],
        **_held_out_record(held_out, labels),
    }
    return Choice(record, chosen, fixed, held_out_counts=held_out)


def system_decoders(system: str, cfg: ThresholdConfig) -> tuple[str, ...]:
    """The decoders a system's threshold stage searches: the paper's own for ``proposed``
    and ``baseline`` (``proposed``: the paper's votes normalised as ``proposed_decoder`` says, plus
    the reported ``variants``), the candidates of ``thresholds.multitask`` for ``multitask``."""
    if system == "multitask":
        return tuple(dict.fromkeys(cfg.multitask))
    if system == "proposed":
        return tuple(dict.fromkeys([cfg.proposed_decoder, *cfg.variants]))
    return (PAPER_DECODERS[system],)


def best_choice(system: str, choices: Mapping[str, Choice], cfg: ThresholdConfig) -> str:
    """The one decoder a system's bundle uses: the paper's for ``proposed`` (its votes
    normalised as ``proposed_decoder`` says) and ``baseline``; for ``multitask`` the candidate
    with the highest held-out validation class-average F1 (first on ties)."""
    if system == "proposed":
        return cfg.proposed_decoder
    if system != "multitask":
        return PAPER_DECODERS[system]
    return max(choices, key=lambda name: choices[name].record["held_out_class_average_f1"])


def system_choice(system: str, choices: Mapping[str, Choice], cfg: ThresholdConfig) -> Choice:
    """The choice a system's bundle is built from: :func:`best_choice`'s, or for ``multitask``
    with ``multitask_per_class`` each class's own (:func:`class_decoders`) when they differ."""
    if system == "multitask" and cfg.multitask_per_class:
        decoders = class_decoders(choices, cfg.shrinkage_events)
        if len(set(decoders)) > 1:
            return per_class_choice(choices, decoders)
        return choices[decoders[0]]
    return choices[best_choice(system, choices, cfg)]


def search_system(
    system: str,
    cfg: ThresholdConfig,
    validation: list[ValidationRecording],
    labels: list[str],
    segment_frames: int,
    frame_seconds: float,
) -> tuple[dict[str, Choice], dict[str, float]]:
    """Every decoder a system's threshold stage searches (:func:`system_decoders`), each chosen
    by the system's selection rule; and the seconds each search took. Where a choice is made
    between decoders (``multitask``) or selection rules (``proposed``), the choices carry their
    held-out validation F1, and the paper's decoder of ``proposed`` the choice of each rule."""
    groups = validation_groups(validation) if system in ("multitask", "proposed") else None
    rules = {rule: cfg.selection(system, rule) for rule in SELECTIONS} if system == "proposed" else None
    choices: dict[str, Choice] = {}
    seconds: dict[str, float] = {}
    for name in system_decoders(system, cfg):
        started = time.perf_counter()
        choices[name] = search(
            get_decoder(name),
            validation,
            labels,
            segment_frames,
            frame_seconds,
            cfg.selection(system),
            groups,
            rules if name == cfg.proposed_decoder else None,
        )
        seconds[name] = round(time.perf_counter() - started, 3)
    return choices, seconds


def reported_variants(choices: Mapping[str, Choice], main: Choice, rule: str) -> dict[str, dict]:
    """The records reported beside a system's own choice (``variants.json``): every searched
    choice but ``main``, and ``main``'s decoder under each other selection rule (``<decoder>:<rule>``)."""
    variants = {name: c.record for name, c in choices.items() if c is not main}
    for name, choice in main.by_rule.items():
        if name != rule:
            variants[f"{main.decoder}:{name}"] = choice.record
    return variants


def bundle_from_choice(
    system: str,
    choice: Choice,
    labels: list[str],
    feature_cfg: FeatureConfig,
    segment_frames: int,
    folds: list[FoldModel],
) -> Bundle:
    """The detector: fold models plus one choice's thresholds and normalisers."""
    empty = Bundle(
        system,
        PAPER_DECODERS[network_of(system)],
        tuple(labels),
        feature_cfg,
        segment_frames,
        (0.0,) * len(labels),
        (0.0,) * len(labels),
        tuple(folds),
    )
    return empty.with_thresholds(choice.record)
