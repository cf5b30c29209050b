"""The ``mtsed`` command: one entry point for DVC stages, the Docker image and users.

Each stage sub-command reads ``params.yaml`` (via :mod:`mtsed.config`), calls one function
of :mod:`mtsed.stages` inside an MLflow child run (:mod:`mtsed.tracking`), prints its
metrics and optionally saves them as JSON.  ``mtsed tracked -- CMD`` wraps a whole
pipeline execution (``dvc repro``) in the parent run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from mtsed import stages, tracking
from mtsed.config import ConfigError, Params, load_params
from mtsed.systems import DEFAULT_SYSTEM, NETWORKS, SYSTEMS, network_of


def _cache_dir() -> Path:
    root = os.environ.get("MTSED_CACHE_DIR") or os.path.join(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"), "mtsed")
    return Path(root) / "debs"


def _run_clips(params: Params, args: argparse.Namespace, run: tracking.Run) -> dict:
    return stages.clips(params.clips, params.generated_labels(), Path(args.out), Path(args.cache_dir))


def _run_prepare(params: Params, args: argparse.Namespace, run: tracking.Run) -> dict:
    return stages.prepare(params.data, params.prepare, Path(args.clips), Path(args.out))


def _run_features(params: Params, args: argparse.Namespace, run: tracking.Run) -> dict:
    return stages.features(params.features, Path(args.data), Path(args.out))


def _run_targets(params: Params, args: argparse.Namespace, run: tracking.Run) -> dict:
    return stages.targets(params.features, params.targets, Path(args.data), Path(args.features), Path(args.out))


def _run_train(params: Params, args: argparse.Namespace, run: tracking.Run) -> dict:
    return stages.train(
        params.model, params.train, Path(args.features), Path(args.targets), args.fold, args.system, Path(args.out),
        on_epoch=lambda epoch, values: run.log_metrics(values, step=epoch),
    )


def _run_ensemble(params: Params, args: argparse.Namespace, run: tracking.Run) -> dict:
    from mtsed.stages import evaluation

    return evaluation.ensemble(Path(args.features), Path(args.models), Path(args.out))


def _run_thresholds(params: Params, args: argparse.Namespace, run: tracking.Run) -> dict:
    from mtsed.stages import evaluation

    return evaluation.thresholds(params.features, params.thresholds, Path(args.data), Path(args.outputs), Path(args.models), Path(args.out),
                                 args.system)


def _run_evaluate_set(params: Params, args: argparse.Namespace, run: tracking.Run) -> dict:
    from mtsed.stages import reporting

    name = Path(args.data).name
    systems = {
        system: (Path(args.outputs) / name / network_of(system), Path(args.bundles) / name / system,
                 Path(args.models) / name / network_of(system))
        for system in SYSTEMS
    }
    results = reporting.evaluate(Path(args.data), Path(args.features), Path(args.targets), systems, Path(args.out))
    if run.active:
        _register_detectors(run, name, Path(args.data), {s: bundle / "bundle.pt" for s, (_, bundle, _) in systems.items()}, results)
    return results


def _register_detectors(run: tracking.Run, set_name: str, data: Path, bundles: dict[str, Path], results: dict) -> None:
    """Register each system's bundle as a servable model version tagged with its scores."""
    from mtsed import registry
    from mtsed.data import load_dataset

    dataset = load_dataset(data)
    example = dataset.audio_path(dataset.evaluation()[0])
    for system, bundle in bundles.items():
        name = registry.registered_name(set_name, system)
        scores = {f"{scope}.{key}": results[system][scope][key] for scope in ("overall", "class_average") for key in ("f1", "er")}
        version = registry.log_detector(run.uri, run.run_id, bundle, name, example, {**scores, "set": set_name, "system": system})
        if version:
            print(f"mtsed: registered model {name} version {version}", file=sys.stderr)


def _no_paths(args: argparse.Namespace) -> list[str]:
    return []


def _no_summary(args: argparse.Namespace, metrics: dict) -> tuple[dict, list]:
    return {}, []


def _train_summary(args: argparse.Namespace, metrics: dict) -> tuple[dict, list]:
    prefix = f"{Path(args.features).name}.{args.system}.fold-{args.fold}"
    return {f"{prefix}.{k}": metrics[k] for k in ("segments_per_second", "best_validation_loss")}, []


