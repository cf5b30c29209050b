"""A real MLflow server (`mtsed ui`, what `make ui` runs): the tiny pipeline logs to it over
HTTP; runs, metrics, artefacts and registered models are read back through its REST API and
its run comparison page is rendered in headless Chromium.  PostgreSQL as the backend store."""

import json
import os
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from mtsed.adapters import servers as server
from tests.conftest import REPO, run_command
from tests.services import chromium_browser, http_json, mlflow_server, postgres_server

SCREENSHOTS = Path(os.environ.get("MTSED_TEST_ARTIFACTS", REPO / "test-artifacts"))


def test_server_command_keeps_runs_and_artefacts_in_the_project(tmp_path: Path):
    command = server.server_command(server.default_backend(tmp_path), tmp_path / "mlartifacts", port=5123)
    assert command[1:4] == ["-m", "mlflow", "server"]
    options = dict(zip(command[4::2], command[5::2]))
    assert options == {
        "--backend-store-uri": f"sqlite:///{tmp_path.resolve()}/mlflow.db",
        "--artifacts-destination": str((tmp_path / "mlartifacts").resolve()),
        "--host": "127.0.0.1",
        "--port": "5123",
        "--workers": "1",
    }


def test_waiting_for_a_server_that_died_says_so():
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait()
    with pytest.raises(RuntimeError, match="exited with code 3"):
        server.wait_until_up("http://127.0.0.1:9/health", process, seconds=5)


def _listening() -> "socket.socket":
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_the_served_model_bounds_malloc_arenas_unless_the_operator_chose(monkeypatch: pytest.MonkeyPatch):
    """Per-thread arenas made the server's memory climb with concurrent clients (serving_load.py)."""
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert server.serve_env()["MALLOC_ARENA_MAX"] == server.SERVE_MALLOC_ARENAS
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert server.serve_env()["MALLOC_ARENA_MAX"] == "8"


def test_a_taken_port_is_named_before_the_server_starts():
    with _listening() as taken:
        port = taken.getsockname()[1]
        with pytest.raises(server.StartupError, match=f"port {port} on 127.0.0.1 is already in use"):
            server.check_port("127.0.0.1", port)
    server.check_port("127.0.0.1", port)  # free again
    with pytest.raises(server.StartupError, match="not an address of this machine"):
        server.check_port("no-such-host.invalid", 5000)


def test_a_store_that_cannot_be_opened_or_written_is_named(tmp_path: Path):
    server.check_backend_store(f"sqlite:///{tmp_path / 'new.db'}")  # created on start
    not_db = tmp_path / "notes.db"
    not_db.write_text("these are not runs")
    with pytest.raises(server.StartupError, match=f"store {not_db}: not an SQLite database"):
        server.check_backend_store(f"sqlite:///{not_db}")
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(server.StartupError, match="cannot be created"):
        server.check_backend_store(f"sqlite:///{blocked / 'sub' / 'mlflow.db'}")
    with pytest.raises(server.StartupError, match=f"store {tmp_path}: not a file"):
        server.check_backend_store(f"sqlite:///{tmp_path}")
    with pytest.raises(
        server.StartupError, match=r"store postgresql\+psycopg2://u:\*\*\*@127.0.0.1:9/db: cannot connect"
    ):
        server.check_backend_store("postgresql+psycopg2://u:secret@127.0.0.1:9/db")
    with pytest.raises(server.StartupError, match="artefact folder .*: not a writable folder"):
        server.check_artifacts(blocked)
    with pytest.raises(server.StartupError, match="no such file"):
        server.check_serving_store(f"sqlite:///{tmp_path / 'absent.db'}", "models:/m/latest")
    with pytest.raises(server.StartupError, match="no MLmodel file"):
        server.check_serving_store("", str(tmp_path))


@pytest.mark.parametrize("command", ["ui", "serve"])
def test_ui_and_serve_on_a_taken_port_exit_non_zero_with_one_line(command: str, tmp_path: Path):
    """Checked before exec: `mlflow server` itself logs the bind error and exits 0."""
    with _listening() as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "mtsed.cli", command, "--port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"mtsed {command}: error: port {port} on 127.0.0.1 is already in use; choose another with --port"
    ]


