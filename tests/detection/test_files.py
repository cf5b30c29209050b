"""Many files at once: folders, globs, decoding ahead, bad files skipped, one combined list."""

from pathlib import Path

import numpy as np
import pytest

from mtsed.detection.files import AudioInput, combined_list, expand_inputs, prefetched, run_batch, seconds_of
from mtsed.io.audio import AudioError
from mtsed.io.events import Event, read_event_list
from tests.conftest import write_tone


def _tree(root: Path) -> None:
    write_tone(root / "field" / "a.wav", 0.5, 440)
    write_tone(root / "field" / "day2" / "b.flac", 0.7, 660)
    write_tone(root / "field" / "day3" / "a.wav", 0.4, 880)  # same stem as field/a.wav
    (root / "field" / "notes.txt").write_text("not audio")


def test_folders_are_searched_recursively_for_audio_only(tmp_path: Path):
    _tree(tmp_path)
    inputs = expand_inputs([str(tmp_path / "field")])
    assert [i.name for i in inputs] == ["a", "day2/b", "day3/a"]
    assert all(i.path.suffix in (".wav", ".flac") for i in inputs)


def test_globs_expand_and_names_never_collide(tmp_path: Path):
    _tree(tmp_path)
    inputs = expand_inputs([str(tmp_path / "field" / "**" / "a.wav")])
    assert len(inputs) == 2 and len({i.name for i in inputs}) == 2
    assert all(i.name.endswith("a") and "/" in i.name for i in inputs)  # parents keep them apart
    with pytest.raises(FileNotFoundError, match="no files match"):
        expand_inputs([str(tmp_path / "*.ogg")])


def test_a_missing_plain_path_is_kept_to_be_reported(tmp_path: Path):
    assert expand_inputs([str(tmp_path / "gone.wav")]) == [AudioInput(tmp_path / "gone.wav", "gone")]


def test_prefetched_keeps_order_and_hands_errors_over(tmp_path: Path):
    _tree(tmp_path)
    (tmp_path / "broken.wav").write_bytes(b"RIFF nope")
    inputs = expand_inputs([str(tmp_path / "field"), str(tmp_path / "broken.wav")])
    decoded = list(prefetched(inputs, 16000))
    assert [item for item, _ in decoded] == inputs
    assert [type(audio) for _, audio in decoded[:3]] == [np.ndarray] * 3
    assert len(decoded[1][1]) == pytest.approx(0.7 * 16000, abs=2)
    assert isinstance(decoded[3][1], AudioError) and "broken.wav" in str(decoded[3][1])
    assert (
        seconds_of(tmp_path / "field" / "a.wav") == pytest.approx(0.5, abs=1e-3)
        and seconds_of(tmp_path / "broken.wav") == 0
    )


def test_files_longer_than_the_prefetch_limit_are_left_to_stream(tmp_path: Path):
    _tree(tmp_path)
    inputs = expand_inputs([str(tmp_path / "field")])
    decoded = dict(prefetched(inputs, 16000, max_seconds=0.6))
    assert [type(decoded[item]) for item in inputs] == [np.ndarray, type(None), np.ndarray]  # 0.5 s, 0.7 s, 0.5 s


def test_run_batch_skips_failures_and_counts_them(tmp_path: Path):
    _tree(tmp_path)
    inputs = expand_inputs([str(tmp_path / "field"), str(tmp_path / "gone.wav")])
    analysed, reported, done = [], [], []

    def analyse(item: AudioInput, audio: np.ndarray) -> None:
        if item.name == "day2/b":
            raise ValueError("network refused")
        analysed.append(item.name)

    failed = run_batch(
        inputs, 16000, analyse, lambda item, error: reported.append((item.name, str(error))), done.append
    )
    assert failed == 2 and analysed == ["a", "day3/a"] and done == inputs
    assert reported[0] == ("day2/b", "network refused") and "gone.wav" in reported[1][1]


def test_combined_list_is_desed_layout_and_reads_back(tmp_path: Path):
    per_file = [("a.wav", [Event(1.0, 2.0, "dog")]), ("b.flac", [Event(0.5, 0.75, "car"), Event(0.1, 0.2, "dog")])]
    text = combined_list(per_file)
    assert text.splitlines()[0] == "filename\tonset\toffset\tevent_label"
    (tmp_path / "all.tsv").write_text(text)
    assert read_event_list(tmp_path / "all.tsv") == sorted(
        [Event(1.0, 2.0, "dog", "a.wav"), Event(0.5, 0.75, "car", "b.flac"), Event(0.1, 0.2, "dog", "b.flac")]
    )


def test_detect_files_writes_each_list_and_the_combined_one(tiny_trained: Path, tmp_path: Path):
    from mtsed.detection.bundle import load_bundle
    from mtsed.detection.files import detect_files

    write_tone(tmp_path / "in" / "a.wav", 3.0, 440.0)
    (tmp_path / "in" / "bad.wav").write_bytes(b"RIFF not really")
    bundle = load_bundle(tiny_trained / "bundles/overlapping/proposed/bundle.pt")
    inputs = expand_inputs([str(tmp_path / "in")])
    result = detect_files(bundle, inputs, tmp_path / "out", combined=tmp_path / "all.tsv")
    assert result.failed == 1 and [name for name, _ in result.found] == ["a.wav"]
    assert read_event_list(tmp_path / "out" / "a.tsv") == result.found[0][1]
    assert (tmp_path / "all.tsv").read_text().startswith("filename\tonset\toffset\tevent_label\n")
    assert result.pages_index is None and result.events == len(result.found[0][1])
