"""The targets stage: triplets that line up with the features and decode to the annotations."""

import json
from pathlib import Path

import numpy as np

from mtsed.config import Params
from mtsed.data.datasets import load_dataset
from mtsed.data.targets import Triplets, decode, event_frames
from mtsed.io.events import merge_overlaps
from mtsed.stages import features, targets
from tests.conftest import TINY_LABELS


def test_features_and_targets_line_up(prepared: Path, tiny_params: Params):
    data, feats, targs = prepared / "data/overlapping", prepared / "features", prepared / "targets"
    metrics = features.features(tiny_params.features, data, feats)
    assert metrics["recordings"] == 4
    targets.targets(tiny_params.features, tiny_params.targets, data, feats, targs)
    dataset = load_dataset(data)
    manifest = json.loads((feats / "manifest.json").read_text())
    for entry in manifest["recordings"]:
        frames = np.load(feats / entry["file"], mmap_mode="r")
        triplets = np.load(targs / entry["file"], mmap_mode="r")
        assert isinstance(frames, np.memmap)
        assert frames.shape == (entry["frames"], 40) and triplets.shape == (entry["frames"], 3 * len(TINY_LABELS))
        recording = next(r for r in dataset.recordings if r.id == entry["id"])
        decoded = decode(Triplets.unstack(np.asarray(triplets)), dataset.labels, 0.02, 64)
        expected = merge_overlaps(dataset.events(recording))
        assert [(e.label, *event_frames(e, 0.02)) for e in decoded] == [
            (e.label, *event_frames(e, 0.02)) for e in expected
        ]
