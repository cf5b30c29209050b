"""`mtsed evaluate` on user event lists and `mtsed detect` on audio no data set contains."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mtsed.cli.main import main
from tests.conftest import write_tone

REFERENCE = "1.0\t2.0\tdog\n3.0\t4.5\tcar\n6.0\t6.4\tdog\n"


def test_evaluate_json_on_single_file_lists(tmp_path: Path, capsys):
    (tmp_path / "ref.txt").write_text(REFERENCE)
    (tmp_path / "est.txt").write_text("1.1\t2.1\tdog\n3.0\t4.0\tcar\n9.0\t9.5\tcar\n")
    assert main(["evaluate", str(tmp_path / "ref.txt"), str(tmp_path / "est.txt"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"overall", "class_average", "per_class", "segment_based"}
    assert set(result["segment_based"]) == {"overall", "class_average", "per_class"}
    assert set(result["segment_based"]["per_class"]["dog"]) == {"f1", "er"}
    assert result["per_class"]["dog"] == {"f1": pytest.approx(2 / 3), "er": pytest.approx(0.5), "n_ref": 2, "n_sys": 1}
    assert result["per_class"]["car"]["n_sys"] == 2
    assert result["overall"]["f1"] == pytest.approx(2 * 2 / (3 + 3))  # 2 matches out of 3 references and 3 estimates


def test_evaluate_multi_file_list_against_a_folder(tmp_path: Path, capsys):
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "a.txt").write_text(REFERENCE)
    (tmp_path / "refs" / "b.txt").write_text("0.5\t1.0\tcar\n")
    rows = [f"a.wav\t{line}" for line in REFERENCE.splitlines()] + ["b.wav\t0.5\t1.0\tcar"]
    (tmp_path / "est.txt").write_text("\n".join(rows) + "\n")
    assert main(["evaluate", str(tmp_path / "refs"), str(tmp_path / "est.txt"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["overall"] == {"f1": pytest.approx(1.0), "er": pytest.approx(0.0)}
    assert main(["evaluate", str(tmp_path / "refs"), str(tmp_path / "est.txt")]) == 0
    assert "| dog |" in capsys.readouterr().out


def test_evaluate_desed_lists_with_a_zero_length_event_as_sed_eval_does(tmp_path: Path, capsys):
    """A DESED header and a zero-length event: every figure equals sed_eval reading the same files."""
    import sed_eval

    header = "filename\tonset\toffset\tevent_label\n"
    (tmp_path / "ref.tsv").write_text(header + "s.wav\t1.0\t2.0\tdog\ns.wav\t3.5\t3.5\tcar\ns.wav\t6.0\t7.5\tcar\n")
    (tmp_path / "est.tsv").write_text(header + "s.wav\t1.1\t2.0\tdog\ns.wav\t3.4\t3.6\tcar\ns.wav\t9.0\t9.5\tdog\n")
    assert main(["evaluate", str(tmp_path / "ref.tsv"), str(tmp_path / "est.tsv"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)

    def as_items(path: Path) -> list[dict]:
        lines = (line.split("\t") for line in path.read_text().splitlines()[1:])
        return [
            {"file": "s.wav", "event_label": label, "onset": float(on), "offset": float(off)}
            for _, on, off, label in lines
        ]

    ref, est = as_items(tmp_path / "ref.tsv"), as_items(tmp_path / "est.tsv")
    events = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=["car", "dog"], t_collar=0.2, percentage_of_length=0.5
    )
    segments = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=["car", "dog"], time_resolution=1.0)
    events.evaluate(ref, est)
    segments.evaluate(ref, est)
    for ours, theirs in ((result, events.results()), (result["segment_based"], segments.results())):
        assert ours["overall"]["f1"] == pytest.approx(theirs["overall"]["f_measure"]["f_measure"])
        assert ours["overall"]["er"] == pytest.approx(theirs["overall"]["error_rate"]["error_rate"])
        for label in ("car", "dog"):
            assert ours["per_class"][label]["f1"] == pytest.approx(
                theirs["class_wise"][label]["f_measure"]["f_measure"]
            )
    assert result["per_class"]["car"]["n_ref"] == 2 and result["per_class"]["car"]["f1"] == pytest.approx(2 / 3)


def test_evaluate_names_a_malformed_line(tmp_path: Path, capsys):
    (tmp_path / "ref.txt").write_text(REFERENCE)
    (tmp_path / "est.txt").write_text("1.0\tdog\n")
    assert main(["evaluate", str(tmp_path / "ref.txt"), str(tmp_path / "est.txt")]) == 2
    assert "est.txt:1" in capsys.readouterr().err


def test_detect_writes_events_for_new_audio_and_skips_bad_files(tiny_trained: Path, tmp_path: Path, capsys):
    new = tmp_path / "new_recording.flac"
    rng = np.random.default_rng(5)
    audio = 0.02 * rng.standard_normal(22050 * 20)
    sf.write(str(new), np.stack([audio, audio], axis=1), 22050)  # stereo, 22.05 kHz, 20 s
    short = tmp_path / "short.wav"
    write_tone(short, 0.3, 800)  # far shorter than one segment
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really")
    out = tmp_path / "detections"
    code = main(
        [
            "detect",
            str(new),
            str(broken),
            str(short),
            "--model",
            str(tiny_trained / "bundles/overlapping/proposed/bundle.pt"),
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and "broken.wav" in captured.err and "1 of 3 files failed" in captured.err
    assert sorted(p.name for p in out.iterdir()) == ["new_recording.tsv", "short.tsv"]
    assert "new_recording.flac: 20.0 s" in captured.out
    for line in (out / "new_recording.tsv").read_text().splitlines():
        onset, offset, label = line.split("\t")
        assert 0 <= float(onset) < float(offset) <= 20.1 and label in ("beep", "chirp", "knock")


def test_detect_scores_load_in_sed_scores_eval_and_evaluate_adds_psds(tiny_trained: Path, tmp_path: Path, capsys):
    from sed_scores_eval.base_modules.io import read_sed_scores

    from mtsed.data.datasets import load_dataset

    dataset = load_dataset(tiny_trained / "data/overlapping")
    recording = dataset.evaluation()[0]
    bundle = tiny_trained / "bundles/overlapping/proposed/bundle.pt"
    code = main(
        [
            "detect",
            str(dataset.audio_path(recording)),
            "--model",
            str(bundle),
            "--out",
            str(tmp_path / "events"),
            "--scores",
            str(tmp_path / "scores"),
        ]
    )
    assert code == 0
    scores = read_sed_scores(tmp_path / "scores")
    name = dataset.audio_path(recording).stem
    assert list(scores) == [name] and list(scores[name].columns) == ["onset", "offset", "beep", "chirp", "knock"]
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / f"{name}.tsv").write_text(
        "".join(f"{e.onset}\t{e.offset}\t{e.label}\n" for e in dataset.events(recording))
    )
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "ref"),
                str(tmp_path / "events"),
                "--scores",
                str(tmp_path / "scores"),
                "--json",
            ]
        )
        == 0
    )
    free = json.loads(capsys.readouterr().out)["threshold_free"]
    assert 0 <= free["psds1"] <= 1 and 0 <= free["psds2"] <= 1 and set(free["per_class"]) == {"beep", "chirp", "knock"}
    assert main(["evaluate", str(tmp_path / "ref"), str(tmp_path / "events"), "--scores", str(tmp_path / "none")]) == 2
    assert "no such folder of score files" in capsys.readouterr().err


def test_detect_a_folder_writes_mirrored_lists_and_one_combined_list(tiny_trained: Path, tmp_path: Path, capsys):
    from mtsed.io.events import read_event_list

    write_tone(tmp_path / "field" / "one.wav", 3.0, 500)
    write_tone(tmp_path / "field" / "day2" / "two.flac", 12.0, 900, sr=22050)
    (tmp_path / "field" / "day2" / "broken.wav").write_bytes(b"RIFF nope")
    out = tmp_path / "detections"
    code = main(
        [
            "detect",
            str(tmp_path / "field"),
            "--model",
            str(tiny_trained / "bundles/overlapping/baseline/bundle.pt"),
            "--out",
            str(out),
            "--combined",
            str(tmp_path / "all.tsv"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and "broken.wav" in captured.err and "1 of 3 files failed" in captured.err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.tsv")) == ["day2/two.tsv", "one.tsv"]
    assert (tmp_path / "all.tsv").read_text().startswith("filename\tonset\toffset\tevent_label\n")
    combined = read_event_list(tmp_path / "all.tsv")
    assert {e.file for e in combined} <= {"one.wav", "two.flac"}
    assert len(combined) == sum(len(read_event_list(p)) for p in out.rglob("*.tsv"))
    assert "2 files" in captured.out


def test_detect_streams_long_files_with_the_same_events(tiny_trained: Path, tmp_path: Path, capsys, monkeypatch):
    from mtsed.detection import files as batch
    from mtsed.features import streaming

    write_tone(tmp_path / "long.flac", 31.0, 700, sr=22050)
    bundle = str(tiny_trained / "bundles/overlapping/baseline/bundle.pt")
    assert main(["detect", str(tmp_path / "long.flac"), "--model", bundle, "--out", str(tmp_path / "whole")]) == 0
    monkeypatch.setattr(batch, "PREFETCH_SECONDS", 10.0)
    monkeypatch.setattr(streaming, "BLOCK_SECONDS", 2.0)
    capsys.readouterr()
    assert main(["detect", str(tmp_path / "long.flac"), "--model", bundle, "--out", str(tmp_path / "streamed")]) == 0
    assert "long.flac: 31.0 s" in capsys.readouterr().out
    assert (tmp_path / "streamed/long.tsv").read_text() == (tmp_path / "whole/long.tsv").read_text()


def test_detect_without_a_bundle_says_how_to_make_one(tmp_path: Path, capsys):
    assert main(["detect", "x.wav", "--model", str(tmp_path / "none.pt")]) == 2
    assert "make run" in capsys.readouterr().err


def test_detect_pages_show_a_users_files_with_the_events_written(tiny_trained: Path, tmp_path: Path, capsys):
    import re

    from mtsed.io.events import read_event_list

    write_tone(tmp_path / "field" / "one.wav", 3.0, 500)
    write_tone(tmp_path / "field" / "day2" / "two.flac", 12.0, 900, sr=22050)
    out, shown = tmp_path / "detections", tmp_path / "pages"
    code = main(
        [
            "detect",
            str(tmp_path / "field"),
            "--model",
            str(tiny_trained / "bundles/overlapping/proposed/bundle.pt"),
            "--out",
            str(out),
            "--pages",
            str(shown),
        ]
    )
    assert code == 0 and f"2 pages -> {shown / 'index.html'}" in capsys.readouterr().out
    assert sorted(p.name for p in shown.glob("*.html")) == ["day2_two.html", "index.html", "one.html"]
    html = (shown / "day2_two.html").read_text()
    assert 'src="../field/day2/two.flac"' in html and 'href="../detections/day2/two.tsv"' in html
    data = json.loads(re.search(r'id="page-data">(.*?)</script>', html, re.S).group(1).replace("<\\/", "</"))
    labels = data["labels"]
    written = [
        (round(e.onset, 4), round(e.offset, 4), labels.index(e.label)) for e in read_event_list(out / "day2/two.tsv")
    ]
    assert [tuple(e) for e in data["systems"][0]["events"]] == written and data["reference"] is None
    assert "one.html" in (shown / "index.html").read_text()
