"""The stage runner: its option table, one stage run end to end, and no way back to the CLI."""

import json
from pathlib import Path

import pytest
import yaml

from mtsed.adapters.runner import STAGES, run_stage
from mtsed.config import params_from_dict
from tests.conftest import REPO, tiny_params_dict


def test_options_get_defaults_and_bad_ones_are_named():
    train = STAGES["train"]
    with pytest.raises(ValueError, match="option 'fold' is required"):
        train.options_from({"features": "f", "targets": "t", "network": "baseline", "out": "o"})
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['folds'\]"):
        train.options_from(
            {"features": "f", "targets": "t", "fold": "0", "folds": "1", "network": "baseline", "out": "o"}
        )
    with pytest.raises(ValueError, match="network must be one of"):
        train.options_from({"features": "f", "targets": "t", "fold": "0", "network": "multitask", "out": "o"})
    evaluate = STAGES["evaluate-set"].options_from(
        {"data": "data/overlapping", "features": "f", "targets": "t", "out": "r"}
    )
    assert (evaluate.outputs, evaluate.bundles, evaluate.models) == ("outputs", "bundles", "models")
    assert STAGES["clips"].options_from({}).cache_dir.endswith("debs")  # a default computed when asked


def test_a_stage_runs_with_typed_params_and_writes_its_metrics(tmp_path: Path, clip_folder: Path, capsys, monkeypatch):
    monkeypatch.setenv("MTSED_TRACKING", "off")
    params = params_from_dict(tiny_params_dict(clip_folder))
    metrics = run_stage(
        "clips", params, {"out": str(tmp_path / "clips"), "cache_dir": str(tmp_path / "cache")}, tmp_path / "m.json"
    )
    assert metrics["clips"] == 16 and json.loads((tmp_path / "m.json").read_text()) == metrics
    assert json.loads(capsys.readouterr().out) == metrics
    assert (tmp_path / "clips" / "clips.tsv").is_file()


def test_dvc_chains_the_runners_stages_in_its_order():
    """dvc.yaml is where DVC chains the stages; it runs every stage of the table, in the table's order."""
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    called = []
    for stage in dvc.values():
        words = (stage.get("cmd") or stage["do"]["cmd"]).split()
        name = next(w for w in words[1:] if not w.startswith("-") and w in STAGES)
        if not called or called[-1] != name:
            called.append(name)
    assert called == list(STAGES)
