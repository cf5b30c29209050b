"""The registered pyfunc detector: audio paths in, the same events as `mtsed detect` out."""

import base64
import os
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtsed.adapters import registry
from mtsed.data.datasets import load_dataset
from mtsed.detection.bundle import load_bundle
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
    version = registry.log_detector(
        uri,
        run_id,
        tiny_trained / "bundles/isolated/proposed/bundle.pt",
        "mtsed-isolated-proposed",
        _evaluation_audio(tiny_trained),
        {"overall.f1": 0.25},
    )
    assert version == "1"
    return uri, tiny_trained


def _expected_rows(root: Path, audio: Path) -> list[tuple]:
    events, _ = load_bundle(root / "bundles/isolated/proposed/bundle.pt").detect(audio, str(audio))
    return [(e.file, e.onset, e.offset, e.label) for e in events]


def test_registered_version_predicts_what_detect_finds(registered: tuple[str, Path], monkeypatch: pytest.MonkeyPatch):
    import mlflow
    from mlflow.tracking import MlflowClient

    uri, root = registered
    monkeypatch.setenv(registry.AUDIO_ROOTS_ENV, str(root))
    mlflow.set_tracking_uri(uri)
    version = MlflowClient(uri).get_model_version("mtsed-isolated-proposed", "1")
    assert version.tags == {"overall.f1": "0.25"} and version.run_id
    model = mlflow.pyfunc.load_model("models:/mtsed-isolated-proposed/1")
    assert model.metadata.get_input_schema().input_names() == ["path", "audio_base64", "name"]
    assert model.metadata.get_output_schema().input_names() == list(registry.OUTPUT_COLUMNS)
    audio = _evaluation_audio(root)
    predicted = model.predict(pd.DataFrame({"path": [str(audio)]}))
    expected = _expected_rows(root, audio)
    assert expected, "the tiny detector finds events in its evaluation recording"
    assert list(predicted.itertuples(index=False, name=None)) == expected


def test_predict_names_the_bad_input(tiny_trained: Path, tmp_path: Path):
    from mlflow.exceptions import MlflowException

    detector = registry.EventDetector()
    detector.bundle = load_bundle(tiny_trained / "bundles/isolated/proposed/bundle.pt")
    with pytest.raises(MlflowException, match="'path' column"):
        detector.predict(None, pd.DataFrame({"file": ["x.wav"]}))
    with pytest.raises(MlflowException, match="missing.wav"):
        detector.predict(None, [str(tmp_path / "missing.wav")])
    with pytest.raises(MlflowException, match="row 0: give exactly one of"):
        detector.predict(None, pd.DataFrame({"path": ["x.wav"], "audio_base64": ["UklGRg=="]}))
    with pytest.raises(MlflowException, match="clip.wav: audio_base64 is not valid base64"):
        detector.predict(None, pd.DataFrame({"audio_base64": ["not base64!"], "name": ["clip.wav"]}))
    with pytest.raises(MlflowException, match="upload-0: unreadable audio"):
        detector.predict(None, pd.DataFrame({"audio_base64": [base64.b64encode(b"RIFF nope").decode()]}))
    empty = detector.predict(None, pd.DataFrame({"path": []}))
    assert list(empty.columns) == list(registry.OUTPUT_COLUMNS) and empty.empty


def test_uploaded_audio_gives_the_events_of_its_path(tiny_trained: Path, monkeypatch: pytest.MonkeyPatch):
    from mlflow.exceptions import MlflowException

    detector = registry.EventDetector()
    detector.bundle = load_bundle(tiny_trained / "bundles/isolated/proposed/bundle.pt")
    audio = _evaluation_audio(tiny_trained)
    upload = base64.b64encode(audio.read_bytes()).decode()
    predicted = detector.predict(None, pd.DataFrame({"audio_base64": [upload], "name": [str(audio)]}))
    assert list(predicted.itertuples(index=False, name=None)) == _expected_rows(tiny_trained, audio)
    monkeypatch.setenv("MTSED_MAX_AUDIO_BYTES", str(audio.stat().st_size - 1))
    with pytest.raises(MlflowException, match="above the limit") as info:
        detector.predict(None, pd.DataFrame({"audio_base64": [upload]}))
    assert info.value.get_http_status_code() == 400


def test_a_refusing_store_warns_instead_of_failing(tiny_trained: Path, capsys):
    version = registry.log_detector(
        "http://127.0.0.1:9",
        "0" * 32,
        tiny_trained / "bundles/isolated/proposed/bundle.pt",
        "mtsed-x",
        _evaluation_audio(tiny_trained),
    )
    assert version is None and "mtsed-x not registered" in capsys.readouterr().err