def _thresholds_summary(args: argparse.Namespace, metrics: dict) -> tuple[dict, list]:
    set_name, system = Path(args.data).name, _threshold_system(args)
    return ({f"{set_name}.{system}.search_seconds": metrics["search_seconds"]},
            [(Path(args.out) / "thresholds.json", f"thresholds/{set_name}/{system}")])


def _threshold_system(args: argparse.Namespace) -> str:
    """The system a thresholds run makes a bundle for: ``--system``, else the network's own."""
    return args.system or Path(args.models).name


def _evaluate_summary(args: argparse.Namespace, metrics: dict) -> tuple[dict, list]:
    set_name = Path(args.data).name
    return {set_name: metrics}, [(Path(args.out), f"reports/{set_name}")]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mtsed", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")
    parser.add_argument("--metrics", help="also write the stage's metrics to this JSON file")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("clips", help="curate real clips (Debian packages or your folder)")
    p.add_argument("--out", default="data/clips")
    p.add_argument("--cache-dir", default=str(_cache_dir()), help="where downloaded .deb files are kept")
    p.set_defaults(run=_run_clips, inputs=_no_paths, tags=lambda a: {}, artifacts=_no_paths)

    p = sub.add_parser("prepare", help="mix the default isolated and overlapping data sets")
    p.add_argument("--clips", default="data/clips")
    p.add_argument("--out", default="data")
    p.set_defaults(run=_run_prepare, inputs=lambda a: [a.clips], tags=lambda a: {}, artifacts=_no_paths)

    p = sub.add_parser("features", help="log-mel features of one data set")
    p.add_argument("--data", required=True, help="data set folder holding manifest.json")
    p.add_argument("--out", required=True)
    p.set_defaults(run=_run_features, inputs=lambda a: [a.data], tags=lambda a: {"set": Path(a.data).name},
                   artifacts=lambda a: [Path(a.out) / "manifest.json", Path(a.out) / "stats.json"])

    p = sub.add_parser("targets", help="triplet targets of one data set")
    p.add_argument("--data", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(run=_run_targets, inputs=lambda a: [a.data, a.features], tags=lambda a: {"set": Path(a.data).name},
                   artifacts=lambda a: [Path(a.out) / "manifest.json"])

    p = sub.add_parser("train", help="train one system on one cross-validation fold")
    p.add_argument("--features", required=True, help="features folder of one data set")
    p.add_argument("--targets", required=True, help="targets folder of the same data set")
    p.add_argument("--fold", required=True, help="fold name (0, 1, ... as in the features manifest)")
    p.add_argument("--system", required=True, choices=NETWORKS, help="network: proposed (multi-task) or baseline")
    p.add_argument("--out", required=True, help="model folder (best.pt, last.pt, history.json, config.json)")
    p.set_defaults(
        run=_run_train, inputs=lambda a: [a.features, a.targets], summary=_train_summary,
        tags=lambda a: {"set": Path(a.features).name, "system": a.system, "fold": a.fold},
        artifacts=lambda a: [Path(a.out) / n for n in ("best.pt", "config.json", "history.json")],
    )

    p = sub.add_parser("ensemble", help="outputs of every fold model on validation and evaluation recordings")
    p.add_argument("--features", required=True)
    p.add_argument("--models", required=True, help="folder holding fold-*/best.pt of one system")
    p.add_argument("--out", required=True)
    p.set_defaults(run=_run_ensemble, inputs=lambda a: [a.features, a.models], artifacts=lambda a: [Path(a.out) / "manifest.json"],
                   tags=lambda a: {"set": Path(a.features).name, "system": Path(a.models).name})

    p = sub.add_parser("thresholds", help="per-class threshold search; writes the model bundle")
    p.add_argument("--data", required=True, help="data set folder (reference events)")
    p.add_argument("--outputs", required=True, help="ensemble stage output of one system")
    p.add_argument("--models", required=True)
    p.add_argument("--out", required=True, help="bundle folder (bundle.pt, thresholds.json)")
    p.add_argument("--system", default="", choices=["", *SYSTEMS],
                   help="system whose bundle to write (default: the network's own; multitask reads the proposed network)")
    p.set_defaults(run=_run_thresholds, inputs=lambda a: [a.data, a.outputs], artifacts=lambda a: [Path(a.out)], summary=_thresholds_summary,
                   tags=lambda a: {"set": Path(a.data).name, "system": _threshold_system(a)})

    p = sub.add_parser("evaluate-set", help="evaluate every system on a data set's evaluation split: tables and plots")
    p.add_argument("--data", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--targets", required=True, help="targets folder of the data set (for the diagnostics)")
    p.add_argument("--outputs", default="outputs", help="root of ensemble outputs (<root>/<set>/<network>)")
    p.add_argument("--bundles", default="bundles")
    p.add_argument("--models", default="models")
    p.add_argument("--out", required=True)
    p.set_defaults(run=_run_evaluate_set, inputs=lambda a: [a.data, a.targets], artifacts=lambda a: [Path(a.out)], summary=_evaluate_summary,
                   tags=lambda a: {"set": Path(a.data).name})

    p = sub.add_parser("evaluate", help="score estimated DCASE event lists against reference lists")
    p.add_argument("reference", help="event list (onset offset label, or file onset offset label) or a folder of lists")
    p.add_argument("estimated", help="the same layout as the reference")
    p.add_argument("--scores", default="", help="folder of frame-score files (`mtsed detect --scores`, sed_scores_eval "
                   "layout: <file>.tsv with onset offset <class>...): adds PSDS1, PSDS2 and per-class threshold-free scores")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler="evaluate")

    p = sub.add_parser("detect", help="find sound events in audio files with a trained model bundle")
    p.add_argument("audio", nargs="+", help="audio files (any format libsndfile reads), folders (searched recursively) "
                   "or glob patterns such as 'field/**/*.flac'")
    p.add_argument("--model", default=f"bundles/overlapping/{DEFAULT_SYSTEM}/bundle.pt",
                   help=f"model bundle (default: the {DEFAULT_SYSTEM} system of `make run`, the best on validation)")
    p.add_argument("--out", default="detections", help="folder for one <name>.tsv event list per file")
    p.add_argument("--scores", default="", help="also write each file's frame scores here (<name>.tsv, sed_scores_eval "
                   "layout: onset offset <class>...), for threshold-free evaluation (`mtsed evaluate --scores`)")
    p.add_argument("--combined", default="", help="also write one list of every file's events here "
                   "(DESED layout: filename onset offset event_label, with that header)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                   help="auto: fp32 on CPU, fp16 on CUDA; bf16: x1.4-2.4 faster on CPUs with AVX-512 BF16/AMX, "
                        "events differ slightly (benchmarks/RESULTS.md)")
    p.set_defaults(handler="detect")

    p = sub.add_parser("preset", help="print a preset's overrides as `dvc exp run` arguments (what `make run PRESET=...` runs)")
    p.add_argument("name", help="presets/<name>.yaml, e.g. long or paper")
    p.set_defaults(handler="preset")

    p = sub.add_parser("pipeline", help="the Kubeflow Pipelines DAG: compile, submit, or run it locally")
    psub = p.add_subparsers(dest="action", required=True)
    c = psub.add_parser("compile", help="write the compiled pipeline (IR YAML)")
    c.add_argument("--out", default="pipeline/pipeline.yaml")
    c.add_argument("--accelerator", default="nvidia.com/gpu", help="accelerator type of training tasks ('' for CPU)")
    c.add_argument("--accelerator-limit", type=int, default=1)
    s = psub.add_parser("submit", help="submit a run to a Kubeflow Pipelines server")
    s.add_argument("--host", required=True, help="KFP API endpoint, e.g. https://kubeflow.example.org/pipeline")
    s.add_argument("--experiment", default="mtsed")
    s.add_argument("--run-name", default="mtsed")
    s.add_argument("--tracking-uri", default="", help="MLflow server every task logs to (reachable from the pods)")
    s.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="override a params.yaml value")
    loc = psub.add_parser("local", help="run the whole DAG here with kfp.local (no Docker)")
    loc.add_argument("--root", default="kfp-local", help="pipeline root for the artefacts")
    loc.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    for command in (c, s, loc):
        command.add_argument("--preset", default="", help="apply presets/<name>.yaml to params.yaml first (long, paper)")
    p.set_defaults(handler="pipeline")

    p = sub.add_parser("ui", help="start the MLflow tracking server and UI (what `make ui` runs)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--backend-store-uri", default="", help="database of runs (default: sqlite:///<here>/mlflow.db; "
                   "PostgreSQL: postgresql+psycopg2://user@host:port/db)")
    p.add_argument("--artifacts", default="mlartifacts", help="folder the server keeps artefacts in")
    p.set_defaults(handler="ui")

    p = sub.add_parser("serve", help="serve a registered detector over HTTP (mlflow models serve)")
    p.add_argument("model", nargs="?", default=f"models:/mtsed-overlapping-{DEFAULT_SYSTEM}/latest",
                   help=f"model URI (default: the newest registered overlapping {DEFAULT_SYSTEM} detector)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5001)
    p.set_defaults(handler="serve")

    p = sub.add_parser("tracked", help="run a command (e.g. dvc repro) as one MLflow parent run")
    p.add_argument("--name", default="pipeline", help="name of the parent run")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="the command, after --")
    return parser


