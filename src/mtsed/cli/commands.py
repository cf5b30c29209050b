"""User commands that are not pipeline stages: ``evaluate``, ``detect``, ``pipeline``, ``ui``, ``serve``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from mtsed.config.layout import TABLE_FILE


def evaluate(args: argparse.Namespace) -> int:
    """Print sed_eval event-based and segment-based scores of ``args.estimated`` against
    ``args.reference`` (and threshold-free ones of ``args.scores``, when given)."""
    from mtsed.evaluation.event_lists import score_event_lists

    scores = score_event_lists(Path(args.reference), Path(args.estimated), Path(args.scores) if args.scores else None)
    if args.json:
        print(json.dumps(scores.summary(), indent=2))
    else:
        from mtsed.evaluation.report import comparison_table, field_table

        title = f"{args.estimated} vs {args.reference}"
        print(comparison_table(title, {"estimated": scores.result}, scores.labels))
        print(field_table({"estimated": scores.result}, scores.labels))
    return 0


def detect(args: argparse.Namespace) -> int:
    """Write one DCASE event list per audio file (and with ``--scores``, its frame scores in
    the ``sed_scores_eval`` layout; with ``--combined``, one DESED list of all files; with
    ``--pages``, a page per file to look at and an index, :mod:`mtsed.evaluation.pages`).
    Inputs are files, folders (searched recursively) or glob patterns; bad files are
    reported and skipped, and the command then exits with 1."""
    from mtsed.detection.bundle import load_bundle
    from mtsed.detection.files import detect_files, expand_inputs

    inputs = expand_inputs(args.audio)
    if not inputs:
        raise FileNotFoundError(f"no audio files in {', '.join(args.audio)}")
    bundle = dataclasses.replace(load_bundle(Path(args.model)), precision=args.precision)
    print(
        f"model: {args.model} ({bundle.system}, {len(bundle.folds)} fold models, classes: {', '.join(bundle.labels)})"
    )
    result = detect_files(
        bundle,
        inputs,
        Path(args.out),
        Path(args.scores) if args.scores else None,
        Path(args.pages) if args.pages else None,
        Path(args.combined) if args.combined else None,
    )
    if args.combined:
        print(f"{len(result.found)} files, {result.events} events -> {args.combined}")
    if result.pages_index is not None:
        print(f"{len(result.found)} pages -> {result.pages_index} (open it in a browser)")
    if result.failed:
        print(f"mtsed detect: {result.failed} of {len(inputs)} files failed", file=sys.stderr)
    return 1 if result.failed else 0


def preset(args: argparse.Namespace) -> int:
    """Print ``-S key=value`` for each override of a preset, checked against params.yaml."""
    from mtsed.config.overrides import apply_preset, read_preset

    apply_preset(Path(args.params).read_text(), args.name)  # fails here, naming the key, if the preset is wrong
    print(" ".join(f"-S {item}" for item in read_preset(args.name)))
    return 0


def pipeline(args: argparse.Namespace) -> int:
    """``mtsed pipeline compile|submit|local``."""
    from mtsed.config.overrides import apply_preset, with_overrides

    text = Path(args.params).read_text()
    if args.preset:
        text = apply_preset(text, args.preset)
    params_yaml = with_overrides(text, getattr(args, "param", []))
    if args.action == "compile":
        from mtsed.adapters.kubeflow.pipeline import Resources, compile_components, compile_pipeline

        out = compile_pipeline(params_yaml, Path(args.out), Resources(args.accelerator, args.accelerator_limit))
        print(f"compiled pipeline: {out}")
        if args.components:
            specs = compile_components(Path(args.components))
            print(f"compiled {len(specs)} components: {args.components}/<name>.yaml")
    elif args.action == "submit":
        from mtsed.adapters.kubeflow.submit import submit

        run_id = submit(params_yaml, args.host, args.experiment, args.run_name, args.tracking_uri)
        print(f"submitted run {run_id} to {args.host} (experiment {args.experiment})")
    else:
        from mtsed.adapters.kubeflow.local import run_local, summary

        reports = run_local(params_yaml, Path(args.root))
        for folder in reports.values():
            print((folder / TABLE_FILE).read_text())
        print(json.dumps(summary(reports), indent=2))
    return 0


def ui(args: argparse.Namespace) -> int:
    """Print the address, then become ``mlflow server`` (Ctrl-C stops it)."""
    from mtsed.adapters import servers as server

    backend = args.backend_store_uri or server.default_backend()
    server.check_port(args.host, args.port)
    server.check_backend_store(backend)
    server.check_artifacts(Path(args.artifacts))
    address = server.url(args.host, args.port)
    print(
        f"MLflow UI: {address}  (backend store {backend}, artefacts in {Path(args.artifacts).resolve()})\n"
        f"log a pipeline run to it: MLFLOW_TRACKING_URI={address} make run",
        flush=True,
    )
    command = server.server_command(backend, Path(args.artifacts), args.host, args.port)
    os.execve(command[0], command, server.server_env())
    return 0  # not reached


def serve(args: argparse.Namespace) -> int:
    """Become ``mlflow models serve`` on a registered detector (POST /invocations)."""
    from mtsed.adapters import servers as server
    from mtsed.adapters.registry import AUDIO_ROOTS_ENV

    tracking = os.environ.get("MLFLOW_TRACKING_URI", "")
    server.check_port(args.host, args.port)
    server.check_serving_store(tracking, args.model)
    env = server.serve_env()
    if AUDIO_ROOTS_ENV not in env:  # the safe default: paths under here on loopback, none on other hosts
        env[AUDIO_ROOTS_ENV] = str(Path.cwd().resolve()) if server.is_loopback(args.host) else ""
    roots = env[AUDIO_ROOTS_ENV] or "none (uploads only; set MTSED_AUDIO_ROOTS to allow paths)"
    print(
        f"serving {args.model} at {server.url(args.host, args.port)}/invocations "
        f"(tracking store: {tracking or 'MLFLOW_TRACKING_URI unset'}; audio paths under: {roots})",
        flush=True,
    )
    command = server.serve_command(args.model, args.host, args.port)
    os.execve(command[0], command, env)
    return 0  # not reached
