"""The stage functions chained on tiny generated clips: what DVC and Kubeflow run."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from mtsed.config import Params
from mtsed.data.datasets import load_dataset
from mtsed.data.default.clips import BACKGROUND, read_clip_manifest
from mtsed.data.default.mixing import ClipBank
from mtsed.data.default.synthetic import _pools
from mtsed.data.targets import Triplets, decode, event_frames
from mtsed.features.logmel import Standardiser
from mtsed.io.audio import AudioError
from mtsed.io.events import merge_overlaps
from mtsed.stages import preparation
from tests.conftest import TINY_LABELS


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture
def prepared(tiny_params: Params, tmp_path: Path) -> Path:
    preparation.clips(tiny_params.clips, set(TINY_LABELS), tmp_path / "data" / "clips", tmp_path / "cache")
    preparation.prepare(tiny_params.data, tiny_params.prepare, tmp_path / "data" / "clips", tmp_path / "data")
    return tmp_path


def test_prepare_builds_both_sets_deterministically(prepared: Path, tiny_params: Params):
    iso, ovl = load_dataset(prepared / "data/isolated"), load_dataset(prepared / "data/overlapping")
    assert [r.split for r in iso.recordings] == ["train", "train", "train", "test"]
    assert len(iso.folds()) == 3
    assert [len(ovl.by_split(s)) for s in ("train", "validation", "evaluation")] == [2, 1, 1]
    assert all(ovl.events(r) for r in ovl.recordings)
    summary = json.loads((prepared / "data/isolated/summary.json").read_text())
    assert summary["minutes"] == pytest.approx(4 * 12 / 60, abs=0.01)
    before = _digest(prepared / "data")
    preparation.prepare(tiny_params.data, tiny_params.prepare, prepared / "data" / "clips", prepared / "data")
    assert _digest(prepared / "data") == before


def test_no_clip_is_in_two_splits(prepared: Path, tiny_params: Params):
    bank = ClipBank(prepared / "data/clips", read_clip_manifest(prepared / "data/clips"), 44100)
    pools = _pools(bank, TINY_LABELS, [2.0, 1.0, 1.0], tiny_params.prepare.seed)
    for role in (*TINY_LABELS, BACKGROUND):
        files = [c.file for pool in pools for c in pool[role]]
        assert len(files) == len(set(files)) == len(bank.by_role[role])


def test_features_and_targets_line_up(prepared: Path, tiny_params: Params):
    data, feats, targs = prepared / "data/overlapping", prepared / "features", prepared / "targets"
    metrics = preparation.features(tiny_params.features, data, feats)
    assert metrics["recordings"] == 4
    preparation.targets(tiny_params.features, tiny_params.targets, data, feats, targs)
    dataset = load_dataset(data)
    manifest = json.loads((feats / "manifest.json").read_text())
    for entry in manifest["recordings"]:
        features = np.load(feats / entry["file"], mmap_mode="r")
        targets = np.load(targs / entry["file"], mmap_mode="r")
        assert isinstance(features, np.memmap)
        assert features.shape == (entry["frames"], 40) and targets.shape == (entry["frames"], 3 * len(TINY_LABELS))
        recording = next(r for r in dataset.recordings if r.id == entry["id"])
        decoded = decode(Triplets.unstack(np.asarray(targets)), dataset.labels, 0.02, 64)
        expected = merge_overlaps(dataset.events(recording))
        assert [(e.label, *event_frames(e, 0.02)) for e in decoded] == [
            (e.label, *event_frames(e, 0.02)) for e in expected
        ]


def test_standardisation_is_fitted_on_training_recordings_only(prepared: Path, tiny_params: Params):
    data, feats = prepared / "data/isolated", prepared / "features"
    preparation.features(tiny_params.features, data, feats)
    stats = json.loads((feats / "stats.json").read_text())
    manifest = json.loads((feats / "manifest.json").read_text())
    assert set(stats) == {"0", "1", "2"}
    for name, fold in manifest["folds"].items():
        expected = Standardiser.fit(np.load(feats / f"{rid}.npy") for rid in fold["train"])
        np.testing.assert_allclose(stats[name]["mean"], expected.mean, rtol=1e-6)
        assert "session-04" not in fold["train"] + fold["validation"]


def test_a_failing_stage_keeps_the_previous_output(prepared: Path, tiny_params: Params):
    data, feats = prepared / "data/isolated", prepared / "features"
    preparation.features(tiny_params.features, data, feats)
    before = _digest(feats)
    (data / "audio/session-02.wav").write_bytes(b"broken")
    with pytest.raises(AudioError, match="session-02.wav"):
        preparation.features(tiny_params.features, data, feats)
    assert _digest(feats) == before
    assert sorted(p.name for p in prepared.iterdir() if p.name.startswith(".")) == []
