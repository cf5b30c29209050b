"""The MLflow model adapter: a trained bundle as a registered, servable pyfunc detector.

The registered model holds the whole detector (fold networks, feature settings,
standardisation, normalisers, thresholds: one ``bundle.pt``) plus the ``mtsed`` code that
reads it, so ``mlflow models serve -m models:/<name>/<version>`` answers HTTP requests
with events.  ``predict`` takes, per row, an audio file path on the server (``path``) or
the audio file itself, base64-encoded in the JSON body (``audio_base64``, with an optional
``name`` for the ``file`` column), so a client on another machine needs no shared disk.  It
returns DCASE event rows: ``file``, ``onset``, ``offset``, ``event_label``.  Audio above
``MTSED_MAX_AUDIO_BYTES`` (default 50 MB decoded) and any bad row are refused with HTTP 400.

A ``path`` is opened only when it resolves (symlinks followed) to a regular file under one of
the folders in ``MTSED_AUDIO_ROOTS`` (``os.pathsep``-separated; empty: no path requests at
all).  Unset, it is the server's working folder; ``mtsed serve`` sets it to that folder on a
loopback host and to empty on any other host.  A path outside the roots is refused with the
same answer whether or not it exists, so a client learns nothing of the server's disk.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import stat
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

AUDIO_ROOTS_ENV = "MTSED_AUDIO_ROOTS"
INPUT_COLUMN = "path"
BYTES_COLUMN = "audio_base64"
NAME_COLUMN = "name"
MAX_AUDIO_BYTES = 50 * 1024 * 1024
OUTPUT_COLUMNS = ("file", "onset", "offset", "event_label")
# What loading and running a bundle imports; pinned to the versions that logged the model.
RUNTIME_PACKAGES = ("torch", "numpy", "scipy", "librosa", "soundfile", "PyYAML", "pandas", "mlflow")


class EventDetector(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper of :class:`mtsed.detection.bundle.Bundle`: audio (paths or bytes) in, event rows out."""

    def load_context(self, context: Any) -> None:
        from mtsed.detection.bundle import load_bundle

        self.bundle = load_bundle(Path(context.artifacts["bundle"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        from mtsed.io.audio import decode_audio

        rows = []
        for name, source in input_audio(model_input):
            try:
                if isinstance(source, bytes):
                    audio = decode_audio(io.BytesIO(source), name, self.bundle.features.sample_rate)
                    events, _ = self.bundle.analyse_audio(audio, name)
                else:
                    events, _ = self.bundle.detect(allowed_path(source), name)
            except (OSError, ValueError) as error:  # AudioError included: the message names the file
                raise _refuse(str(error)) from None
            rows.extend((name, e.onset, e.offset, e.label) for e in events)
        return pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS)).astype({"onset": float, "offset": float})


def audio_roots() -> list[Path]:
    """The folders path requests may read from (``MTSED_AUDIO_ROOTS``; unset: the working folder)."""
    value = os.environ.get(AUDIO_ROOTS_ENV)
    if value is None:
        return [Path.cwd().resolve()]
    return [Path(root).resolve() for root in value.split(os.pathsep) if root.strip()]


def allowed_path(text: str) -> Path:
    """The real path of a requested audio file, refused (HTTP 400) unless it resolves to a
    regular file under an audio root; outside the roots the answer never depends on whether
    the file exists."""
    roots = audio_roots()
    if not roots:
        raise _refuse(
            f"{text}: this server takes no audio paths (send the audio as {BYTES_COLUMN!r}, "
            f"or start it with {AUDIO_ROOTS_ENV} set)"
        )
    try:
        path = Path(text).resolve()
    except (OSError, RuntimeError, ValueError):  # symlink loops, NUL bytes
        path = None
    if path is None or not any(path == root or root in path.parents for root in roots):
        raise _refuse(f"{text}: not under the server's audio roots; send the audio as {BYTES_COLUMN!r} instead")
    try:
        regular = stat.S_ISREG(path.stat().st_mode)
    except OSError:
        raise _refuse(f"{text}: no such audio file") from None
    if not regular:
        raise _refuse(f"{text}: not a regular file")
    return path


def max_audio_bytes() -> int:
    """The largest decoded upload accepted (``MTSED_MAX_AUDIO_BYTES``, default 50 MB)."""
    return int(os.environ.get("MTSED_MAX_AUDIO_BYTES", MAX_AUDIO_BYTES))


def _refuse(message: str) -> Exception:
    """An error the scoring server answers with HTTP 400 and this message."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


def decode_upload(text: str, name: str) -> bytes:
    """The audio bytes of one base64 upload, refused when malformed or above the limit."""
    limit = max_audio_bytes()
    if len(text) > 4 * (limit // 3 + 1):  # refuse before decoding what cannot fit
        raise _refuse(
            f"{name}: audio upload of about {len(text) * 3 // 4:,} bytes is above the limit of {limit:,} bytes"
        )
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _refuse(f"{name}: {BYTES_COLUMN} is not valid base64") from None
    if len(data) > limit:
        raise _refuse(f"{name}: audio upload of {len(data):,} bytes is above the limit of {limit:,} bytes")
    return data


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and value != value) and str(value) != ""


def input_audio(model_input: Any) -> list[tuple[str, str | bytes]]:
    """``(name, path or bytes)`` per row: a DataFrame with a ``path`` or an ``audio_base64``
    column (one of the two per row), a list of paths, or one path."""
    if not isinstance(model_input, pd.DataFrame):
        paths = [model_input] if isinstance(model_input, str) else [str(p) for p in model_input]
        return [(p, p) for p in paths]
    if INPUT_COLUMN not in model_input.columns and BYTES_COLUMN not in model_input.columns:
        raise _refuse(
            f"model input needs a {INPUT_COLUMN!r} column of audio paths or a {BYTES_COLUMN!r} column of "
            f"base64 audio, got {list(model_input.columns)}"
        )
    found = []
    for index, row in enumerate(model_input.to_dict("records")):
        path, upload = row.get(INPUT_COLUMN), row.get(BYTES_COLUMN)
        if _present(path) == _present(upload):
            raise _refuse(f"row {index}: give exactly one of {INPUT_COLUMN!r} and {BYTES_COLUMN!r}")
        if _present(path):
            found.append((str(path), str(path)))
        else:
            name = str(row[NAME_COLUMN]) if _present(row.get(NAME_COLUMN)) else f"upload-{index}"
            found.append((name, decode_upload(str(upload), name)))
    return found


def signature():
    """Input: optional string columns ``path``, ``audio_base64`` and ``name`` (each row holds
    a path or an upload); output: one row per event."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(
        inputs=Schema(
            [
                ColSpec("string", INPUT_COLUMN, required=False),
                ColSpec("string", BYTES_COLUMN, required=False),
                ColSpec("string", NAME_COLUMN, required=False),
            ]
        ),
        outputs=Schema(
            [
                ColSpec("string", "file"),
                ColSpec("double", "onset"),
                ColSpec("double", "offset"),
                ColSpec("string", "event_label"),
            ]
        ),
    )


