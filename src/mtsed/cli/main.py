"""The ``mtsed`` command: one entry point for DVC stages, the Docker image and users.

Only argument parsing lives here.  Each stage sub-command is built from the stage table of
:mod:`mtsed.adapters.runner`, reads ``params.yaml`` once (via :mod:`mtsed.config`) and hands
both to :func:`~mtsed.adapters.runner.run_stage`, which runs it inside an MLflow child run,
prints its metrics and optionally saves them as JSON.  ``mtsed tracked -- CMD`` wraps a
whole pipeline execution (``dvc repro``) in the parent run.  The other commands are in
:mod:`mtsed.cli.commands`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mtsed.adapters import runner
from mtsed.adapters.runner import STAGES
from mtsed.config import ConfigError, load_params
from mtsed.config.layout import bundle_file, registered_name
from mtsed.config.systems import DEFAULT_SYSTEM


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mtsed", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="parameter file (default: params.yaml)")
    parser.add_argument("--metrics", help="also write the stage's metrics to this JSON file")
    sub = parser.add_subparsers(dest="command", required=True)

    for stage in STAGES.values():
        p = sub.add_parser(stage.name, help=stage.help)
        for option in stage.options:
            default = option.default() if callable(option.default) else option.default
            p.add_argument(
                f"--{option.name.replace('_', '-')}",
                dest=option.name,
                help=option.help or None,
                required=default is None,
                default=default,
                choices=option.choices or None,
            )
        p.set_defaults(stage=stage.name)

    p = sub.add_parser("evaluate", help="score estimated DCASE event lists against reference lists")
    p.add_argument("reference", help="event list (onset offset label, or file onset offset label) or a folder of lists")
    p.add_argument("estimated", help="the same layout as the reference")
    p.add_argument(
        "--scores",
        default="",
        help="folder of frame-score files (`mtsed detect --scores`, sed_scores_eval "
        "layout: <file>.tsv with onset offset <class>...): adds PSDS1, PSDS2 and per-class threshold-free scores",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler="evaluate")

    p = sub.add_parser("detect", help="find sound events in audio files with a trained model bundle")
    p.add_argument(
        "audio",
        nargs="+",
        help="audio files (any format libsndfile reads), folders (searched recursively) "
        "or glob patterns such as 'field/**/*.flac'",
    )
    p.add_argument(
        "--model",
        default=str(bundle_file("overlapping", DEFAULT_SYSTEM)),
        help=f"model bundle (default: the {DEFAULT_SYSTEM} system of `make run`, the best on validation)",
    )
    p.add_argument("--out", default="detections", help="folder for one <name>.tsv event list per file")
    p.add_argument(
        "--scores",
        default="",
        help="also write each file's frame scores here (<name>.tsv, sed_scores_eval "
        "layout: onset offset <class>...), for threshold-free evaluation (`mtsed evaluate --scores`)",
    )
    p.add_argument(
        "--combined",
        default="",
        help="also write one list of every file's events here "
        "(DESED layout: filename onset offset event_label, with that header)",
    )
    p.add_argument(
        "--pages",
        default="",
        help="also write a page per file to look at its detections (log-mel, events, "
        "score curves, playback) and an index.html here; opened from disk, no server",
    )
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        default="auto",
        help="auto: fp32 on CPU, fp16 on CUDA; bf16: x1.4-2.4 faster on CPUs with AVX-512 BF16/AMX, "
        "events differ slightly (benchmarks/RESULTS.md)",
    )
    p.set_defaults(handler="detect")

    p = sub.add_parser(
        "preset", help="print a preset's overrides as `dvc exp run` arguments (what `make run PRESET=...` runs)"
    )
    p.add_argument("name", help="presets/<name>.yaml, e.g. long or paper")
    p.set_defaults(handler="preset")

    p = sub.add_parser("pipeline", help="the Kubeflow Pipelines DAG: compile, submit, or run it locally")
    psub = p.add_subparsers(dest="action", required=True)
    c = psub.add_parser("compile", help="write the compiled pipeline (IR YAML)")
    c.add_argument("--out", default="pipeline/pipeline.yaml")
    c.add_argument(
        "--components", default="components", help="also write each component's compiled spec here ('' not to)"
    )
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
        command.add_argument(
            "--preset", default="", help="apply presets/<name>.yaml to params.yaml first (long, paper)"
        )
    p.set_defaults(handler="pipeline")

    p = sub.add_parser("ui", help="start the MLflow tracking server and UI (what `make ui` runs)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument(
        "--backend-store-uri",
        default="",
        help="database of runs (default: sqlite:///<here>/mlflow.db; "
        "PostgreSQL: postgresql+psycopg2://user@host:port/db)",
    )
    p.add_argument("--artifacts", default="mlartifacts", help="folder the server keeps artefacts in")
    p.set_defaults(handler="ui")

    p = sub.add_parser("serve", help="serve a registered detector over HTTP (mlflow models serve)")
    p.add_argument(
        "model",
        nargs="?",
        default=f"models:/{registered_name('overlapping', DEFAULT_SYSTEM)}/latest",
        help=f"model URI (default: the newest registered overlapping {DEFAULT_SYSTEM} detector)",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5001)
    p.set_defaults(handler="serve")

    p = sub.add_parser("tracked", help="run a command (e.g. dvc repro) as one MLflow parent run")
    p.add_argument("--name", default="pipeline", help="name of the parent run")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="the command, after --")
    return parser


def _tracked(args: argparse.Namespace) -> int:
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        print("mtsed tracked: error: give the command to run after --", file=sys.stderr)
        return 2
    return runner.run_tracked(cmd, Path(args.params), args.name)


def _run_stage(args: argparse.Namespace) -> int:
    options = {o.name: getattr(args, o.name) for o in STAGES[args.stage].options}
    runner.run_stage(args.stage, load_params(args.params), options, Path(args.metrics) if args.metrics else None)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "tracked":
            return _tracked(args)
        if getattr(args, "handler", None):
            from mtsed.cli import commands

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