def _tracked(args: argparse.Namespace) -> int:
    """Run ``args.cmd`` with every stage it starts logging under one parent run."""
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        print("mtsed tracked: error: give the command to run after --", file=sys.stderr)
        return 2
    params = load_params(args.params)
    run = tracking.pipeline_run(params, args.name)
    env = dict(os.environ)
    if run.active:
        env[tracking.PARENT_ENV] = run.run_id
        print(f"mtsed: MLflow parent run {run.run_id} at {tracking.tracking_uri(params.tracking)}", file=sys.stderr)
    try:
        code = subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        run.end("KILLED")
        marked = f"parent run {run.run_id} marked KILLED; " if run.run_id else ""
        print(f"\nmtsed tracked: interrupted; {marked}a rerun resumes where the stages stopped", file=sys.stderr)
        return 130
    except OSError as error:
        print(f"mtsed tracked: error: cannot run {cmd[0]}: {error}", file=sys.stderr)
        code = 127
    try:
        tracking.describe_pipeline(run, load_params(args.params))  # the values it ran with
    except ConfigError as error:
        print(f"mtsed tracked: warning: parent run not described ({error})", file=sys.stderr)
    killed = run.end_running_children("FAILED")  # stages killed before they could end their runs
    if killed:
        print(f"mtsed tracked: marked {len(killed)} unfinished stage run(s) FAILED", file=sys.stderr)
    if code == 0 and tracking.mark_if_empty(run):
        print(f"mtsed tracked: no stage ran; parent run {run.run_id} tagged {tracking.OUTCOME_TAG}=no stage ran", file=sys.stderr)
    elif run.active:
        run.set_tags({tracking.OUTCOME_TAG: "succeeded" if code == 0 else "failed"})
    run.end("FINISHED" if code == 0 else "FAILED")
    return code


def _run_stage(args: argparse.Namespace) -> int:
    params = load_params(args.params)
    run = tracking.stage_run(params, args.command, inputs=[Path(p) for p in args.inputs(args)], tags=args.tags(args))
    try:
        metrics = args.run(params, args, run)
    except KeyboardInterrupt:
        run.end("KILLED")
        raise
    except BaseException:
        run.end("FAILED")
        raise
    text = json.dumps(metrics, indent=2)
    print(text)
    if args.metrics:
        from mtsed.fileio import write_text

        write_text(args.metrics, text + "\n")
    run.log_metrics(metrics)
    for path in [*args.artifacts(args), *([Path(args.metrics)] if args.metrics else [])]:
        run.log_artifact(Path(path))
    run.end()
    summary, files = getattr(args, "summary", _no_summary)(args, metrics)
    tracking.log_to_parent(params.tracking, summary, files)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "tracked":
            return _tracked(args)
        if getattr(args, "handler", None):
            from mtsed import commands

            return getattr(commands, args.handler)(args)
        return _run_stage(args)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"mtsed {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:  # one line, not a traceback from inside the work
        detail = str(interrupt) or "nothing half-written was kept; a rerun starts the step again"
        print(f"\nmtsed {args.command}: interrupted: {detail}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
