"""The only MLflow adapter: one child run per stage invocation under one pipeline run.

A pipeline execution (``mtsed tracked -- dvc repro``, a Kubeflow run) opens a parent run
and hands its id to every stage through ``MTSED_PARENT_RUN_ID``; each stage invocation
then logs a child run with its parameters, metrics, per-epoch curves, artefacts, the git
commit and hashes of its parameters and input data.  Tracking is best effort: if the
store cannot be reached the stage warns once and carries on, so a tracking failure never
costs a trained model (stages write their outputs before anything is logged).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mtsed.config import Params, TrackingConfig

PARENT_ENV = "MTSED_PARENT_RUN_ID"
DISABLE_ENV = "MTSED_TRACKING"  # "off" disables tracking (unit tests, quick experiments)


def tracking_uri(cfg: TrackingConfig, root: Path | None = None) -> str:
    """``MLFLOW_TRACKING_URI``, else ``tracking.uri``, else a SQLite file in the project."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or cfg.uri
    return uri or f"sqlite:///{(root or Path.cwd()).resolve() / 'mlflow.db'}"


def enabled() -> bool:
    return os.environ.get(DISABLE_ENV, "on").lower() not in ("off", "0", "false", "no")


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings to dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def numeric_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The numeric leaves of a stage's metrics dict (booleans and strings left out)."""
    return {k: float(v) for k, v in flatten(metrics).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def params_hash(params: Params) -> str:
    """Short content hash of every parameter (equal hashes: equal configuration)."""
    text = json.dumps(asdict(params), sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def data_hash(paths: Iterable[Path]) -> str:
    """Short content hash of the files under ``paths`` (names and bytes, in sorted order)."""
    digest = hashlib.sha256()
    for root in sorted(Path(p) for p in paths):
        files = sorted(f for f in root.rglob("*") if f.is_file()) if root.is_dir() else [root]
        for file in files:
            if not file.exists():
                continue
            digest.update(str(file.relative_to(root.parent)).encode())
            with open(file, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def git_commit(root: Path | None = None) -> str:
    """The checked-out commit (with ``-dirty`` if tracked files changed), or ``unknown``."""

    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = run("rev-parse", "HEAD")
        return commit + ("-dirty" if run("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


class Run:
    """One MLflow run that never raises: the first failure disables it with a warning.

    ``Run(cfg, name, tags)`` creates a run; ``Run.attach(cfg, run_id)`` logs to an existing
    one (a stage adding its summary to the pipeline's parent run).
    """

    def __init__(
        self,
        cfg: TrackingConfig,
        name: str = "",
        tags: Mapping[str, str] | None = None,
        parent_id: str | None = None,
        run_id: str | None = None,
    ) -> None:
        self.run_id: str | None = None
        self.uri = tracking_uri(cfg)
        self._client = None
        if not enabled():
            return
        try:
            from mlflow.tracking import MlflowClient

            client = MlflowClient(tracking_uri=self.uri)
            if run_id is None:
                all_tags = {**(tags or {}), **({"mlflow.parentRunId": parent_id} if parent_id else {})}
                experiment_id = ensure_experiment(client, cfg.experiment, self.uri)
                run_id = client.create_run(experiment_id, tags=all_tags, run_name=name).info.run_id
            self._client, self.run_id = client, run_id
        except Exception as error:  # any store, network or permission problem
            self._disable(error)

    @classmethod
    def attach(cls, cfg: TrackingConfig, run_id: str) -> Run:
        return cls(cfg, run_id=run_id)

    def _disable(self, error: Exception) -> None:
        print(
            f"mtsed: warning: MLflow tracking disabled for this run ({type(error).__name__}: {error})", file=sys.stderr
        )
        self._client, self.run_id = None, None

    def _guard(self, method, *args) -> Any:
        if not self.active:
            return None
        try:
            return method(*args)
        except Exception as error:
            self._disable(error)
            return None

    @property
    def active(self) -> bool:
        return self.run_id is not None

    def log_params(self, values: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:6000]) for k, v in flatten(values).items()]
        for i in range(0, len(items), 100):
            self._guard(lambda chunk: self._client.log_batch(self.run_id, params=chunk), items[i : i + 100])

    def log_metrics(self, values: Mapping[str, Any], step: int = 0) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, v, now, step) for k, v in numeric_metrics(values).items()]
        for i in range(0, len(items), 500):
            self._guard(lambda chunk: self._client.log_batch(self.run_id, metrics=chunk), items[i : i + 500])

    def set_tags(self, values: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        self._guard(lambda: self._client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in values.items()]))

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        if path.is_dir():
            self._guard(lambda: self._client.log_artifacts(self.run_id, str(path), folder))
        elif path.is_file():
            self._guard(lambda: self._client.log_artifact(self.run_id, str(path), folder))

    def end(self, status: str = "FINISHED") -> None:
        self._guard(lambda: self._client.set_terminated(self.run_id, status))

    def children(self) -> list:
        """The child runs of this run (stages that logged under it), as MLflow ``Run`` objects."""

        def search() -> list:
            experiment = self._client.get_run(self.run_id).info.experiment_id
            return self._client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{self.run_id}'")

        return self._guard(search) or []

    def end_running_children(self, status: str = "FAILED") -> list[str]:
        """End every child run still RUNNING (its stage process was killed before it could
        end the run itself); returns their ids."""
        running = [child.info.run_id for child in self.children() if child.info.status == "RUNNING"]
        for run_id in running:
            self._guard(self._client.set_terminated, run_id, status)
        return running


