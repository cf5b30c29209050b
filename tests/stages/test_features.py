"""The features stage: memory-mappable log-mel features and per-fold statistics."""

import json
from pathlib import Path

import numpy as np
import pytest

from mtsed.config import Params
from mtsed.features.logmel import Standardiser
from mtsed.io.audio import AudioError
from mtsed.stages import features
from tests.stages.conftest import digest


def test_standardisation_is_fitted_on_training_recordings_only(prepared: Path, tiny_params: Params):
    data, feats = prepared / "data/isolated", prepared / "features"
    features.features(tiny_params.features, data, feats)
    stats = json.loads((feats / "stats.json").read_text())
    manifest = json.loads((feats / "manifest.json").read_text())
    assert set(stats) == {"0", "1", "2"}
    for name, fold in manifest["folds"].items():
        expected = Standardiser.fit(np.load(feats / f"{rid}.npy") for rid in fold["train"])
        np.testing.assert_allclose(stats[name]["mean"], expected.mean, rtol=1e-6)
        assert "session-04" not in fold["train"] + fold["validation"]


def test_a_failing_stage_keeps_the_previous_output(prepared: Path, tiny_params: Params):
    data, feats = prepared / "data/isolated", prepared / "features"
    features.features(tiny_params.features, data, feats)
    before = digest(feats)
    (data / "audio/session-02.wav").write_bytes(b"broken")
    with pytest.raises(AudioError, match="session-02.wav"):
        features.features(tiny_params.features, data, feats)
    assert digest(feats) == before
    assert sorted(p.name for p in prepared.iterdir() if p.name.startswith(".")) == []
