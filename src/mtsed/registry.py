"""The MLflow model adapter: a trained bundle as a registered, servable pyfunc detector.

The registered model holds the whole detector (fold networks, feature settings,
standardisation, normalisers, thresholds: one ``bundle.pt``) plus the ``mtsed`` code that
reads it, so ``mlflow models serve -m models:/<name>/<version>`` answers HTTP requests
with events.  ``predict`` takes audio file paths (a ``path`` column) and returns DCASE
event rows: ``file``, ``onset``, ``offset``, ``event_label``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

INPUT_COLUMN = "path"
OUTPUT_COLUMNS = ("file", "onset", "offset", "event_label")
# What loading and running a bundle imports; pinned to the versions that logged the model.
RUNTIME_PACKAGES = ("torch", "numpy", "scipy", "librosa", "soundfile", "PyYAML", "pandas", "mlflow")


def registered_name(set_name: str, system: str) -> str:
    """Registry name of one data set's detector of one system, e.g. ``mtsed-overlapping-proposed``."""
    return f"mtsed-{set_name}-{system}"


class EventDetector(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper of :class:`mtsed.bundle.Bundle`: audio paths in, event rows out."""

    def load_context(self, context: Any) -> None:
        from mtsed.bundle import load_bundle

        self.bundle = load_bundle(Path(context.artifacts["bundle"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        rows = []
        for path in input_paths(model_input):
            events, _ = self.bundle.detect(Path(path), path)
            rows.extend((path, e.onset, e.offset, e.label) for e in events)
        return pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS)).astype({"onset": float, "offset": float})


def input_paths(model_input: Any) -> list[str]:
    """Audio paths from a DataFrame with a ``path`` column, a list of strings or one string."""
    if isinstance(model_input, pd.DataFrame):
        if INPUT_COLUMN not in model_input.columns:
            raise ValueError(f"model input needs a {INPUT_COLUMN!r} column of audio paths, got {list(model_input.columns)}")
        return [str(p) for p in model_input[INPUT_COLUMN]]
    if isinstance(model_input, str):
        return [model_input]
    return [str(p) for p in model_input]


def signature():
    """Input: a string column ``path``; output: one row per event."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string", INPUT_COLUMN)]),
        outputs=Schema([ColSpec("string", "file"), ColSpec("double", "onset"), ColSpec("double", "offset"),
                        ColSpec("string", "event_label")]),
    )


def pip_requirements() -> list[str]:
    return [f"{name}=={metadata.version(name)}" for name in RUNTIME_PACKAGES]


def log_detector(uri: str, run_id: str, bundle_path: Path, name: str, example_audio: Path,
                 tags: Mapping[str, str] | None = None) -> str | None:
    """Log ``bundle_path`` as pyfunc model ``name`` of run ``run_id`` and register it under
    ``name``; returns the new version, or ``None`` (with a warning) if the store refuses."""
    import mlflow
    from mlflow.models import Model
    from mlflow.tracking import MlflowClient

    import mtsed

    try:
        mlflow.set_tracking_uri(uri)
        client = MlflowClient(uri)
        mlflow.set_experiment(experiment_id=client.get_run(run_id).info.experiment_id)  # where the model is kept
        info = Model.log(
            artifact_path=None, name=name, flavor=mlflow.pyfunc, run_id=run_id, python_model=EventDetector(),
            artifacts={"bundle": str(bundle_path)}, code_paths=[str(Path(mtsed.__file__).parent)],
            signature=signature(), input_example=pd.DataFrame({INPUT_COLUMN: [str(example_audio)]}),
            pip_requirements=pip_requirements(), registered_model_name=name, await_registration_for=60,
        )
        version = str(info.registered_model_version)
        for key, value in (tags or {}).items():
            client.set_model_version_tag(name, version, key, str(value))
        return version
    except Exception as error:  # the registry is best effort, like all tracking
        print(f"mtsed: warning: model {name} not registered ({type(error).__name__}: {error})", file=sys.stderr)
        return None
