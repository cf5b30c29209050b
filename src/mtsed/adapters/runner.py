"""The stage runner: each pipeline stage as one MLflow child run, and a whole pipeline
execution as their parent run.

The stage table (:data:`STAGES`) says, per stage, which options it takes, which function
of :mod:`mtsed.stages` it calls, and what it records: the inputs hashed into its data tag,
its tags, the artefacts it logs, and the summary it adds to the parent run.  The CLI builds
its stage sub-commands from this table and DVC runs those; Kubeflow components call
:func:`run_stage` directly.  So a stage is run, tracked and recorded the same way on every
path, and the CLI is only an argument parser.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from mtsed.adapters import tracking
from mtsed.config import ConfigError, Params, load_params
from mtsed.config.layout import (
    BUNDLE_FILE,
    BUNDLES_ROOT,
    CHECKPOINT_FILE,
    HISTORY_FILE,
    MANIFEST_FILE,
    MODELS_ROOT,
    OUTPUTS_ROOT,
    REPORTS_ROOT,
    RUN_CONFIG_FILE,
    STATS_FILE,
    TABLE_FILE,
    THRESHOLDS_FILE,
    registered_name,
    system_folders,
)
from mtsed.config.systems import NETWORKS, SYSTEMS
from mtsed.io.fileio import write_text
from mtsed.measures.distance_errors import is_error_metric
from mtsed.stages import training

Options = SimpleNamespace  # a stage's option values by name, as strings (paths, fold, system)


def cache_dir() -> Path:
    """Where downloaded ``.deb`` files are kept: ``$MTSED_CACHE_DIR``, else the user cache."""
    root = os.environ.get("MTSED_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "mtsed"
    )
    return Path(root) / "debs"


@dataclass(frozen=True)
class Option:
    """One option of a stage: ``--<name>`` on the command line (underscores as dashes)."""

    name: str
    help: str = ""
    default: str | Callable[[], str] | None = None  # None: required
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stage:
    """One pipeline stage as the runner runs it."""

    name: str
    help: str
    options: tuple[Option, ...]
    run: Callable[[Params, Options, tracking.Run], dict]
    inputs: Callable[[Options], list[str]] = lambda o: []
    tags: Callable[[Options], dict[str, str]] = lambda o: {}
    artifacts: Callable[[Options], list[Path]] = lambda o: []
    summary: Callable[[Options, dict], tuple[dict, list[tuple[Path, str]]]] = lambda o, m: ({}, [])

    def options_from(self, given: Mapping[str, object]) -> Options:
        """The stage's options: ``given`` values, defaults for the rest; an unknown or missing
        option raises ``ValueError`` naming it."""
        known = {o.name for o in self.options}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError(f"stage {self.name}: unknown option(s) {unknown}; it takes {sorted(known)}")
        values = {}
        for option in self.options:
            value = given.get(option.name, option.default)
            if value is None:
                raise ValueError(f"stage {self.name}: option {option.name!r} is required")
            value = value() if callable(value) else str(value)
            if option.choices and value not in option.choices:
                raise ValueError(
                    f"stage {self.name}: {option.name} must be one of {list(option.choices)}, not {value!r}"
                )
            values[option.name] = value
        return Options(**values)


def _set_of(path: str) -> str:
    return Path(path).name


def _run_clips(params: Params, o: Options, run: tracking.Run) -> dict:
    from mtsed.stages import clips

    return clips.clips(params.clips, params.generated_labels(), Path(o.out), Path(o.cache_dir))


def _run_prepare(params: Params, o: Options, run: tracking.Run) -> dict:
    from mtsed.stages import prepare

    return prepare.prepare(params.data, params.prepare, Path(o.clips), Path(o.out))


def _run_features(params: Params, o: Options, run: tracking.Run) -> dict:
    from mtsed.stages import features

    return features.features(params.features, Path(o.data), Path(o.out))


def _run_targets(params: Params, o: Options, run: tracking.Run) -> dict:
    from mtsed.stages import targets

    return targets.targets(params.features, params.targets, Path(o.data), Path(o.features), Path(o.out))


def _run_train(params: Params, o: Options, run: tracking.Run) -> dict:
    return training.train(
        params.model,
        params.train,
        Path(o.features),
        Path(o.targets),
        o.fold,
        o.network,
        Path(o.out),
        on_epoch=lambda epoch, values: run.log_metrics(values, step=epoch),
    )


def _run_ensemble(params: Params, o: Options, run: tracking.Run) -> dict:
    from mtsed.stages import detector

    return detector.ensemble(Path(o.features), Path(o.models), Path(o.out))


def _threshold_system(o: Options) -> str:
    """The system a thresholds run makes a bundle for: ``system``, else the network's own."""
    return o.system or Path(o.models).name


