"""QUALITY.md from the runs of ``benchmarks/quality.py`` (one folder per study and seed)."""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

from mtsed.config import Params
from mtsed.config.layout import (
    BUNDLES_ROOT,
    FOLD_GLOB,
    MODELS_ROOT,
    REPORTS_ROOT,
    SETS,
    TABLE_JSON_FILE,
    THRESHOLDS_FILE,
    artefact_folder,
)
from mtsed.config.systems import NETWORKS, SYSTEMS
from mtsed.detection.bundle import decoder_summary


def run_folder(root: Path, study: str, seed: int) -> Path:
    """Where one study's run of one seed lays out its models, outputs, bundles and reports."""
    return root / "runs" / study / f"seed-{seed}"


def _models(root: Path, study: str, seed: int, name: str, network: str) -> Path:
    """One network's fold folders in one run."""
    return artefact_folder(run_folder(root, study, seed) / MODELS_ROOT, name, network)


def _tables(root: Path, study: str, seeds: list[int]) -> dict[int, dict[str, dict]]:
    """``{seed: {set: table.json}}`` of the seeds that finished the sets the study ran (a
    study may run one set only: ``quality.py --sets``)."""
    found = {}
    for seed in seeds:
        folder = run_folder(root, study, seed)
        tables = {name: artefact_folder(folder / REPORTS_ROOT, name) / TABLE_JSON_FILE for name in SETS}
        done = {name: path for name, path in tables.items() if path.is_file()}
        ran = {name for name in SETS if artefact_folder(folder / MODELS_ROOT, name).is_dir()}
        if done and set(done) >= ran:
            found[seed] = {name: json.loads(path.read_text()) for name, path in done.items()}
    return found


def _sets(runs: dict[int, dict[str, dict]]) -> list[str]:
    """The data sets every run of ``runs`` finished, in the pipeline's order."""
    return [name for name in SETS if runs and all(name in tables for tables in runs.values())]


