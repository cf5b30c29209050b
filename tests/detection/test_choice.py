"""Choosing a system's decoder and thresholds from searched choices."""

from dataclasses import replace

import numpy as np
import pytest

from mtsed.config import ThresholdConfig
from mtsed.detection.choice import Choice, best_choice, class_decoders, per_class_choice, reported_variants


def _candidate(f1: list[float | None], events: list[int], name: str = "bounded", **record) -> Choice:
    known = [v for v in f1 if v is not None]
    per_class = {f"c{k}": v for k, v in enumerate(f1)}
    counts = np.zeros((3, len(f1)))
    return Choice(
        {
            "decoder": name,
            "validation_f1": per_class,
            "held_out_f1": per_class,
            "validation_events": events,
            "validation_class_average_f1": sum(known) / len(known),
            "held_out_class_average_f1": sum(known) / len(known),
            **record,
        },
        counts,
        counts,
    )


def test_a_class_leaves_the_best_shared_decoder_only_on_its_own_evidence():
    choices = {
        "bounded": _candidate([0.9, 0.9, 0.0, 0.6], [200, 200, 200, 4]),
        "capped-8": _candidate([0.5, 0.5, 0.4, 0.8], [200, 200, 200, 4]),
    }  # class average 0.6 vs 0.55
    # class 2 is never detected by bounded: 200 events of evidence move it; class 3's 4 events do not
    assert class_decoders(choices, 50.0) == ["bounded", "bounded", "capped-8", "bounded"]
    assert class_decoders(choices, 0.0) == ["bounded", "bounded", "capped-8", "capped-8"]
    tied = {"capped-8": _candidate([0.5, 0.5], [10, 10]), "bounded": _candidate([0.5, 0.5], [10, 10])}
    assert class_decoders(tied, 50.0) == ["capped-8", "capped-8"]  # first on ties


def test_a_per_class_choice_joins_each_class_s_thresholds_and_pools_its_counts():
    def choice(
        name: str, second_name: str, alpha: float, second: float, norm: list[float] | None, tp: list[float]
    ) -> Choice:
        counts = np.array([tp, [10.0, 10.0], [10.0, 10.0]])
        plain = _candidate(
            [0.1, 0.2],
            [10, 10],
            name,
            alpha=[alpha] * 2,
            **{second_name: [second] * 2},
            fixed={"alpha": 0.5, second_name: second},
            norm={"0": norm} if norm else {},
            fixed_norm={"0": norm} if norm else {},
            validation_f1_fixed={"c0": 0.0, "c1": 0.0},
        )
        return replace(plain, chosen_counts=counts, fixed_counts=counts, held_out_counts=counts / 2)

    choices = {
        "capped-8": choice("capped-8", "beta", 0.3, 0.4, [5.0, 6.0], [2.0, 4.0]),
        "bounded": choice("bounded", "median_window", 0.6, 7.0, None, [6.0, 8.0]),
    }
    joined = per_class_choice(choices, ["capped-8", "bounded"])
    record = joined.record
    assert joined.decoder == "per-class" and joined.class_decoders == ["capped-8", "bounded"]
    assert record["alpha"] == [0.3, 0.6] and record["second"] == [0.4, 7.0]
    assert record["norm"] == {"0": [5.0, 1.0]}  # bounded needs no normaliser
    assert record["validation_f1"] == {"c0": 0.1, "c1": 0.2}
    assert record["validation_overall_f1"] == pytest.approx(2 * (2 + 8) / (20 + 20), abs=1e-4)
    assert record["held_out_f1"] == {"c0": 0.2, "c1": 0.8} and record["held_out_class_average_f1"] == pytest.approx(0.5)
    np.testing.assert_array_equal(joined.chosen_counts[0], [2.0, 8.0])  # each class's own column
    assert joined.grid_f1 is None  # a join has no grid of its own


def test_best_choice_goes_by_held_out_f1_and_takes_the_first_of_equal_candidates():
    choices = {
        "bounded": _candidate([0.8], [10], "bounded", held_out_class_average_f1=0.7),
        "capped-8": _candidate([0.9], [10], "capped-8", held_out_class_average_f1=0.7),  # in-sample peak: overfit
        "activity": _candidate([0.7], [10], "activity", held_out_class_average_f1=0.6),
    }
    cfg = ThresholdConfig()
    assert best_choice("multitask", choices, cfg) == "bounded"
    assert best_choice("proposed", choices, cfg) == "confidence-region"
    assert best_choice("proposed", choices, replace(cfg, proposed_decoder="confidence")) == "confidence"


def test_reported_variants_are_the_other_choices_and_the_other_rules():
    paper = _candidate([0.6], [10], "confidence-region")
    main = replace(_candidate([0.5], [10], "confidence-region"), by_rule={"paper": paper, "smoothed": None})
    other = _candidate([0.4], [10], "confidence")
    variants = reported_variants({"confidence-region": main, "confidence": other}, main, "smoothed")
    assert variants == {"confidence": other.record, "confidence-region:paper": paper.record}
