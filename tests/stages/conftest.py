"""What the data-stage tests share: the tiny clips and both sets prepared from them."""

import hashlib
from pathlib import Path

import pytest

from mtsed.config import Params
from mtsed.stages import clips, prepare
from tests.conftest import TINY_LABELS


def digest(folder: Path) -> str:
    """One hash of every file's name and bytes under ``folder``."""
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture
def prepared(tiny_params: Params, tmp_path: Path) -> Path:
    clips.clips(tiny_params.clips, set(TINY_LABELS), tmp_path / "data" / "clips", tmp_path / "cache")
    prepare.prepare(tiny_params.data, tiny_params.prepare, tmp_path / "data" / "clips", tmp_path / "data")
    return tmp_path
