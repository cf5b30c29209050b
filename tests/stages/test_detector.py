"""Ensemble, threshold and evaluation stages on the tiny trained workspace."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mtsed.config.systems import SYSTEMS, network_of
from mtsed.detection.bundle import load_bundle
from mtsed.model.training import load_checkpoint
from mtsed.stages import detector, evaluation


def _systems(root: Path, name: str) -> dict:
    return {
        s: (
            root / "outputs" / name / network_of(s),
            root / "bundles" / name / s,
            root / "models" / name / network_of(s),
        )
        for s in SYSTEMS
    }


def test_ensemble_outputs_are_out_of_fold_and_stacked(tiny_trained: Path):
    out = tiny_trained / "outputs" / "isolated" / "proposed"
    manifest = json.loads((out / "manifest.json").read_text())
    features = json.loads((tiny_trained / "features/isolated/manifest.json").read_text())
    assert manifest["validation"] == {rid: f for f, split in features["folds"].items() for rid in split["validation"]}
    rid = manifest["evaluation"][0]
    stacked = np.load(out / "evaluation" / f"{rid}.npy")
    frames = next(r["frames"] for r in features["recordings"] if r["id"] == rid)
    assert stacked.shape == (3, frames, 9) and 0 <= stacked.min() and stacked.max() <= 1
    trained_on = {
        rid: sorted(f for f, split in features["folds"].items() if rid in split["train"])
        for rid in manifest["training"]
    }
    assert manifest["training"] == trained_on and all(len(folds) == 2 for folds in trained_on.values())  # 3 LOSO folds
    assert np.load(out / "training" / f"{next(iter(trained_on))}.npy").shape[0] == 2


def test_bundle_holds_every_fold_and_the_searched_thresholds(tiny_trained: Path):
    bundle = load_bundle(tiny_trained / "bundles" / "isolated" / "proposed" / "bundle.pt")
    assert [f.name for f in bundle.folds] == ["0", "1", "2"] and bundle.labels == ("beep", "chirp", "knock")
    assert all(0 <= a <= 1 for a in bundle.alpha) and all(0 <= b <= 1 for b in bundle.second)
    assert bundle.decoder == "confidence-region" and bundle.fixed == (0.5, 0.5)
    assert all(f.norm == () and f.fixed_norm == () for f in bundle.folds)  # region votes need no constant
    best = load_checkpoint(tiny_trained / "models/isolated/proposed/fold-1/best.pt")
    for key, value in best["model"].items():
        assert np.array_equal(bundle.folds[1].weights[key].numpy(), value.numpy())
    saved = json.loads((tiny_trained / "bundles/isolated/proposed/thresholds.json").read_text())
    assert saved["alpha"] == list(bundle.alpha) and set(saved["validation_f1"]) == set(bundle.labels)
    baseline = load_bundle(tiny_trained / "bundles" / "isolated" / "baseline" / "bundle.pt")
    assert baseline.decoder == "activity" and all(int(w) % 6 == 1 for w in baseline.second)  # windows 1, 7, ..., 253
    variants = json.loads((tiny_trained / "bundles/isolated/proposed/variants.json").read_text())
    assert set(variants) == {"confidence-mean", "bounded", "activity", "confidence-region:paper"}
    rules = saved["selection_rules"]  # the smoothed rule chosen, the paper's reported beside it
    assert set(rules) == {"paper", "smoothed"} and all("held_out_class_average_f1" in r for r in rules.values())
    assert rules["smoothed"]["validation_class_average_f1"] == saved["validation_class_average_f1"]
    in_sample = {name: r["validation_class_average_f1"] for name, r in rules.items()}
    assert in_sample["paper"] >= in_sample["smoothed"]  # each class's raw peak is the in-sample best
    assert variants["confidence-region:paper"]["decoder"] == "confidence-region"


def test_multitask_keeps_each_class_s_best_candidate(tiny_trained: Path):
    folder = tiny_trained / "bundles/isolated/multitask"
    bundle, chosen = load_bundle(folder / "bundle.pt"), json.loads((folder / "thresholds.json").read_text())
    others = json.loads((folder / "variants.json").read_text())
    candidates = {"bounded", "capped-8", "activity"}
    assert bundle.system == "multitask" and bundle.decoder == chosen["decoder"]
    per_class = [d.name for d in bundle.decoders_by_class]
    assert set(per_class) <= candidates and set(others) | ({chosen["decoder"]} - {"per-class"}) == candidates
    everything = {**others, **({} if chosen["decoder"] == "per-class" else {chosen["decoder"]: chosen})}
    for label, name in zip(bundle.labels, per_class):  # each class carries its own candidate's validation F1
        assert chosen["validation_f1"][label] == everything[name]["validation_f1"][label]
    proposed = load_bundle(tiny_trained / "bundles/isolated/proposed/bundle.pt")
    assert [f.name for f in bundle.folds] == [f.name for f in proposed.folds]  # the same network's fold models


def test_a_per_class_bundle_decodes_each_class_as_its_own_decoder_does(tiny_trained: Path, tmp_path: Path):
    root = tiny_trained / "bundles/isolated"
    proposed = load_bundle(root / "proposed/bundle.pt")
    variants = json.loads((root / "proposed/variants.json").read_text())
    paper = json.loads((root / "proposed/thresholds.json").read_text())
    bounded = proposed.with_thresholds(variants["bounded"])
    n = len(proposed.labels)
    own = paper["decoder"]
    names = [own if c % 2 else "bounded" for c in range(n)]
    picked = [paper if name == own else variants["bounded"] for name in names]
    second = [c["beta"][k] if name == own else c["median_window"][k] for k, (name, c) in enumerate(zip(names, picked))]
    norm = {f: [c["norm"][f][k] if f in c["norm"] else 1.0 for k, c in enumerate(picked)] for f in paper["norm"]}
    fixed_norm = {
        f: [c["fixed_norm"][f][k] if f in c["fixed_norm"] else 1.0 for k, c in enumerate(picked)]
        for f in paper["fixed_norm"]
    }
    mixed = proposed.with_thresholds(
        {
            "decoder": "per-class",
            "class_decoders": names,
            "norm": norm,
            "fixed_norm": fixed_norm,
            "alpha": [c["alpha"][k] for k, c in enumerate(picked)],
            "second": second,
        }
    )
    mixed.save(tmp_path / "bundle.pt")
    loaded = load_bundle(tmp_path / "bundle.pt")
    assert loaded.class_decoders == tuple(names) and loaded.summary.startswith("per-class")
    outputs = tiny_trained / "outputs/isolated/proposed"
    rid = json.loads((outputs / "manifest.json").read_text())["evaluation"][0]
    folds = list(np.load(outputs / "evaluation" / f"{rid}.npy"))
    for chosen in (loaded, loaded.with_fixed_thresholds()):
        singles = (
            (proposed, bounded)
            if chosen is loaded
            else (proposed.with_fixed_thresholds(), bounded.with_fixed_thresholds())
        )
        events, scores = chosen.decode(folds)
        for c, label in enumerate(proposed.labels):
            single = singles[0] if names[c] == own else singles[1]
            own_events, own_scores = single.decode(folds)
            assert [e for e in events if e.label == label] == [e for e in own_events if e.label == label]
            np.testing.assert_array_equal(scores[:, c], own_scores[:, c])


def test_a_system_must_read_its_own_network(tiny_trained: Path, tmp_path: Path):
    from mtsed.config import load_params

    params = load_params(tiny_trained / "params.yaml")
    with pytest.raises(ValueError, match="system 'multitask' reads 'proposed'"):
        detector.thresholds(
            params.features,
            params.thresholds,
            tiny_trained / "data/isolated",
            tiny_trained / "outputs/isolated/baseline",
            tiny_trained / "models/isolated/baseline",
            tmp_path / "out",
            "multitask",
        )


def test_bundle_on_raw_features_equals_the_stored_ensemble_outputs(tiny_trained: Path):
    bundle = load_bundle(tiny_trained / "bundles" / "overlapping" / "proposed" / "bundle.pt")
    out = tiny_trained / "outputs" / "overlapping" / "proposed"
    rid = json.loads((out / "manifest.json").read_text())["evaluation"][0]
    fresh = bundle.fold_outputs(np.load(tiny_trained / "features/overlapping" / f"{rid}.npy"))
    np.testing.assert_allclose(np.stack(fresh), np.load(out / "evaluation" / f"{rid}.npy"), atol=1e-6)


def test_evaluate_writes_tables_lists_and_plots(tiny_trained: Path, tmp_path: Path):
    root = tiny_trained
    systems = _systems(root, "isolated")
    metrics = evaluation.evaluate(
        root / "data/isolated", root / "features/isolated", root / "targets/isolated", systems, tmp_path / "report"
    )
    assert set(metrics) == {"proposed", "baseline", "multitask", "study", "variants", "miss_reasons"}
    assert set(metrics["proposed"]) == {"overall", "class_average", "per_class", "segment_based", "threshold_free"}
    table = (tmp_path / "report/table.md").read_text()
    assert all(
        label in table
        for label in (
            "beep",
            "chirp",
            "knock",
            "class average",
            "overall",
            "proposed F1",
            "ITC-Irst protocol",
            "event F1 fixed",
            "proposed:bounded",
            "proposed segment F1",
            "PSDS1",
            "PSDS2",
            "Where the distance head errs",
            "Why reference events are missed",
            "multitask F1",
        )
    )
    study = metrics["study"]
    assert (
        set(study["proposed"]) == {"evaluation", "training"}
        and study["proposed"]["training"]["onset_error_frames"] is not None
    )
    assert (
        study["baseline"]["evaluation"]["onset_error_frames"] is None
        and 0 <= study["baseline"]["training"]["frame_f1"] <= 1
    )
    assert study["proposed"]["evaluation"]["searched"]["overall"] == {
        k: metrics["proposed"]["overall"][k] for k in ("f1", "er")
    }
    results = json.loads((tmp_path / "report/table.json").read_text())
    assert results["baseline"]["overall"]["er"] == metrics["baseline"]["overall"]["er"]
    assert metrics["proposed"]["per_class"]["beep"] == {
        k: results["proposed"]["per_class"]["beep"][k] for k in ("f1", "er")
    }
    for name in ("f1_per_class.png", "detection.png", "training_proposed.png", "training_baseline.png"):
        assert (tmp_path / "report" / name).read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "report/training_multitask.png").exists()  # the proposed network's curves
    assert study["multitask"]["evaluation"]["frame_f1"] == study["proposed"]["evaluation"]["frame_f1"]
    binned = study["proposed"]["training"]["distance_errors"]["onset"]
    assert set(binned) == {"0-5", "5-20", "20-100", "over-100"} and sum(b["frames"] for b in binned.values()) > 0
    from mtsed.adapters.tracking import numeric_metrics

    names = numeric_metrics(metrics)
    assert names and all(re.fullmatch(r"[/\w.\- :]+", name) for name in names)  # what MLflow accepts as metric names
    from mtsed.data.datasets import load_dataset

    dataset = load_dataset(root / "data/isolated")
    misses = metrics["miss_reasons"]["baseline"]
    assert set(misses) == {"beep", "chirp", "knock"}
    assert sum(sum(c.values()) for c in misses.values()) == sum(len(dataset.events(r)) for r in dataset.evaluation())
    assert sorted(p.name for p in (tmp_path / "report/estimated/proposed").iterdir()) == ["session-04.tsv"]


def test_evaluate_scores_segments_and_psds_as_the_libraries_do(tiny_trained: Path, tmp_path: Path):
    """Segment-based figures equal sed_eval's on the written event lists; PSDS equals
    sed_scores_eval's on the written score files (read back by sed_scores_eval itself)."""
    import sed_eval
    import soundfile as sf
    from sed_scores_eval import intersection_based
    from sed_scores_eval.base_modules.io import read_sed_scores

    from mtsed.data.datasets import load_dataset
    from mtsed.evaluation import threshold_free
    from mtsed.io.events import merge_overlaps, read_event_list

    root = tiny_trained
    systems = _systems(root, "overlapping")
    metrics = evaluation.evaluate(
        root / "data/overlapping",
        root / "features/overlapping",
        root / "targets/overlapping",
        systems,
        tmp_path / "report",
    )
    dataset = load_dataset(root / "data/overlapping")
    labels = list(dataset.labels)
    for system in SYSTEMS:
        segments = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=labels, time_resolution=1.0)
        truth, durations = {}, {}
        for recording in dataset.evaluation():

            def as_items(events: list, file: str = recording.id) -> list[dict]:
                return [{"file": file, "event_label": e.label, "onset": e.onset, "offset": e.offset} for e in events]

            estimated = read_event_list(tmp_path / "report/estimated" / system / f"{recording.id}.tsv")
            durations[recording.id] = sf.info(str(dataset.audio_path(recording))).duration
            segments.evaluate(
                as_items(dataset.events(recording)),
                as_items(estimated),
                evaluated_length_seconds=durations[recording.id],
            )
            truth[recording.id] = [(e.onset, e.offset, e.label) for e in merge_overlaps(dataset.events(recording))]
        expected = segments.results()
        got = metrics[system]["segment_based"]
        nan = lambda value: float("nan") if value is None else value  # noqa: E731  (undefined scores are None)
        assert nan(got["overall"]["f1"]) == pytest.approx(expected["overall"]["f_measure"]["f_measure"], nan_ok=True)
        assert nan(got["overall"]["er"]) == pytest.approx(expected["overall"]["error_rate"]["error_rate"], nan_ok=True)
        assert nan(got["class_average"]["er"]) == pytest.approx(
            expected["class_wise_average"]["error_rate"]["error_rate"], nan_ok=True
        )
        scores = {
            rid: threshold_free.quantised(frame, labels)
            for rid, frame in read_sed_scores(tmp_path / "report/scores" / system).items()
        }
        assert set(scores) == set(truth)
        psds1 = intersection_based.psds(
            scores, truth, durations, dtc_threshold=0.7, gtc_threshold=0.7, alpha_ct=0.0, alpha_st=1.0, max_efpr=100.0
        )[0]
        psds2 = intersection_based.psds(
            scores,
            truth,
            durations,
            dtc_threshold=0.1,
            gtc_threshold=0.1,
            cttc_threshold=0.3,
            alpha_ct=0.5,
            alpha_st=1.0,
            max_efpr=100.0,
        )[0]
        assert metrics[system]["threshold_free"]["psds1"] == pytest.approx(psds1, abs=1e-6)
        assert metrics[system]["threshold_free"]["psds2"] == pytest.approx(psds2, abs=1e-6)


