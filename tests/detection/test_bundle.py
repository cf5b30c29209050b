"""Bundles saved by earlier code still load and detect the same (they hold weights and JSON, no module paths)."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mtsed.detection.bundle import load_bundle

OLD = Path(__file__).parent / "bundles-af04225"


@pytest.mark.parametrize("system", ["proposed", "multitask"])
def test_a_bundle_written_before_the_folder_move_detects_as_it_did(system: str):
    expected = json.loads((OLD / "expected.json").read_text())[system]
    bundle = load_bundle(OLD / f"{system}.pt")
    assert bundle.system == expected["system"]
    events, seconds = bundle.detect(OLD / "recording.flac")
    assert seconds == pytest.approx(4.0)
    assert [e.label for e in events] == [label for _, _, label in expected["events"]]
    assert [(e.onset, e.offset) for e in events] == [pytest.approx((on, off)) for on, off, _ in expected["events"]]
    audio, _ = sf.read(OLD / "recording.flac", dtype="float32")
    _, scores = bundle.analyse_audio(audio)
    np.testing.assert_allclose(scores, np.asarray(expected["scores"]), atol=2e-6)


def test_a_truncated_bundle_is_named_with_what_to_rerun(tmp_path: Path):
    truncated = tmp_path / "bundle.pt"
    truncated.write_bytes((OLD / "proposed.pt").read_bytes()[:5000])
    with pytest.raises(
        ValueError, match=r"bundle.pt: not a model bundle, or a damaged one .*dvc repro thresholds"
    ) as info:
        load_bundle(truncated)
    assert "\n" not in str(info.value)


def test_a_bundle_of_an_unknown_format_version_is_named_with_what_to_rerun(tmp_path: Path):
    import torch

    raw = torch.load(OLD / "proposed.pt", weights_only=True)
    meta = json.loads(raw["meta"])
    meta["format"] = "mtsed-bundle-99"
    torch.save({**raw, "meta": json.dumps(meta)}, tmp_path / "future.pt")
    with pytest.raises(ValueError, match=r"future.pt: unknown bundle format 'mtsed-bundle-99' .*dvc repro thresholds"):
        load_bundle(tmp_path / "future.pt")


def test_detect_on_a_damaged_bundle_prints_one_line(tmp_path: Path, capsys):
    from mtsed.cli.main import main

    (tmp_path / "bundle.pt").write_bytes(b"PK\x03\x04 not really")
    assert (
        main(
            [
                "detect",
                str(OLD / "recording.flac"),
                "--model",
                str(tmp_path / "bundle.pt"),
                "--out",
                str(tmp_path / "d"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bundle.pt: not a model bundle" in err[0] and "dvc repro thresholds" in err[0]