def _run_thresholds(params: Params, o: Options, run: tracking.Run) -> dict:
    from mtsed.stages import detector

    return detector.thresholds(
        params.features, params.thresholds, Path(o.data), Path(o.outputs), Path(o.models), Path(o.out), o.system
    )


def _run_evaluate_set(params: Params, o: Options, run: tracking.Run) -> dict:
    from mtsed.stages import evaluation

    name = _set_of(o.data)
    systems = system_folders(name, Path(o.outputs), Path(o.bundles), Path(o.models))
    results = evaluation.evaluate(Path(o.data), Path(o.features), Path(o.targets), systems, Path(o.out))
    print((Path(o.out) / TABLE_FILE).read_text())  # the stage writes its tables; showing them is the runner's
    if run.active:
        _register_detectors(
            run, name, Path(o.data), {s: bundle / BUNDLE_FILE for s, (_, bundle, _) in systems.items()}, results
        )
    return results


def _register_detectors(run: tracking.Run, set_name: str, data: Path, bundles: dict[str, Path], results: dict) -> None:
    """Register each system's bundle as a servable model version tagged with its scores."""
    from mtsed.adapters import registry
    from mtsed.data.datasets import load_dataset

    dataset = load_dataset(data)
    example = dataset.audio_path(dataset.evaluation()[0])
    for system, bundle in bundles.items():
        name = registered_name(set_name, system)
        scores = {
            f"{scope}.{key}": results[system][scope][key]
            for scope in ("overall", "class_average")
            for key in ("f1", "er")
        }
        version = registry.log_detector(
            run.uri, run.run_id, bundle, name, example, {**scores, "set": set_name, "system": system}
        )
        if version:
            print(f"mtsed: registered model {name} version {version}", file=sys.stderr)


def _train_summary(o: Options, metrics: dict) -> tuple[dict, list]:
    prefix = f"{_set_of(o.features)}.{o.network}.fold-{o.fold}"
    shown = [k for k in metrics if k in ("segments_per_second", "best_validation_loss") or is_error_metric(k)]
    return {f"{prefix}.{k}": metrics[k] for k in shown}, []


def _thresholds_summary(o: Options, metrics: dict) -> tuple[dict, list]:
    set_name, system = _set_of(o.data), _threshold_system(o)
    return (
        {f"{set_name}.{system}.search_seconds": metrics["search_seconds"]},
        [(Path(o.out) / THRESHOLDS_FILE, f"thresholds/{set_name}/{system}")],
    )


def _evaluate_summary(o: Options, metrics: dict) -> tuple[dict, list]:
    set_name = _set_of(o.data)
    return {set_name: metrics}, [(Path(o.out), f"{REPORTS_ROOT.name}/{set_name}")]


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage(
            "clips",
            "curate real clips (Debian packages or your folder)",
            (
                Option("out", default="data/clips"),
                Option("cache_dir", "where downloaded .deb files are kept", default=lambda: str(cache_dir())),
            ),
            _run_clips,
        ),
        Stage(
            "prepare",
            "mix the default isolated and overlapping data sets",
            (Option("clips", default="data/clips"), Option("out", default="data")),
            _run_prepare,
            inputs=lambda o: [o.clips],
        ),
        Stage(
            "features",
            "log-mel features of one data set",
            (Option("data", "data set folder holding manifest.json"), Option("out")),
            _run_features,
            inputs=lambda o: [o.data],
            tags=lambda o: {"set": _set_of(o.data)},
            artifacts=lambda o: [Path(o.out) / MANIFEST_FILE, Path(o.out) / STATS_FILE],
        ),
        Stage(
            "targets",
            "triplet targets of one data set",
            (Option("data"), Option("features"), Option("out")),
            _run_targets,
            inputs=lambda o: [o.data, o.features],
            tags=lambda o: {"set": _set_of(o.data)},
            artifacts=lambda o: [Path(o.out) / MANIFEST_FILE],
        ),
        Stage(
            "train",
            "train one network on one cross-validation fold",
            (
                Option("features", "features folder of one data set"),
                Option("targets", "targets folder of the same data set"),
                Option("fold", "fold name (0, 1, ... as in the features manifest)"),
                Option("network", "proposed (multi-task) or baseline", choices=NETWORKS),
                Option("out", "model folder (best.pt, last.pt, history.json, config.json)"),
            ),
            _run_train,
            inputs=lambda o: [o.features, o.targets],
            summary=_train_summary,
            tags=lambda o: {"set": _set_of(o.features), "network": o.network, "fold": o.fold},
            artifacts=lambda o: [Path(o.out) / n for n in (CHECKPOINT_FILE, RUN_CONFIG_FILE, HISTORY_FILE)],
        ),
        Stage(
            "ensemble",
            "outputs of every fold model on validation and evaluation recordings",
            (Option("features"), Option("models", "folder holding fold-*/best.pt of one network"), Option("out")),
            _run_ensemble,
            inputs=lambda o: [o.features, o.models],
            artifacts=lambda o: [Path(o.out) / MANIFEST_FILE],
            tags=lambda o: {"set": _set_of(o.features), "network": Path(o.models).name},
        ),
        Stage(
            "thresholds",
            "per-class threshold search; writes the model bundle",
            (
                Option("data", "data set folder (reference events)"),
                Option("outputs", "ensemble stage output of one network"),
                Option("models"),
                Option("out", "bundle folder (bundle.pt, thresholds.json)"),
                Option(
                    "system",
                    "system whose bundle to write (default: the network's own; multitask reads the proposed network)",
                    default="",
                    choices=("", *SYSTEMS),
                ),
            ),
            _run_thresholds,
            inputs=lambda o: [o.data, o.outputs],
            artifacts=lambda o: [Path(o.out)],
            summary=_thresholds_summary,
            tags=lambda o: {"set": _set_of(o.data), "system": _threshold_system(o)},
        ),
        Stage(
            "evaluate-set",
            "evaluate every system on a data set's evaluation split: tables and plots",
            (
                Option("data"),
                Option("features"),
                Option("targets", "targets folder of the data set (for the diagnostics)"),
                Option("outputs", "root of ensemble outputs (<root>/<set>/<network>)", default=str(OUTPUTS_ROOT)),
                Option("bundles", default=str(BUNDLES_ROOT)),
                Option("models", default=str(MODELS_ROOT)),
                Option("out"),
            ),
            _run_evaluate_set,
            inputs=lambda o: [o.data, o.targets],
            artifacts=lambda o: [Path(o.out)],
            summary=_evaluate_summary,
            tags=lambda o: {"set": _set_of(o.data)},
        ),
    )
}


