from pathlib import Path

import pytest
import yaml

from mtsed.config import ConfigError, load_params, params_from_dict
from tests.conftest import REPO


def _raw() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_repository_params_load_into_frozen_dataclasses():
    params = load_params(REPO / "params.yaml")
    assert params.features.n_mels == 40
    assert params.features.win_length == 1764 and params.features.hop_length == 882
    assert params.features.frame_seconds == pytest.approx(0.02)
    assert params.targets.segment_frames == 512
    assert isinstance(params.prepare.overlapping.labels, tuple)
    with pytest.raises(AttributeError):
        params.features.n_mels = 64  # type: ignore[misc]


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda r: r["features"].update(n_melz=40), "features.n_melz"),
        (lambda r: r.update(trainn={}), "trainn"),
        (lambda r: r["features"].update(hop_length=5000), "features.hop_length"),
        (lambda r: r["features"].update(fmax=30000.0), "features.fmax"),
        (lambda r: r["features"].update(n_mels="forty"), "features.n_mels"),
        (lambda r: r["prepare"]["isolated"].update(snr_db=[10, 0]), "prepare.isolated.snr_db"),
        (lambda r: r["prepare"]["overlapping"].update(mixtures=[3, 0, 1]), "prepare.overlapping.mixtures"),
        (lambda r: r["prepare"]["isolated"].update(test_sessions=5), "prepare.isolated.test_sessions"),
        (lambda r: r["clips"].update(source="web"), "clips.source"),
        (lambda r: r["prepare"].pop("seed"), "prepare.seed"),
        (lambda r: r["targets"].update(segment_frames=True), "targets.segment_frames"),
        (lambda r: r["train"].update(distance_targets="segment"), "train.distance_targets"),
        (lambda r: r["train"].update(sampling="hop"), "train.sampling"),
        (lambda r: r["train"]["loss_weights"].update(classification=0.0), "train.loss_weights.classification"),
        (lambda r: r["train"]["augment"].update(remix=1.5), "train.augment.remix"),
        (lambda r: r["train"].update(distance_targets="recording"), "train.augment.remix"),
        (lambda r: r["thresholds"].update(variants=["magic"]), "thresholds.variants"),
        (lambda r: r["thresholds"].update(smoothing=[-1, 0]), "thresholds.smoothing"),
        (lambda r: r["data"]["overlapping"].update(source="tut-sed-synthetic-2016"), "data.overlapping.root"),
        (lambda r: r["data"]["isolated"].update(source="dcase"), "data.isolated.source"),
        (lambda r: r["data"]["isolated"].update(source="itc-irst", root="/x"), "data.isolated.test_sessions"),
        (lambda r: r["clips"].update(extra_packages="0ad-data"), "clips.extra_packages"),
        (lambda r: r["prepare"]["isolated"].update(speed_variation=0.7), "prepare.isolated.speed_variation"),
    ],
)
def test_bad_values_are_rejected_naming_the_key(mutate, key):
    raw = _raw()
    mutate(raw)
    with pytest.raises(ConfigError) as info:
        params_from_dict(raw)
    assert info.value.key == key
    assert f"'{key}'" in str(info.value)


def test_missing_or_malformed_file_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("features: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_params(bad)


def test_real_sets_relax_the_fold_list_to_the_sessions_on_disk():
    raw = _raw()
    raw["data"]["isolated"] = {
        "source": "itc-irst",
        "root": "/data/itc",
        "test_sessions": ["s10", "s11", "s12"],
        "labels": [],
    }
    raw["train"]["folds"]["isolated"] = list(range(9))
    params = params_from_dict(raw)
    assert params.train.folds.isolated == tuple(range(9))
    assert "laugh" not in params.generated_labels() and "gun_shot" in params.generated_labels()
    raw["train"]["folds"]["isolated"] = [0, 2]
    with pytest.raises(ConfigError, match="0, 1, ..."):
        params_from_dict(raw)


def test_every_default_in_code_equals_params_yaml():
    """params.yaml is the only source of a recipe; the dataclasses' defaults (for code that builds
    a section directly) must say the same, field by field and for whole nested sections."""
    import dataclasses
    import typing

    import yaml

    from mtsed.config import Params, _convert

    differ = []

    def walk(cls: type, mapping: dict, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            key = f"{prefix}.{field.name}".lstrip(".")
            if field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING:
                default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
                if default != _convert(hints[field.name], mapping[field.name], key):
                    differ.append(key)
            if dataclasses.is_dataclass(hints[field.name]):
                walk(hints[field.name], mapping[field.name], key)

    walk(Params, yaml.safe_load((REPO / "params.yaml").read_text()), "")
    assert differ == []


def test_a_deleted_line_is_an_error_naming_its_key():
    import yaml

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    del raw["train"]["loss_weights"]["distance"]
    with pytest.raises(ConfigError, match=r"'train.loss_weights.distance' is missing"):
        params_from_dict(raw)