@pytest.mark.slow
def test_mlflow_models_serve_answers_http_with_events(registered: tuple[str, Path], tmp_path: Path):
    """`mlflow models serve` on the registered version, a real HTTP request on loopback."""
    uri, root = registered
    port = free_port()
    audio = _evaluation_audio(root)
    command = [
        sys.executable,
        "-m",
        "mtsed.cli",
        "serve",
        "models:/mtsed-isolated-proposed/latest",
        "--port",
        str(port),
    ]
    upload = base64.b64encode(audio.read_bytes()).decode()
    limit = {"MTSED_MAX_AUDIO_BYTES": str(audio.stat().st_size + 100), registry.AUDIO_ROOTS_ENV: str(root)}
    with background(
        command, f"http://127.0.0.1:{port}/ping", tmp_path / "serve.log", {"MLFLOW_TRACKING_URI": uri, **limit}
    ):
        invocations = f"http://127.0.0.1:{port}/invocations"
        answer = http_json(invocations, {"dataframe_split": {"columns": ["path"], "data": [[str(audio)]]}}, timeout=120)
        uploaded = http_json(
            invocations,
            {"dataframe_split": {"columns": ["audio_base64", "name"], "data": [[upload, str(audio)]]}},
            timeout=120,
        )
        for outside in ("/nope.wav", "/etc/passwd", str(root / ".." / "x.wav")):
            with pytest.raises(Exception, match="400"):
                http_json(invocations, {"dataframe_split": {"columns": ["path"], "data": [[outside]]}})
        too_big = base64.b64encode(audio.read_bytes() * 2).decode()
        with pytest.raises(Exception, match="400"):
            http_json(invocations, {"dataframe_split": {"columns": ["audio_base64"], "data": [[too_big]]}})
    rows = [(r["file"], r["onset"], r["offset"], r["event_label"]) for r in answer["predictions"]]
    assert rows == _expected_rows(root, audio)
    assert [(r["file"], r["onset"], r["offset"], r["event_label"]) for r in uploaded["predictions"]] == rows


def test_registering_writes_no_progress_bars_into_a_log(tiny_trained: Path, tmp_path: Path, capfd, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    run_id = client.create_run(
        client.create_experiment("mtsed", artifact_location=(tmp_path / "a").as_uri())
    ).info.run_id
    assert (
        registry.log_detector(
            uri, run_id, tiny_trained / "bundles/isolated/proposed/bundle.pt", "quiet", _evaluation_audio(tiny_trained)
        )
        == "1"
    )
    captured = capfd.readouterr()
    assert "\r" not in captured.err + captured.out


def _refused(text: str) -> str:
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException) as info:
        registry.allowed_path(text)
    assert info.value.get_http_status_code() == 400
    return info.value.message


def test_paths_are_opened_only_under_the_audio_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root, outside = tmp_path / "audio", tmp_path / "private"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "sub" / "a.wav").write_bytes(b"RIFF")
    (outside / "secret.wav").write_bytes(b"RIFF")
    (root / "link.wav").symlink_to(outside / "secret.wav")
    (root / "inner.wav").symlink_to(root / "sub" / "a.wav")
    monkeypatch.setenv(registry.AUDIO_ROOTS_ENV, str(root))
    assert registry.allowed_path(str(root / "sub" / "a.wav")) == (root / "sub" / "a.wav").resolve()
    assert registry.allowed_path(str(root / "inner.wav")) == (root / "sub" / "a.wav").resolve()
    # outside the roots, the answer is the same whether the file exists or not
    existing, missing = _refused(str(outside / "secret.wav")), _refused(str(outside / "missing.wav"))
    assert existing.replace("secret", "missing") == missing and "not under the server's audio roots" in existing
    assert "not under" in _refused(str(root / "link.wav"))  # a symlink out of the roots
    assert "not under" in _refused(str(root / ".." / "private" / "secret.wav"))
    assert "not under" in _refused("/etc/passwd")
    assert "no such audio file" in _refused(str(root / "sub" / "missing.wav"))
    assert "not a regular file" in _refused(str(root / "sub"))
    os.mkfifo(root / "pipe.wav")
    assert "not a regular file" in _refused(str(root / "pipe.wav"))  # never opened: a FIFO would block a worker


def test_no_roots_means_no_paths_and_unset_means_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    monkeypatch.setenv(registry.AUDIO_ROOTS_ENV, "")
    assert "takes no audio paths" in _refused(str(tmp_path / "a.wav"))
    monkeypatch.delenv(registry.AUDIO_ROOTS_ENV)
    monkeypatch.chdir(tmp_path)
    assert registry.allowed_path("a.wav") == (tmp_path / "a.wav").resolve()
    assert "not under" in _refused(str(tmp_path.parent))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    records=st.lists(
        st.dictionaries(
            st.sampled_from(["path", "audio_base64", "name", "file", ""]) | st.text(max_size=6), JSON_VALUES, max_size=4
        ),
        max_size=4,
    )
)
def test_any_json_rows_are_read_or_refused_with_a_400(records: list[dict]):
    from mlflow.exceptions import MlflowException

    os.environ[registry.AUDIO_ROOTS_ENV] = "/nonexistent-root"
    try:
        frame = pd.DataFrame(records)
        try:
            found = registry.input_audio(frame)
        except MlflowException as error:
            assert error.get_http_status_code() == 400
            return
        for name, source in found:
            assert isinstance(name, str) and isinstance(source, (str, bytes))
            if isinstance(source, str):
                with pytest.raises(MlflowException) as info:
                    registry.allowed_path(source)
                assert info.value.get_http_status_code() == 400
    finally:
        del os.environ[registry.AUDIO_ROOTS_ENV]
