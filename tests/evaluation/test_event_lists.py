"""A user's event lists scored against reference lists, as a notebook would call it."""

from pathlib import Path

import pytest

from mtsed.evaluation.event_lists import score_event_lists

REFERENCE = "1.0\t2.0\tdog\n3.0\t4.5\tcar\n"


def test_the_classes_are_both_sides_and_a_perfect_list_scores_one(tmp_path: Path):
    (tmp_path / "ref.txt").write_text(REFERENCE)
    (tmp_path / "est.txt").write_text(REFERENCE + "7.0\t8.0\tbird\n")  # a class only the estimate has
    scores = score_event_lists(tmp_path / "ref.txt", tmp_path / "est.txt")
    assert scores.labels == ["bird", "car", "dog"]
    assert scores.result["per_class"]["dog"]["f1"] == pytest.approx(1.0)
    assert scores.summary()["overall"]["f1"] == pytest.approx(2 * 2 / (2 + 3))
    assert set(scores.summary()) == {"overall", "class_average", "per_class", "segment_based"}


def test_an_estimated_file_without_a_reference_is_named(tmp_path: Path):
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "a.txt").write_text(REFERENCE)
    (tmp_path / "est.txt").write_text("a.wav\t1.0\t2.0\tdog\nzz.wav\t1.0\t2.0\tdog\n")
    with pytest.raises(ValueError, match="zz"):
        score_event_lists(tmp_path / "refs", tmp_path / "est.txt")
