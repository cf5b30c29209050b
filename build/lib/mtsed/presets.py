"""Presets: named sets of ``params.yaml`` overrides (``presets/<name>.yaml``).

A preset file maps dotted keys to values.  ``make run PRESET=name`` hands them to
``dvc exp run --set-param`` (DVC records the experiment and keeps params.yaml's comments);
``mtsed pipeline submit|compile|local --preset name`` applies them to the Kubeflow run.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from mtsed.config import ConfigError

PRESETS_DIR = Path("presets")


def preset_path(name: str, folder: Path = PRESETS_DIR) -> Path:
    path = Path(folder) / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in Path(folder).glob("*.yaml"))
        raise ConfigError("", f"no preset {name!r} ({path} does not exist; presets: {', '.join(known) or 'none'})")
    return path


def read_preset(name: str, folder: Path = PRESETS_DIR) -> list[str]:
    """The preset's overrides as ``key=value`` items, each value compact YAML (no spaces)."""
    path = preset_path(name, folder)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError("", f"{path} is not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError("", f"{path} must map dotted keys to values")
    return [f"{key}={json.dumps(value, separators=(',', ':'))}" for key, value in raw.items()]


def apply_preset(params_yaml: str, name: str, folder: Path = PRESETS_DIR) -> str:
    """``params.yaml`` text with the preset applied and validated (as one line of YAML)."""
    from mtsed.kubeflow.submit import with_overrides

    return with_overrides(params_yaml, read_preset(name, folder))
