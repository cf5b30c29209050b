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