def test_ui_on_a_store_it_cannot_open_exits_non_zero_with_one_line(tmp_path: Path):
    (tmp_path / "runs.db").write_text("not a database")
    done = subprocess.run(
        [sys.executable, "-m", "mtsed.cli", "ui", "--port", "0", "--backend-store-uri", "sqlite:///runs.db"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["mtsed ui: error: store runs.db: not an SQLite database"]


class Api:
    """The few REST endpoints the tests read (MLflow REST API 2.0)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, endpoint: str, **query: str) -> dict:
        return http_json(f"{self.url}/api/2.0/mlflow/{endpoint}?{urllib.parse.urlencode(query)}")

    def runs(self, experiment: str = "mtsed") -> list[dict]:
        experiment_id = self.get("experiments/get-by-name", experiment_name=experiment)["experiment"]["experiment_id"]
        found = http_json(
            f"{self.url}/api/2.0/mlflow/runs/search", {"experiment_ids": [experiment_id], "max_results": 1000}
        )
        return found.get("runs", [])

    def artifact_names(self, run: dict, path: str) -> set[str]:
        files = self.get("artifacts/list", run_id=run["info"]["run_id"], path=path).get("files", [])
        return {f["path"].rsplit("/", 1)[-1] for f in files}


def tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def metrics(run: dict) -> dict[str, float]:
    return {m["key"]: m["value"] for m in run["data"].get("metrics", [])}


def children(runs: list[dict], parent: dict) -> list[dict]:
    return [r for r in runs if tags(r).get("mlflow.parentRunId") == parent["info"]["run_id"]]


@pytest.fixture(scope="module")
def served(tracked_pipeline):
    """The shared tiny pipeline's two executions as the tracking server holds them (conftest's
    ``tracked_pipeline``). Yields (API, project, runs, parent runs)."""
    url, project = tracked_pipeline
    api = Api(url)
    runs = api.runs()
    parents = {r["info"]["run_name"]: r for r in runs if tags(r).get("mtsed.stage") == "pipeline"}
    return api, project, runs, parents


@pytest.mark.slow
def test_one_parent_per_execution_tagged_for_comparison(served):
    api, project, runs, parents = served
    assert set(parents) == {"run-alpha", "run-beta"}
    head = run_command(["git", "rev-parse", "HEAD"], project).strip()
    for parent in parents.values():
        described = tags(parent)
        assert parent["info"]["status"] == "FINISHED"
        assert (
            described["mtsed.set"] == "isolated,overlapping"
            and described["mtsed.system"] == "proposed,baseline,multitask"
        )
        assert described["mtsed.git_commit"].startswith(head) and len(described["mtsed.params_hash"]) == 16
        params = {p["key"]: p["value"] for p in parent["data"]["params"]}
        assert params["model.residual"] == "sum" and params["targets.segment_frames"] == "64"
    assert tags(parents["run-alpha"])["mtsed.params_hash"] == tags(parents["run-beta"])["mtsed.params_hash"]


@pytest.mark.slow
def test_a_child_run_per_stage_and_fold_with_curves(served):
    api, project, runs, parents = served
    alpha = children(runs, parents["run-alpha"])
    stages = sorted(tags(r)["mtsed.stage"] for r in alpha)
    assert stages.count("train") == 2 * (3 + 1)  # systems x (isolated folds + overlapping folds)
    assert {
        s: stages.count(s)
        for s in ("clips", "prepare", "features", "targets", "ensemble", "thresholds", "evaluate-set")
    } == {"clips": 1, "prepare": 1, "features": 2, "targets": 2, "ensemble": 4, "thresholds": 6, "evaluate-set": 2}
    for run in alpha:
        assert tags(run)["mtsed.params_hash"] == tags(parents["run-alpha"])["mtsed.params_hash"]
        if tags(run)["mtsed.stage"] == "train":
            assert metrics(run)["segments_per_second"] > 0
            curve = api.get("metrics/get-history", run_id=run["info"]["run_id"], metric_key="validation_loss")[
                "metrics"
            ]
            assert sorted(m["step"] for m in curve) == [1, 2]
    assert [tags(r)["mtsed.stage"] for r in children(runs, parents["run-beta"])] == ["evaluate-set"]


@pytest.mark.slow
def test_the_same_metric_names_in_every_execution(served):
    api, project, runs, parents = served
    alpha, beta = metrics(parents["run-alpha"]), metrics(parents["run-beta"])
    for name in (
        "isolated.proposed.overall.f1",
        "isolated.proposed.overall.er",
        "isolated.baseline.class_average.er",
        "overlapping.proposed.search_seconds",
        "isolated.baseline.fold-2.segments_per_second",
    ):
        assert name in alpha, name
    assert any(k.startswith("isolated.proposed.per_class.beep.") for k in alpha)
    assert set(beta) <= set(alpha) and beta  # beta re-ran one evaluation: its names are alpha's names
    assert all(beta[k] == pytest.approx(alpha[k]) for k in beta)  # the same models score the same
    evaluations = [
        r for r in runs if tags(r).get("mtsed.stage") == "evaluate-set" and tags(r)["mtsed.set"] == "isolated"
    ]
    assert len(evaluations) == 2 and set(metrics(evaluations[0])) == set(metrics(evaluations[1]))


@pytest.mark.slow
def test_the_parent_holds_tables_plots_and_thresholds(served):
    api, project, runs, parents = served
    alpha = parents["run-alpha"]
    for set_name in ("isolated", "overlapping"):
        assert {"table.md", "table.json", "per_class.csv", "f1_per_class.png", "detection.png"} <= api.artifact_names(
            alpha, f"reports/{set_name}"
        )
        for system in ("proposed", "multitask"):
            assert api.artifact_names(alpha, f"thresholds/{set_name}/{system}") == {"thresholds.json"}
    query = urllib.parse.urlencode({"path": "reports/isolated/table.md", "run_uuid": alpha["info"]["run_id"]})
    with urllib.request.urlopen(f"{api.url}/get-artifact?{query}") as response:
        assert response.read().decode() == (project / "reports/isolated/table.md").read_text()


@pytest.mark.slow
def test_each_evaluation_registers_every_detector(served):
    api, project, runs, parents = served
    for name, versions in (
        ("mtsed-isolated-proposed", 2),
        ("mtsed-isolated-baseline", 2),
        ("mtsed-isolated-multitask", 2),
        ("mtsed-overlapping-proposed", 1),
        ("mtsed-overlapping-baseline", 1),
        ("mtsed-overlapping-multitask", 1),
    ):
        found = http_json(
            f"{api.url}/api/2.0/mlflow/model-versions/search?" + urllib.parse.urlencode({"filter": f"name='{name}'"})
        )
        assert len(found["model_versions"]) == versions, name
    latest = api.get("model-versions/get", name="mtsed-isolated-proposed", version="2")["model_version"]
    version_tags = {t["key"]: t["value"] for t in latest["tags"]}
    evaluation = next(r for r in runs if r["info"]["run_id"] == latest["run_id"])
    assert tags(evaluation)["mtsed.stage"] == "evaluate-set"
    assert float(version_tags["overall.er"]) == pytest.approx(metrics(evaluation)["proposed.overall.er"])


@pytest.mark.slow
def test_the_ui_compares_two_pipeline_runs(served):
    """Headless Chromium renders the comparison page of both parents (screenshot kept)."""
    api, project, runs, parents = served
    ids = [parents[n]["info"]["run_id"] for n in ("run-alpha", "run-beta")]
    experiment = parents["run-alpha"]["info"]["experiment_id"]
    page_url = (
        f"{api.url}/#/compare-runs?runs={urllib.parse.quote(json.dumps(ids))}"
        f"&experiments={urllib.parse.quote(json.dumps([experiment]))}"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 1600, "height": 1400})
        page.goto(page_url)
        for text in ("run-alpha", "run-beta", "isolated.proposed.overall.f1"):
            page.get_by_text(text).first.wait_for(timeout=60_000)
        page.screenshot(path=str(SCREENSHOTS / "mlflow-compare-runs.png"), full_page=True)
    assert (SCREENSHOTS / "mlflow-compare-runs.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_postgresql_as_the_backend_store(tiny_workspace: Path, tmp_path: Path):
    """The same server on a real PostgreSQL database; one tracked training stage over HTTP."""
    ws = tiny_workspace
    with postgres_server() as database, mlflow_server(database, tmp_path / "artefacts", tmp_path / "server.log") as url:
        train = [
            "mtsed",
            "--params",
            str(ws / "params.yaml"),
            "train",
            "--features",
            str(ws / "features/isolated"),
            "--targets",
            str(ws / "targets/isolated"),
            "--fold",
            "0",
            "--network",
            "baseline",
            "--out",
            str(tmp_path / "fold-0"),
        ]
        run_command(
            ["mtsed", "--params", str(ws / "params.yaml"), "tracked", "--name", "on-postgres", "--", *train],
            tmp_path,
            {"MLFLOW_TRACKING_URI": url, "MTSED_TRACKING": "on"},
        )
        api = Api(url)
        runs = api.runs()
        parent = next(r for r in runs if r["info"]["run_name"] == "on-postgres")
        (child,) = children(runs, parent)
        assert tags(child)["mtsed.stage"] == "train" and metrics(child)["segments_per_second"] > 0
        curve = api.get("metrics/get-history", run_id=child["info"]["run_id"], metric_key="train_loss")["metrics"]
        assert len(curve) == 2
        assert {"best.pt", "history.json"} <= api.artifact_names(child, "")
        assert "isolated.baseline.fold-0.segments_per_second" in metrics(parent)
