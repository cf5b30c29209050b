"""The registered pyfunc detector: audio paths in, the same events as `mtsed detect` out."""

import sys
from pathlib import Path

import pandas as pd
import pytest

from mtsed import registry
from mtsed.bundle import load_bundle
from mtsed.data import load_dataset
from tests.services import background, free_port, http_json


def _evaluation_audio(root: Path, set_name: str = "isolated") -> Path:
    dataset = load_dataset(root / "data" / set_name)
    return dataset.audio_path(dataset.evaluation()[0])


@pytest.fixture(scope="module")
def registered(tiny_trained: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The isolated proposed bundle logged and registered in a fresh SQLite store."""
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("mtsed", artifact_location=(folder / "artefacts").as_uri())
    run_id = client.create_run(experiment).info.run_id
    version = registry.log_detector(uri, run_id, tiny_trained / "bundles/isolated/proposed/bundle.pt",
                                    "mtsed-isolated-proposed", _evaluation_audio(tiny_trained), {"overall.f1": 0.25})
    assert version == "1"
    return uri, tiny_trained


def _expected_rows(root: Path, audio: Path) -> list[tuple]:
    events, _ = load_bundle(root / "bundles/isolated/proposed/bundle.pt").detect(audio, str(audio))
    return [(e.file, e.onset, e.offset, e.label) for e in events]


def test_registered_version_predicts_what_detect_finds(registered: tuple[str, Path]):
    import mlflow
    from mlflow.tracking import MlflowClient

    uri, root = registered
    mlflow.set_tracking_uri(uri)
    version = MlflowClient(uri).get_model_version("mtsed-isolated-proposed", "1")
    assert version.tags == {"overall.f1": "0.25"} and version.run_id
    model = mlflow.pyfunc.load_model("models:/mtsed-isolated-proposed/1")
    assert model.metadata.get_input_schema().input_names() == ["path"]
    assert model.metadata.get_output_schema().input_names() == list(registry.OUTPUT_COLUMNS)
    audio = _evaluation_audio(root)
    predicted = model.predict(pd.DataFrame({"path": [str(audio)]}))
    expected = _expected_rows(root, audio)
    assert expected, "the tiny detector finds events in its evaluation recording"
    assert list(predicted.itertuples(index=False, name=None)) == expected


def test_predict_names_the_bad_input(tiny_trained: Path, tmp_path: Path):
    detector = registry.EventDetector()
    detector.bundle = load_bundle(tiny_trained / "bundles/isolated/proposed/bundle.pt")
    with pytest.raises(ValueError, match="'path' column"):
        detector.predict(None, pd.DataFrame({"file": ["x.wav"]}))
    with pytest.raises(ValueError, match="missing.wav"):
        detector.predict(None, [str(tmp_path / "missing.wav")])
    empty = detector.predict(None, pd.DataFrame({"path": []}))
    assert list(empty.columns) == list(registry.OUTPUT_COLUMNS) and empty.empty


def test_a_refusing_store_warns_instead_of_failing(tiny_trained: Path, capsys):
    version = registry.log_detector("http://127.0.0.1:9", "0" * 32, tiny_trained / "bundles/isolated/proposed/bundle.pt",
                                    "mtsed-x", _evaluation_audio(tiny_trained))
    assert version is None and "mtsed-x not registered" in capsys.readouterr().err


@pytest.mark.slow
def test_mlflow_models_serve_answers_http_with_events(registered: tuple[str, Path], tmp_path: Path):
    """`mlflow models serve` on the registered version, a real HTTP request on loopback."""
    uri, root = registered
    port = free_port()
    audio = _evaluation_audio(root)
    command = [sys.executable, "-m", "mtsed.cli", "serve", "models:/mtsed-isolated-proposed/latest", "--port", str(port)]
    with background(command, f"http://127.0.0.1:{port}/ping", tmp_path / "serve.log", {"MLFLOW_TRACKING_URI": uri}):
        answer = http_json(f"http://127.0.0.1:{port}/invocations",
                           {"dataframe_split": {"columns": ["path"], "data": [[str(audio)]]}}, timeout=120)
        with pytest.raises(Exception, match="400|500"):
            http_json(f"http://127.0.0.1:{port}/invocations", {"dataframe_split": {"columns": ["path"], "data": [["/nope.wav"]]}})
    rows = [(r["file"], r["onset"], r["offset"], r["event_label"]) for r in answer["predictions"]]
    assert rows == _expected_rows(root, audio)
