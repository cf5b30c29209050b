from pathlib import Path

import pytest

from mtsed.config.layout import system_folders
from mtsed.config.systems import SYSTEMS


def test_each_system_reads_its_networks_outputs_and_its_own_bundle():
    folders = system_folders("overlapping", Path("o"), Path("b"), Path("m"))
    assert list(folders) == list(SYSTEMS)
    assert folders["multitask"] == (
        Path("o/overlapping/proposed"),
        Path("b/overlapping/multitask"),
        Path("m/overlapping/proposed"),
    )
    assert folders["baseline"] == (
        Path("o/overlapping/baseline"),
        Path("b/overlapping/baseline"),
        Path("m/overlapping/baseline"),
    )
    assert system_folders("isolated")["proposed"][0] == Path("outputs/isolated/proposed")  # the DVC layout by default


def test_an_unknown_set_is_named():
    with pytest.raises(ValueError, match="'overlaping'.*isolated, overlapping"):
        system_folders("overlaping")
