from pathlib import Path

import pytest

from mtsed.data.datasets import (
    Dataset,
    Recording,
    load_dataset,
    load_itc_irst,
    load_tut_sed_synthetic,
)
from mtsed.io.events import Event, EventListError, write_event_list
from tests.conftest import write_tone


def _isolated(root: Path) -> Dataset:
    recs = [Recording(f"s{i}", f"s{i}.wav", f"s{i}.txt", "test" if i == 4 else "train", f"s{i}") for i in range(5)]
    return Dataset("iso", "isolated", ("a", "b"), tuple(recs), root)


def test_leave_one_session_out_folds(tmp_path: Path):
    folds = _isolated(tmp_path).folds()
    assert [f.validation for f in folds] == [("s0",), ("s1",), ("s2",), ("s3",)]
    for fold in folds:
        assert set(fold.train) == {"s0", "s1", "s2", "s3"} - set(fold.validation)
        assert "s4" not in fold.train  # the test session never trains
    assert [r.id for r in _isolated(tmp_path).evaluation()] == ["s4"]


def test_manifest_round_trip(tmp_path: Path):
    dataset = _isolated(tmp_path)
    dataset.save()
    assert load_dataset(tmp_path) == dataset


def test_malformed_manifest_is_named(tmp_path: Path):
    (tmp_path / "manifest.json").write_text('{"name": "x"}')
    with pytest.raises(ValueError, match="manifest.json"):
        load_dataset(tmp_path)


def test_tut_sed_synthetic_layout_split_60_20_20(tmp_path: Path):
    for n in range(1, 11):
        write_tone(tmp_path / "audio" / f"TUT-SED-synthetic-2016-mix-{n}.wav", 0.1, 440)
        write_event_list(
            tmp_path / "meta" / f"TUT-SED-synthetic-2016-annot-{n}.txt", [Event(0.0, 0.05, "dog" if n % 2 else "cat")]
        )
    dataset = load_tut_sed_synthetic(tmp_path)
    assert [len(dataset.by_split(s)) for s in ("train", "validation", "evaluation")] == [6, 2, 2]
    assert dataset.labels == ("cat", "dog")
    assert dataset.by_split("train")[0].audio.endswith("mix-1.wav")  # numeric, not lexical, order
    assert dataset.folds()[0].validation == ("mix-007", "mix-008")
    assert dataset.events(dataset.recordings[0]) == [Event(0.0, 0.05, "dog")]


def test_tut_missing_annotation_is_named(tmp_path: Path):
    write_tone(tmp_path / "audio" / "x-mix-3.wav", 0.1, 440)
    (tmp_path / "meta").mkdir()
    with pytest.raises(FileNotFoundError, match=r"mixture\(s\) \[3\]"):
        load_tut_sed_synthetic(tmp_path)


def test_itc_irst_sessions_keep_background_labels_out(tmp_path: Path):
    for s in ("s1", "s2", "s3"):
        write_tone(tmp_path / f"{s}.wav", 0.1, 440)
        write_event_list(tmp_path / f"{s}.txt", [Event(0.0, 0.01, "cough"), Event(0.02, 0.03, "speech")])
    dataset = load_itc_irst(tmp_path, ["cough"], test_sessions=["s3"])
    assert dataset.background_labels == ("speech",)
    assert dataset.events(dataset.recordings[0]) == [Event(0.0, 0.01, "cough")]
    assert [f.validation for f in dataset.folds()] == [("s1",), ("s2",)]
    with pytest.raises(ValueError, match="s9"):
        load_itc_irst(tmp_path, ["cough"], test_sessions=["s9"])


def test_unknown_label_in_an_annotation_is_reported(tmp_path: Path):
    dataset = _isolated(tmp_path)
    (tmp_path / "s0.txt").write_text("0.0\t1.0\ta\n1.0\t2.0\tzebra\n")
    with pytest.raises(EventListError, match=r"s0.txt:2: unknown label 'zebra'"):
        dataset.events(dataset.recordings[0])
