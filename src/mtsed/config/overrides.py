"""Edits of ``params.yaml`` text: ``key.sub=value`` overrides and presets.

A preset (``presets/<name>.yaml``) maps dotted keys to values.  ``make run PRESET=name``
hands them to ``dvc exp run --set-param`` (DVC records the experiment and keeps
params.yaml's comments); ``mtsed pipeline submit|compile|local --preset name`` and the
quality study apply them here.  Every edit is validated before it is returned, so a typo
fails at once rather than in a pod on the cluster.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import yaml

from mtsed.config import ConfigError, params_from_dict

PRESETS_DIR = Path("presets")


def with_overrides(params_yaml: str, overrides: Sequence[str]) -> str:
    """``params.yaml`` with ``key.sub=value`` overrides applied (values parsed as YAML) and
    validated.  Returned as one line of flow-style YAML: KFP writes a parameter default into
    the compiled file's header comment, and a multi-line default would break that file."""
    raw = yaml.safe_load(params_yaml) or {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError("", f"override {item!r} must look like key.sub=value")
        node = raw
        *parents, leaf = key.split(".")
        for part in parents:
            if not isinstance(node, dict) or not isinstance(node.get(part), dict):
                raise ConfigError(key, "is not a known parameter")
            node = node[part]
        if not isinstance(node, dict) or leaf not in node:
            raise ConfigError(key, "is not a known parameter")
        try:
            node[leaf] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            raise ConfigError(key, f"value {value!r} is not valid YAML ({str(error).splitlines()[0]})") from None
    params_from_dict(raw)
    return yaml.safe_dump(raw, default_flow_style=True, width=float("inf"), sort_keys=False).strip()


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
    return with_overrides(params_yaml, read_preset(name, folder))