def _ms(values: list[float | None], scale: float = 100.0, digits: int = 1) -> str:
    """``mean ± sd`` (sample sd over seeds), scaled (F1 in %); an undefined F1 (sed_eval's
    NaN: nothing detected) counts as 0, an undefined error or distance is left out."""
    values = [(0.0 if v is None else v) * scale for v in values if v is not None or scale == 100.0]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _main_table(runs: dict[int, dict[str, dict]]) -> list[str]:
    rows = [
        "| set | system | overall F1 (%) | overall ER | class-avg F1 (%) | class-avg ER | overall F1 per seed |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in _sets(runs):
        for system in SYSTEMS:
            r = [runs[s][name][system] for s in runs]
            per_seed = ", ".join(
                f"{100 * x['overall']['f1']:.1f}" if x["overall"]["f1"] is not None else "-" for x in r
            )
            rows.append(
                f"| {name} | {system} | {_ms([x['overall']['f1'] for x in r])} | "
                f"{_ms([x['overall']['er'] for x in r], 1, 2)} | "
                f"{_ms([x['class_average']['f1'] for x in r])} | {_ms([x['class_average']['er'] for x in r], 1, 2)} | "
                f"{per_seed} |"
            )
    rows += [
        "",
        "Minus the baseline (per seed, then mean ± sd):",
        "",
        "| set | system | overall F1 (points) | class-avg F1 (points) | overall ER |",
        "|---|---|---|---|---|",
    ]
    for name in _sets(runs):
        for system in ("proposed", "multitask"):
            diff = {k: [] for k in ("f1", "cavg", "er")}
            for s in runs:
                p, b = runs[s][name][system], runs[s][name]["baseline"]
                diff["f1"].append((p["overall"]["f1"] or 0) - (b["overall"]["f1"] or 0))
                diff["cavg"].append((p["class_average"]["f1"] or 0) - (b["class_average"]["f1"] or 0))
                diff["er"].append(p["overall"]["er"] - b["overall"]["er"])
            rows.append(f"| {name} | {system} | {_ms(diff['f1'])} | {_ms(diff['cavg'])} | {_ms(diff['er'], 1, 2)} |")
    return rows


def _summary(choice: dict) -> str:
    return decoder_summary(choice["decoder"], choice.get("class_decoders", ()))


def _multitask_choice(root: Path, study: str, seed: int, name: str) -> dict | None:
    """What system multitask's thresholds stage chose and scored in one run, or None if it has not run."""
    path = artefact_folder(run_folder(root, study, seed) / BUNDLES_ROOT, name, "multitask") / THRESHOLDS_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def _chosen_table(root: Path, runs: dict[int, dict[str, dict]]) -> list[str]:
    """The decoder system multitask kept in each run (chosen on validation)."""
    rows = ["| set | decoder kept per seed |", "|---|---|"]
    for name in _sets(runs):
        choices = (_multitask_choice(root, "default", s, name) for s in runs)
        kept = [_summary(choice) if choice is not None else "-" for choice in choices]
        rows.append(f"| {name} | {' / '.join(kept)} |")
    return rows


def _distance_table(runs: dict[int, dict[str, dict]]) -> list[str]:
    first = next(iter(runs.values()))
    bins = tuple(
        first[_sets(runs)[0]]["study"]["proposed"]["evaluation"]["distance_errors"]["onset"]
    )  # as the runs named them
    rows = [
        "| set | split | boundary | " + " | ".join(f"{b} frames" for b in bins) + " |",
        "|---|---|---|" + "---|" * len(bins),
    ]
    for name in _sets(runs):
        for split in ("training", "evaluation"):
            for boundary in ("onset", "offset"):
                cells = []
                for b in bins:
                    values = [
                        runs[s][name]["study"]["proposed"][split]["distance_errors"][boundary][b]["median_signed_error"]
                        for s in runs
                    ]
                    cells.append(_ms(values, 1))
                rows.append(f"| {name} | {split} | {boundary} | " + " | ".join(cells) + " |")
    return rows


def _miss_table(runs: dict[int, dict[str, dict]]) -> list[str]:
    reasons = ("hit", "not found", "fragmented", "onset", "offset")
    rows = ["| set | system | " + " | ".join(reasons) + " |", "|---|---|" + "---|" * len(reasons)]
    for name in _sets(runs):
        for system in SYSTEMS:
            cells = []
            for reason in reasons:
                shares = []
                for s in runs:
                    counts = runs[s][name]["miss_reasons"][system]
                    total = sum(sum(c.values()) for c in counts.values())
                    shares.append(sum(c[reason] for c in counts.values()) / max(total, 1))
                cells.append(_ms(shares))
            rows.append(f"| {name} | {system} | " + " | ".join(cells) + " |")
    return rows


def _diagnostics_table(runs: dict[int, dict[str, dict]]) -> list[str]:
    rows = [
        "| set | system | split | event F1 searched (%) | event F1 fixed (%) | frame F1 (%) | onset error (frames) | "
        "offset error (frames) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in _sets(runs):
        for system in NETWORKS:
            for split in ("training", "evaluation"):
                r = [runs[s][name]["study"][system][split] for s in runs]
                rows.append(
                    f"| {name} | {system} | {split} | {_ms([x['searched']['overall']['f1'] for x in r])} | "
                    f"{_ms([x['fixed']['overall']['f1'] for x in r])} | {_ms([x['frame_f1'] for x in r])} | "
                    f"{_ms([x['onset_error_frames'] for x in r], 1)} | "
                    f"{_ms([x['offset_error_frames'] for x in r], 1)} |"
                )
    return rows


def _decoders_table(runs: dict[int, dict[str, dict]]) -> list[str]:
    rows = [
        "| set | decoder of the proposed network | validation class-avg F1 in-sample (%) | held-out (%) | overall F1 "
        "searched (%) | "
        "class-avg F1 searched (%) | overall F1 fixed (%) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in _sets(runs):
        study = [runs[s][name]["study"]["proposed"]["evaluation"] for s in runs]
        rows.append(
            f"| {name} | confidence (the paper's, system `proposed`) | - | - | "
            f"{_ms([x['searched']['overall']['f1'] for x in study])} | "
            f"{_ms([x['searched']['class_average']['f1'] for x in study])} | "
            f"{_ms([x['fixed']['overall']['f1'] for x in study])} |"
        )
        kept = [runs[s][name]["study"]["multitask"]["evaluation"] for s in runs]
        rows.append(
            f"| {name} | **kept by system `multitask`** (per seed) | - | - | "
            f"{_ms([x['searched']['overall']['f1'] for x in kept])} | "
            f"{_ms([x['searched']['class_average']['f1'] for x in kept])} | "
            f"{_ms([x['fixed']['overall']['f1'] for x in kept])} |"
        )
        variants = sorted({k for s in runs for k in runs[s][name]["variants"] if k.startswith("multitask:")})
        for key in variants:
            r = [runs[s][name]["variants"][key] for s in runs if key in runs[s][name]["variants"]]
            rows.append(
                f"| {name} | {key.split(':', 1)[1]} (when not kept) | "
                f"{_ms([x.get('validation_class_average_f1') for x in r])} | "
                f"{_ms([x.get('held_out_class_average_f1') for x in r])} | "
                f"{_ms([x['searched']['overall']['f1'] for x in r])} | "
                f"{_ms([x['searched']['class_average']['f1'] for x in r])} | "
                f"{_ms([x['fixed']['overall']['f1'] for x in r])} |"
            )
    return rows


def _windows(root: Path, study: str, seed: int, name: str, system: str) -> int | None:
    metrics = sorted(_models(root, study, seed, name, system).glob(f"{FOLD_GLOB}/metrics.json"))
    if not metrics:
        return None
    first = json.loads(metrics[0].read_text())
    return int(first["train_segments"] * first["epochs"])


def _train_minutes(root: Path, study: str, seed: int, name: str, system: str) -> float | None:
    """Training minutes of one network of one run, summed over its folds (as measured)."""
    metrics = sorted(_models(root, study, seed, name, system).glob(f"{FOLD_GLOB}/metrics.json"))
    if not metrics:
        return None
    return sum(json.loads(m.read_text())["seconds"] for m in metrics) / 60


def _minutes_table(root: Path, seeds: list[int]) -> list[str]:
    rows = [
        "| study | set | system | windows per model | training minutes (all folds, measured) | overall F1 (%) | "
        "class-avg F1 (%) |",
        "|---|---|---|---|---|---|---|",
    ]
    for study in ("steps-x0.5", "default", "steps-x2", "steps-x4", "steps-x8"):
        runs = _tables(root, study, seeds)
        if not runs:
            continue
        for name in _sets(runs):
            for system in SYSTEMS:
                network = "proposed" if system == "multitask" else system
                windows = _windows(root, study, next(iter(runs)), name, network)
                minutes = [_train_minutes(root, study, s, name, network) for s in runs]
                r = [runs[s][name][system] for s in runs]
                rows.append(
                    f"| {study} | {name} | {system} | {windows or '-'} | {_ms(minutes, 1)} | "
                    f"{_ms([x['overall']['f1'] for x in r])} | {_ms([x['class_average']['f1'] for x in r])} |"
                )
    return rows


def _held_out(root: Path, study: str, seeds: list[int], name: str) -> list[float]:
    """System multitask's class-average F1 on held-out validation recordings, per seed that
    recorded it: the figure a recipe is chosen on (the evaluation columns are reported, never
    chosen on).  A run without it is left out, not counted as 0 as :func:`_ms` counts None."""
    choices = (_multitask_choice(root, study, seed, name) for seed in seeds)
    values = (choice.get("held_out_class_average_f1") for choice in choices if choice is not None)
    return [v for v in values if v is not None]


def _validation(root: Path, study: str, seeds: list[int], name: str, system: str) -> list[float]:
    """The validation class-average F1 a recipe is chosen on: for the proposed network system
    multitask's held-out F1 (:func:`_held_out`), for the baseline its in-sample F1 at the
    searched thresholds (it has one decoder: nothing to choose between)."""
    if system == "proposed":
        return _held_out(root, study, seeds, name)
    folders = (artefact_folder(run_folder(root, study, seed) / BUNDLES_ROOT, name, system) for seed in seeds)
    paths = (folder / THRESHOLDS_FILE for folder in folders)
    return [json.loads(p.read_text())["validation_class_average_f1"] for p in paths if p.is_file()]


def _ablation_table(root: Path, seeds: list[int], chosen: list) -> list[str]:
    rows = [
        "| study | what changes | set | network | validation class-avg F1: multitask held-out, baseline in-sample (%) "
        "| overall F1 (%) | "
        "class-avg F1 (%) | overall F1, system multitask (%) | frame F1 (%) | onset error (frames) | "
        "reference: held-out validation / overall F1 / multitask / frame F1 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def figures(runs: dict, name: str, system: str) -> tuple[list, list, list, list, list]:
        main = [runs[s][name][system] for s in runs]
        study = [runs[s][name]["study"][system]["evaluation"] for s in runs]
        activity = [
            runs[s][name]["multitask"]["overall"]["f1"]
            if system == "proposed"
            else runs[s][name][system]["overall"]["f1"]
            for s in runs
        ]
        return (
            [x["overall"]["f1"] for x in main],
            [x["class_average"]["f1"] for x in main],
            activity,
            [x["frame_f1"] for x in study],
            [x["onset_error_frames"] for x in study],
        )

    for study in chosen:
        if study.name == "default" or study.name.startswith("steps-"):
            continue
        runs = _tables(root, study.name, seeds)
        if not runs:
            continue
        reference = "default"
        base = _tables(root, reference, list(runs))
        for name in _sets(runs):
            for system in study.systems:
                f1, cavg, activity, frame, onset = figures(runs, name, system)
                b_f1, _, b_activity, b_frame, _ = figures(base, name, system)
                held = _validation(root, study.name, list(runs), name, system)
                b_held = _validation(root, reference, list(runs), name, system)
                rows.append(
                    f"| {study.name} | {study.what} | {name} | {system} | {_ms(held)} | {_ms(f1)} | {_ms(cavg)} | "
                    f"{_ms(activity)} | {_ms(frame)} | {_ms(onset, 1)} | "
                    f"{reference}: {_ms(b_held)} / {_ms(b_f1)} / {_ms(b_activity)} / {_ms(b_frame)} |"
                )
    return rows


def write_report(root: Path, params: Params, chosen: list, seeds: list[int], out: Path) -> None:
    """Write QUALITY.md from whatever runs have finished."""
    default = _tables(root, "default", seeds)
    if not default:
        raise SystemExit(f"{root}: no finished default run yet")
    t = params.train
    lines = [
        "# Detection quality study",
        "",
        f"Written by `benchmarks/quality.py` on {time.strftime('%Y-%m-%d')}, {platform.machine()} CPU, {len(default)} "
        "seed(s) "
        f"({', '.join(str(s) for s in default)}): train.seed varies, the data stay fixed.",
        f"Default recipe: F = H = {params.model.filters}, distances {params.model.distances} ({t.distance_loss}), "
        f"{t.windows_per_epoch} random windows per epoch, batch {t.batch_size}, lr {t.learning_rate:g} "
        f"({t.lr_schedule}, warm-up "
        f"{t.warmup:g}), epochs {t.epochs.isolated} (isolated, per fold) / {t.epochs.overlapping} (overlapping), "
        f"loss weights {t.loss_weights.as_tuple()}, augmentation remix {t.augment.remix:g}; thresholds smoothing "
        f"{list(params.thresholds.smoothing)}, shrinkage {params.thresholds.shrinkage_events:g} events; system "
        "multitask "
        f"chooses among {', '.join(params.thresholds.multitask)} on validation.",
        "Figures are event-based (onset collar 200 ms, offset collar max(200 ms, 50 %)) on the evaluation split, "
        "mean ± sample standard deviation over seeds, unless a column says otherwise.",
        "",
        "## Every system, searched thresholds",
        "",
        *_main_table(default),
        "",
        "Decoders system `multitask` kept (per class, the highest held-out validation F1, shrunk toward the class "
        "average; seeds separated by /):",
        "",
        *_chosen_table(root, default),
        "",
        "## What explains the scores",
        "",
        "Training split: in-sample outputs of the fold models that trained on each recording. Frame F1: activity head "
        "> 0.5. "
        "Boundary error: median |p_hat*T - p*T| (onset) and |q_hat*T - q*T| (offset) on active frames, against the "
        "targets the "
        "network was trained on; the onset collar is 10 frames.",
        "",
        *_diagnostics_table(default),
        "",
        "Where the distance head errs: median signed error (frames) of the proposed network by true distance "
        "(positive: the boundary placed farther away than it is).",
        "",
        *_distance_table(default),
        "",
        "Why reference events are missed (share of the evaluation split's reference events).",
        "",
        *_miss_table(default),
        "",
        "## Decoders of the proposed network",
        "",
        "Each decoder's thresholds are searched on the same validation outputs; `fixed` is alpha 0.5 with beta 0.5 or "
        "a 25-frame "
        "median. Candidates that system multitask did not keep are reported over the seeds where they were not kept.",
        "",
        *_decoders_table(default),
        "",
        "## F1 against training minutes",
        "",
        *_minutes_table(root, seeds),
        "",
        "## Ablations",
        "",
        "Each row changes one thing; the reference column gives the same figures of the default run over the same "
        "seeds. "
        "A recipe is chosen on the held-out validation column; the evaluation columns are reported, never chosen on.",
        "",
        *_ablation_table(root, seeds, chosen),
        "",
    ]
    out.write_text("\n".join(lines) + "\n")
