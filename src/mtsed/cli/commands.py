"""User commands that are not pipeline stages: ``evaluate``, ``detect``, ``pipeline``, ``ui``, ``serve``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections import Counter
from pathlib import Path

from mtsed.io.events import Event, read_event_lists, write_event_list


def _threshold_free(folder: Path, reference: dict[str, list[Event]]) -> dict:
    """PSDS and per-class threshold-free scores of a folder of score files against the reference."""
    from mtsed.evaluation import threshold_free

    scores = threshold_free.read_scores(folder)
    if set(reference) == {""} and len(scores) == 1:  # a single-file reference list
        scores = {"": next(iter(scores.values()))}
    classes = [c for c in next(iter(scores.values())).columns if c not in ("onset", "offset")]
    unknown = sorted({e.label for events in reference.values() for e in events} - set(classes))
    if unknown:
        raise ValueError(f"{folder}: the reference uses labels {unknown} that the score files do not score ({classes})")
    return threshold_free.evaluate_scores(scores, reference, threshold_free.durations_of(scores), classes)


def evaluate(args: argparse.Namespace) -> int:
    """Print sed_eval event-based and segment-based scores of ``args.estimated`` against
    ``args.reference`` (and threshold-free ones of ``args.scores``, when given)."""
    from mtsed.evaluation.metrics import evaluate_events, evaluate_segments

    reference, estimated = read_event_lists(Path(args.reference)), read_event_lists(Path(args.estimated))
    if set(reference) == {""} and len(estimated) == 1:  # two single-file lists
        estimated = {"": next(iter(estimated.values()))}
    unmatched = sorted(set(estimated) - set(reference))
    if unmatched:
        raise ValueError(f"{args.estimated}: files {unmatched[:5]} have no reference in {args.reference}")
    labels = sorted({e.label for events in [*reference.values(), *estimated.values()] for e in events})
    free = _threshold_free(Path(args.scores), reference) if args.scores else None
    if free is not None:
        labels = sorted(set(labels) | set(free["per_class"]))  # classes the scores hold, events or not
    result = {
        **evaluate_events(reference, estimated, labels),
        "segment_based": evaluate_segments(reference, estimated, labels),
    }
    if free is not None:
        result["threshold_free"] = free
    if args.json:
        keep = ("f1", "er")
        print(
            json.dumps(
                {
                    "overall": {k: result["overall"][k] for k in keep},
                    "class_average": {k: result["class_average"][k] for k in keep},
                    "per_class": result["per_class"],
                    **{k: result[k] for k in ("segment_based", "threshold_free") if k in result},
                },
                indent=2,
            )
        )
    else:
        from mtsed.evaluation.report import comparison_table, field_table

        print(comparison_table(f"{args.estimated} vs {args.reference}", {"estimated": result}, labels))
        print(field_table({"estimated": result}, labels))
    return 0


def detect(args: argparse.Namespace) -> int:
    """Write one DCASE event list per audio file (and with ``--scores``, its frame scores in
    the ``sed_scores_eval`` layout; with ``--combined``, one DESED list of all files; with
    ``--pages``, a page per file to look at and an index, :mod:`mtsed.evaluation.pages`).
    Inputs are files, folders (searched recursively) or glob patterns; bad files are
    reported and skipped, and the command then exits with 1."""
    from mtsed.detection.bundle import load_bundle
    from mtsed.detection.files import PREFETCH_SECONDS, expand_inputs, file_page, run_batch, seconds_of, write_combined
    from mtsed.evaluation.threshold_free import score_frame, write_scores
    from mtsed.io.progress import progress

    inputs = expand_inputs(args.audio)
    if not inputs:
        raise FileNotFoundError(f"no audio files in {', '.join(args.audio)}")
    bundle = dataclasses.replace(load_bundle(Path(args.model)), precision=args.precision)
    out, rate = Path(args.out), bundle.features.sample_rate
    print(
        f"model: {args.model} ({bundle.system}, {len(bundle.folds)} fold models, classes: {', '.join(bundle.labels)})"
    )
    seconds = {item.path: seconds_of(item.path) for item in inputs}
    found: list[tuple[str, list[Event]]] = []
    one_short_file = len(inputs) == 1 and sum(seconds.values()) <= PREFETCH_SECONDS
    page_rows = []
    bar = progress(
        total=round(sum(seconds.values()), 1),
        unit="s",
        desc="detect",
        disable=one_short_file,
        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s audio [{elapsed}<{remaining}, {rate_fmt}]",
    )

    counted: dict[Path, float] = {}

    def advance(item, seconds_read: float) -> None:
        counted[item.path] = counted.get(item.path, 0.0) + seconds_read
        bar.update(seconds_read)

    def analyse(item, audio) -> None:
        if audio is None:  # a long file: streamed, the bar moves block by block
            events, scores, duration = bundle.analyse(item.path, item.path.name, on_audio=lambda s: advance(item, s))
        else:
            events, scores = bundle.analyse_audio(audio, item.path.name)
            duration = len(audio) / rate
        target = out / f"{item.name}.tsv"
        write_event_list(target, events)
        if args.scores:
            write_scores(
                Path(args.scores) / f"{item.name}.tsv", score_frame(scores, bundle.frame_seconds, bundle.labels)
            )
        if args.pages:
            page_rows.append(file_page(bundle, item, events, scores, duration, target, Path(args.pages)))
        found.append((item.path.name, events))
        counts = Counter(e.label for e in events)
        summary = ", ".join(f"{label} x{n}" for label, n in sorted(counts.items())) or "no events"
        bar.write(f"{item.path}: {duration:.1f} s, {len(events)} events ({summary}) -> {target}")

    def report(item, error: Exception) -> None:
        message = str(error) if str(item.path) in str(error) else f"{item.path}: {error}"
        bar.write(f"mtsed detect: error: {message}", file=sys.stderr)

    def done(item) -> None:
        bar.update(max(0.0, seconds[item.path] - counted.get(item.path, 0.0)))

    failed = run_batch(inputs, rate, analyse, report, done)
    bar.close()
    if args.combined:
        write_combined(Path(args.combined), found)
        print(f"{len(found)} files, {sum(len(e) for _, e in found)} events -> {args.combined}")
    if page_rows:
        from mtsed.evaluation.pages import write_index

        index = write_index(f"detections of {bundle.system}", page_rows, [bundle.system], Path(args.pages))
        print(f"{len(page_rows)} pages -> {index} (open it in a browser)")
    if failed:
        print(f"mtsed detect: {failed} of {len(inputs)} files failed", file=sys.stderr)
    return 1 if failed else 0


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
            print((folder / "table.md").read_text())
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