def ensure_experiment(client, name: str, uri: str) -> str:
    """The id of experiment ``name``, created (with a local artefact root for SQLite) if new."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.artifact_location.startswith("mlflow-artifacts:") and not uri.startswith(("http://", "https://")):
            raise RuntimeError(
                f"experiment {name!r} keeps its artefacts on a tracking server (it was created through one): "
                "start it (`make ui`) and set MLFLOW_TRACKING_URI=http://127.0.0.1:5000"
            )
        return experiment.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        location = (Path(uri[len("sqlite:///") :]).parent / "mlartifacts").resolve().as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # created meanwhile by a concurrent stage
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


def commit_tags() -> dict[str, str]:
    """The checked-out commit, under MLflow's own tag and ours."""
    commit = git_commit()
    return {"mlflow.source.git.commit": commit, "mtsed.git_commit": commit}


def common_tags(params: Params) -> dict[str, str]:
    """Tags every run carries so runs can be filtered and compared in the UI."""
    return {**commit_tags(), "mtsed.params_hash": params_hash(params)}


def stage_run(params: Params, stage: str, inputs: Iterable[Path] = (), tags: Mapping[str, str] | None = None) -> Run:
    """Open the child run of one stage invocation, tagged and with every parameter logged."""
    name = "-".join([stage, *[str(v) for v in (tags or {}).values()]])
    all_tags = {**common_tags(params), "mtsed.stage": stage, **{f"mtsed.{k}": str(v) for k, v in (tags or {}).items()}}
    if enabled():
        all_tags["mtsed.data_hash"] = data_hash([p for p in inputs if Path(p).exists()])
    run = Run(params.tracking, name, all_tags, os.environ.get(PARENT_ENV) or None)
    if run.active:
        run.log_params(asdict(params))
    return run


EXECUTION_TAG = "mtsed.execution"  # a Kubeflow job id: how the exit handler finds the parent run
OUTCOME_TAG = "mtsed.outcome"  # on parent runs: succeeded, failed, or no stage ran


def pipeline_run(params: Params, name: str, execution: str = "") -> Run:
    """Open the parent run of one pipeline execution (described by :func:`describe_pipeline`);
    ``execution`` (a Kubeflow job id) tags it so that the exit handler can find it."""
    return Run(
        params.tracking,
        name,
        {**commit_tags(), "mtsed.stage": "pipeline", **({EXECUTION_TAG: execution} if execution else {})},
    )


def close_execution(cfg: TrackingConfig, execution: str, succeeded: bool) -> list[str]:
    """End the parent run tagged with ``execution`` however the execution ended: FINISHED
    if it succeeded, else FAILED, and every child run still RUNNING (a stage whose pod was
    killed) FAILED.  Kubeflow's exit handler calls this: it cannot take the parent run id
    from the task that created it.  Returns the ids of the runs it ended."""
    if not enabled() or not execution:
        return []
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri(cfg))
    experiment = client.get_experiment_by_name(cfg.experiment)
    if experiment is None:
        return []
    ended = []
    for found in client.search_runs([experiment.experiment_id], f"tags.`{EXECUTION_TAG}` = '{execution}'"):
        parent = Run.attach(cfg, found.info.run_id)
        ended += parent.end_running_children("FAILED")
        if found.info.status == "RUNNING":
            parent.set_tags({OUTCOME_TAG: "succeeded" if succeeded else "failed"})
            parent.end("FINISHED" if succeeded else "FAILED")
            ended.append(found.info.run_id)
    return ended


def mark_if_empty(run: Run) -> bool:
    """Tag a parent run under which no stage ran (``dvc repro`` found everything up to date),
    so that it is never mistaken for a result; returns whether it was empty."""
    if not run.active or run.children():
        return False
    run.set_tags(
        {
            OUTCOME_TAG: "no stage ran",
            "mlflow.note.content": "No stage ran under this run (everything was up to date): "
            "it holds no results of its own.",
        }
    )
    return True


def describe_pipeline(run: Run, params: Params) -> None:
    """Tag the parent run with what the pipeline ran (data sets, systems, parameters).

    Called when the execution ends, so ``dvc exp run -S key=value`` (which edits
    ``params.yaml`` after the parent run opened) is described by the values it ran with.
    """
    from mtsed.config.layout import SETS
    from mtsed.config.systems import SYSTEMS

    run.set_tags(
        {"mtsed.params_hash": params_hash(params), "mtsed.set": ",".join(SETS), "mtsed.system": ",".join(SYSTEMS)}
    )
    run.log_params(asdict(params))


def parent_run(cfg: TrackingConfig) -> Run | None:
    """The pipeline's parent run this stage runs under (``MTSED_PARENT_RUN_ID``), if any."""
    run_id = os.environ.get(PARENT_ENV)
    return Run.attach(cfg, run_id) if run_id else None


def log_to_parent(cfg: TrackingConfig, metrics: Mapping[str, Any], artifacts: Sequence[tuple[Path, str]] = ()) -> None:
    """Add one stage's summary to the parent run: prefixed metrics (the same names in every
    execution, so parent runs compare side by side) and files under a folder per stage."""
    parent = parent_run(cfg) if metrics or artifacts else None
    if parent is None:
        return
    parent.log_metrics(metrics)
    for path, folder in artifacts:
        parent.log_artifact(Path(path), folder)