def pip_requirements() -> list[str]:
    return [f"{name}=={metadata.version(name)}" for name in RUNTIME_PACKAGES]


def log_detector(
    uri: str, run_id: str, bundle_path: Path, name: str, example_audio: Path, tags: Mapping[str, str] | None = None
) -> str | None:
    """Log ``bundle_path`` as pyfunc model ``name`` of run ``run_id`` and register it under
    ``name``; returns the new version, or ``None`` (with a warning) if the store refuses."""
    import mlflow
    from mlflow.models import Model
    from mlflow.tracking import MlflowClient

    import mtsed

    if not sys.stderr.isatty():  # no carriage-return bars in logs (DVC, CI, Kubeflow pods)
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        mlflow.set_tracking_uri(uri)
        client = MlflowClient(uri)
        mlflow.set_experiment(experiment_id=client.get_run(run_id).info.experiment_id)  # where the model is kept
        info = Model.log(
            artifact_path=None,
            name=name,
            flavor=mlflow.pyfunc,
            run_id=run_id,
            python_model=EventDetector(),
            artifacts={"bundle": str(bundle_path)},
            code_paths=[str(Path(mtsed.__file__).parent)],
            signature=signature(),
            input_example=pd.DataFrame({INPUT_COLUMN: [str(example_audio)]}),
            pip_requirements=pip_requirements(),
            registered_model_name=name,
            await_registration_for=60,
        )
        version = str(info.registered_model_version)
        for key, value in (tags or {}).items():
            client.set_model_version_tag(name, version, key, str(value))
        return version
    except Exception as error:  # the registry is best effort, like all tracking
        print(f"mtsed: warning: model {name} not registered ({type(error).__name__}: {error})", file=sys.stderr)
        return None
