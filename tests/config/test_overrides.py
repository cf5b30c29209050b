"""Overrides and presets edit params.yaml text and validate it; presets print as `dvc exp run` arguments."""

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mtsed.cli.main import main
from mtsed.config import ConfigError, params_from_dict
from mtsed.config.overrides import apply_preset, read_preset, with_overrides
from tests.conftest import REPO


@pytest.mark.parametrize("name", sorted(p.stem for p in (REPO / "presets").glob("*.yaml")))
def test_every_preset_gives_valid_params(name):
    params = params_from_dict(yaml.safe_load(apply_preset((REPO / "params.yaml").read_text(), name, REPO / "presets")))
    if name == "paper":
        assert (params.model.filters, params.model.hidden, params.train.batch_size) == (256, 256, 4)
        assert params.train.learning_rate == 1e-4 and params.train.windows_per_epoch == 0
        assert (params.train.epochs.isolated, params.train.epochs.overlapping) == (100, 10)
        assert not params.train.augment.active
    assert all(" " not in item for item in read_preset(name, REPO / "presets"))  # one shell word each


def test_preset_command_prints_set_param_arguments(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["preset", "long"]) == 0
    words = capsys.readouterr().out.split()
    assert words[0] == "-S" and "train.epochs.overlapping=40" in words


def test_a_bad_preset_is_named(tmp_path):
    (tmp_path / "typo.yaml").write_text("train.epochz: 3\n")
    with pytest.raises(ConfigError, match="train.epochz"):
        apply_preset((REPO / "params.yaml").read_text(), "typo", tmp_path)
    with pytest.raises(ConfigError, match="no preset 'nope'.*typo"):
        read_preset("nope", tmp_path)


def test_overrides_edit_and_validate_params():
    text = (REPO / "params.yaml").read_text()
    edited = yaml.safe_load(with_overrides(text, ["model.hidden=256", "train.epochs.isolated=100"]))
    assert edited["model"]["hidden"] == 256 and edited["train"]["epochs"]["isolated"] == 100
    with pytest.raises(ConfigError, match="model.hiden"):
        with_overrides(text, ["model.hiden=3"])
    with pytest.raises(ConfigError, match="model.hidden"):
        with_overrides(text, ["model.hidden=-1"])
    with pytest.raises(ConfigError, match="key.sub=value"):
        with_overrides(text, ["model.hidden"])


def _dotted_keys(node: dict, prefix: str = "") -> list[str]:
    keys = []
    for name, value in node.items():
        keys.append(f"{prefix}{name}")
        if isinstance(value, dict):
            keys += _dotted_keys(value, f"{prefix}{name}.")
    return keys


PARAMS_TEXT = (REPO / "params.yaml").read_text()
KNOWN_KEYS = _dotted_keys(yaml.safe_load(PARAMS_TEXT))
SEGMENT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="=\n"), max_size=8)


@settings(max_examples=300, deadline=None)
@given(
    key=st.one_of(
        st.sampled_from(KNOWN_KEYS),
        st.lists(SEGMENT, min_size=1, max_size=4).map(".".join).filter(bool),
        st.sampled_from(KNOWN_KEYS).flatmap(lambda k: SEGMENT.map(lambda s: f"{k}.{s}")),
    ),
    value=st.one_of(
        st.text(max_size=20),
        st.sampled_from(
            ["[", "{a: 1", "- x", "1e999", "-1", "0", "null", "[1, 2]", "{}", "true", "'", "!!python/object:x {}", "*a"]
        ),
    ),
)
def test_any_override_gives_valid_params_or_a_config_error_naming_a_key(key: str, value: str):
    try:
        params_from_dict(yaml.safe_load(with_overrides(PARAMS_TEXT, [f"{key}={value}"])))
    except ConfigError as error:
        assert error.key, str(error)
        assert f"'{error.key}'" in str(error)
        if key not in KNOWN_KEYS:
            assert error.key == key  # an unknown key is named as given