def test_a_bundle_written_before_per_class_decoders_still_loads(tiny_trained: Path, tmp_path: Path):
    import torch

    path = tiny_trained / "bundles/isolated/baseline/bundle.pt"
    raw = torch.load(path, map_location="cpu", weights_only=True)
    meta = json.loads(raw["meta"])
    meta["format"] = "mtsed-bundle-2"
    for fold in meta["folds"]:
        fold["spec"].pop("distances", None)  # written before the distance encoding was recorded
    torch.save({"meta": json.dumps(meta), "weights": raw["weights"]}, tmp_path / "old.pt")
    old, new = load_bundle(tmp_path / "old.pt"), load_bundle(path)
    assert old.alpha == new.alpha and old.second == new.second and old.summary == "activity"
    meta["format"] = "mtsed-bundle-9"
    torch.save({"meta": json.dumps(meta), "weights": raw["weights"]}, tmp_path / "future.pt")
    with pytest.raises(ValueError, match="future.pt: unknown bundle format 'mtsed-bundle-9'"):
        load_bundle(tmp_path / "future.pt")


def test_features_of_other_settings_are_named_with_the_stage_to_rerun(tiny_trained: Path, tmp_path: Path):
    import shutil

    from mtsed.io.fileio import write_npy

    features = tmp_path / "isolated"
    shutil.copytree(tiny_trained / "features/isolated", features)
    manifest = json.loads((features / "manifest.json").read_text())
    rid = manifest["recordings"][0]["id"]
    write_npy(features / f"{rid}.npy", np.zeros((50, 7), np.float32))  # 7 mel bands, not the networks' n_mels
    with pytest.raises(
        ValueError, match=rf"{rid}.npy: shape \(50, 7\), expected \(frames, \d+\); rerun `dvc repro features@isolated`"
    ):
        detector.ensemble(features, tiny_trained / "models/isolated/proposed", tmp_path / "outputs")