def run_stage(name: str, params: Params, options: Mapping[str, object], metrics_path: Path | None = None) -> dict:
    """Run stage ``name`` inside its MLflow child run: print its metrics (and write them to
    ``metrics_path``), log them and its artefacts, and add its summary to the parent run.
    The run ends FAILED (KILLED on an interrupt) if the stage raises."""
    stage = STAGES[name]
    o = stage.options_from(options)
    run = tracking.stage_run(params, name, inputs=[Path(p) for p in stage.inputs(o)], tags=stage.tags(o))
    try:
        metrics = stage.run(params, o, run)
    except KeyboardInterrupt:
        run.end("KILLED")
        raise
    except BaseException:
        run.end("FAILED")
        raise
    text = json.dumps(metrics, indent=2)
    print(text)
    if metrics_path:
        write_text(metrics_path, text + "\n")
    run.log_metrics(metrics)
    for path in [*stage.artifacts(o), *([Path(metrics_path)] if metrics_path else [])]:
        run.log_artifact(Path(path))
    run.end()
    summary, files = stage.summary(o, metrics)
    tracking.log_to_parent(params.tracking, summary, files)
    return metrics


def run_tracked(cmd: Sequence[str], params_path: Path, name: str = "pipeline") -> int:
    """Run ``cmd`` (e.g. ``dvc repro``) with every stage it starts logging under one parent
    run; returns the command's exit code."""
    params = load_params(params_path)
    run = tracking.pipeline_run(params, name)
    env = dict(os.environ)
    if run.active:
        env[tracking.PARENT_ENV] = run.run_id
        print(f"mtsed: MLflow parent run {run.run_id} at {tracking.tracking_uri(params.tracking)}", file=sys.stderr)
    try:
        code = subprocess.call(list(cmd), env=env)
    except KeyboardInterrupt:
        run.end("KILLED")
        marked = f"parent run {run.run_id} marked KILLED; " if run.run_id else ""
        print(f"\nmtsed tracked: interrupted; {marked}a rerun resumes where the stages stopped", file=sys.stderr)
        return 130
    except OSError as error:
        print(f"mtsed tracked: error: cannot run {cmd[0]}: {error}", file=sys.stderr)
        code = 127
    try:
        tracking.describe_pipeline(run, load_params(params_path))  # the values it ran with (dvc exp may edit the file)
    except ConfigError as error:
        print(f"mtsed tracked: warning: parent run not described ({error})", file=sys.stderr)
    killed = run.end_running_children("FAILED")  # stages killed before they could end their runs
    if killed:
        print(f"mtsed tracked: marked {len(killed)} unfinished stage run(s) FAILED", file=sys.stderr)
    if code == 0 and tracking.mark_if_empty(run):
        print(
            f"mtsed tracked: no stage ran; parent run {run.run_id} tagged {tracking.OUTCOME_TAG}=no stage ran",
            file=sys.stderr,
        )
    elif run.active:
        run.set_tags({tracking.OUTCOME_TAG: "succeeded" if code == 0 else "failed"})
    run.end("FINISHED" if code == 0 else "FAILED")
    return code
