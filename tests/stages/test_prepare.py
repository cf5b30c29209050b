"""The clips and prepare stages on tiny generated clips: both sets, the same every run."""

import json
from pathlib import Path

import pytest

from mtsed.config import Params
from mtsed.data.datasets import load_dataset
from mtsed.data.default.clips import BACKGROUND, read_clip_manifest
from mtsed.data.default.mixing import ClipBank
from mtsed.data.default.synthetic import _pools
from mtsed.stages import prepare
from tests.conftest import TINY_LABELS
from tests.stages.conftest import digest


def test_prepare_builds_both_sets_deterministically(prepared: Path, tiny_params: Params):
    iso, ovl = load_dataset(prepared / "data/isolated"), load_dataset(prepared / "data/overlapping")
    assert [r.split for r in iso.recordings] == ["train", "train", "train", "test"]
    assert len(iso.folds()) == 3
    assert [len(ovl.by_split(s)) for s in ("train", "validation", "evaluation")] == [2, 1, 1]
    assert all(ovl.events(r) for r in ovl.recordings)
    summary = json.loads((prepared / "data/isolated/summary.json").read_text())
    assert summary["minutes"] == pytest.approx(4 * 12 / 60, abs=0.01)
    before = digest(prepared / "data")
    prepare.prepare(tiny_params.data, tiny_params.prepare, prepared / "data" / "clips", prepared / "data")
    assert digest(prepared / "data") == before


def test_no_clip_is_in_two_splits(prepared: Path, tiny_params: Params):
    bank = ClipBank(prepared / "data/clips", read_clip_manifest(prepared / "data/clips"), 44100)
    pools = _pools(bank, TINY_LABELS, [2.0, 1.0, 1.0], tiny_params.prepare.seed)
    for role in (*TINY_LABELS, BACKGROUND):
        files = [c.file for pool in pools for c in pool[role]]
        assert len(files) == len(set(files)) == len(bank.by_role[role])
