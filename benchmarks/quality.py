"""Detection quality study: the default pipeline over several seeds, plus ablations.

Runs the stage functions (what ``dvc repro`` runs) in a scratch folder and writes
``benchmarks/QUALITY.md``:

- per set and system, mean and spread (sample standard deviation) over seeds of overall
  and class-average event-based F1 and ER, and the proposed - baseline difference;
- the diagnostics of every run on the training and evaluation splits (frame F1, median
  boundary error, event F1 with searched and fixed thresholds);
- the three systems (``proposed``: the paper's decoder; ``baseline``; ``multitask``: the
  proposed network under the decoder that wins on validation) and every candidate decoder
  of ``thresholds.multitask`` (free: every run reports them);
- a compute curve: F1 against training minutes at 0.5x to 8x the default epochs;
- ablations of issue 18: the paper's distance head (linear d/T, squared error, weight 1), the
  distance loss at weight 1, and the paper's constant learning rate without warm-up.

Every run is resumable: a finished run (its ``reports/<set>/table.json``) is not redone.
The data stages run once; ablations that change only the proposed network reuse the
baseline of the default run with the same seed.

    python -m benchmarks.quality --jobs 2    # 3 seeds (ablations, curve: 2), every study (~8 hours on 2 cores)
    python -m benchmarks.quality --seeds 0 --studies default
    python -m benchmarks.quality --studies default,precision --other-seeds 3   # bf16 against fp32 over 3 seeds
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import yaml

from benchmarks.quality_report import run_folder
from mtsed.adapters.runner import cache_dir
from mtsed.config import Params, params_from_dict
from mtsed.config.layout import (
    BUNDLES_ROOT,
    CHECKPOINT_FILE,
    HISTORY_FILE,
    MODELS_ROOT,
    OUTPUTS_ROOT,
    REPORTS_ROOT,
    RESUME_FILE,
    RUN_CONFIG_FILE,
    SETS,
    TABLE_JSON_FILE,
    artefact_folder,
    bundle_file,
    fold_folder,
    system_folders,
)
from mtsed.config.overrides import with_overrides
from mtsed.config.systems import NETWORKS
from mtsed.model.training import chosen_epoch
from mtsed.stages import clips, detector, evaluation, features, prepare, targets, training

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Study:
    """One configuration of the study: overrides of params.yaml and the systems it trains."""

    name: str
    overrides: dict = field(default_factory=dict)
    systems: tuple[str, ...] = ("proposed", "baseline")
    what: str = ""
    retrain: bool = True  # False: the networks of study `base` (same seed), best.pt re-chosen by this study's
    base: str = "default"  # train.checkpoint among its first train.epochs epochs (a constant learning rate: the
    # same weights as a run that stopped there)


LONG = 40  # overlapping epochs of the long run the curve is read from
CURVE_EPOCHS = (5, 10, 20, 40)


def studies(params: Params) -> dict[str, list[Study]]:
    """The study's configurations, grouped as ``--studies`` names them."""
    e = params.train.epochs

    def epochs(factor: float) -> dict:
        return {
            "train.epochs.isolated": max(round(e.isolated * factor), 1),
            "train.epochs.overlapping": max(round(e.overlapping * factor), 1),
        }

    return {
        "default": [Study("default", {}, what="params.yaml as it is")],
        "ablations": [
            Study(
                "distances-paper",
                {"model.distances": "linear", "train.distance_loss": "squared", "train.loss_weights.distance": 1.0},
                ("proposed",),
                "the paper's distance head: linear d/T, squared error, loss weight 1",
            ),
            Study(
                "distance-w1",
                {"train.loss_weights.distance": 1.0},
                ("proposed",),
                "distance loss weight 1 (the default before issue 18's study)",
            ),
            Study(
                "schedule-paper",
                {"train.lr_schedule": "constant", "train.warmup": 0.0},
                ("proposed", "baseline"),
                "constant learning rate, no warm-up",
            ),
        ],
        "curve": [Study(f"steps-x{f:g}", epochs(f), what=f"{f:g}x the default epochs") for f in (0.5, 2, 4, 8)],
        "precision": [
            Study(
                "bf16",
                {"train.cpu_precision": "bf16"},
                ("proposed", "baseline"),
                "the forward pass under bf16 autocast on the CPU (issue 30)",
            )
        ],
        # issue 31: one long run per seed, then every shorter run and checkpoint choice read off its kept epochs
        "long": [
            Study("long", {"train.epochs.overlapping": LONG}, what=f"{LONG} overlapping epochs, every epoch kept")
        ],
        "checkpoints": [
            Study(
                f"e{n}-{c}",
                {"train.epochs.overlapping": n, "train.checkpoint": c},
                retrain=False,
                base="long",
                what=f"{n} overlapping epochs, best.pt by {c}",
            )
            for n in CURVE_EPOCHS
            for c in ("loss", "frame-f1", "last")
        ],
    }


def prepare_data(root: Path, params: Params, data_from: Path | None) -> None:
    """Data, features and targets of both sets, once (copied from a project that has them, so
    that a later `make run` there cannot change them under the study)."""
    for name in ("data", "features", "targets"):
        if (root / name).exists():
            continue
        if data_from is not None and (data_from / name).is_dir():
            shutil.copytree(data_from / name, root / name, ignore=shutil.ignore_patterns("clips"))
    if (root / "targets").exists():
        return
    clips.clips(params.clips, params.generated_labels(), root / "data" / "clips", cache_dir())
    prepare.prepare(params.data, params.prepare, root / "data" / "clips", root / "data")
    for name in SETS:
        features.features(params.features, root / "data" / name, root / "features" / name)
        targets.targets(
            params.features, params.targets, root / "data" / name, root / "features" / name, root / "targets" / name
        )


def rechosen(source: Path, out: Path, checkpoint: str, epochs: int) -> None:
    """A copy of the trained fold in ``source`` cut to its first ``epochs`` epochs, whose
    ``best.pt`` is the epoch ``checkpoint`` prefers among them (training kept every epoch)."""
    history = {k: v[:epochs] for k, v in json.loads((source / HISTORY_FILE).read_text()).items()}
    if len(history["validation_loss"]) < epochs:
        raise RuntimeError(f"{source}: trained {len(history['validation_loss'])} epochs, fewer than the {epochs} asked")
    out.mkdir(parents=True, exist_ok=True)
    (out / HISTORY_FILE).write_text(json.dumps(history))
    shutil.copy2(source / RUN_CONFIG_FILE, out / RUN_CONFIG_FILE)
    shutil.copy2(source / f"epoch-{epochs}.pt", out / RESUME_FILE)
    shutil.copy2(source / f"epoch-{chosen_epoch(history, checkpoint) + 1}.pt", out / CHECKPOINT_FILE)
    metrics = json.loads((source / "metrics.json").read_text())
    minutes = sum(history["train_seconds"]) / sum(json.loads((source / HISTORY_FILE).read_text())["train_seconds"])
    (out / "metrics.json").write_text(
        json.dumps(
            {
                **metrics,
                "epochs": epochs,
                "seconds": metrics["seconds"] * minutes,
                "best_epoch": chosen_epoch(history, checkpoint) + 1,
            }
        )
    )


def _train(params: Params, study: Study, seed: int, root: Path, name: str, system: str, models: Path) -> float:
    """Train (or re-choose, for a study that does not retrain) every fold; the minutes trained."""
    started = time.perf_counter()
    for fold in params.train.folds.of(name):
        out = fold_folder(models, fold)
        if (out / CHECKPOINT_FILE).is_file():
            continue
        if not study.retrain:
            rechosen(
                fold_folder(artefact_folder(run_folder(root, study.base, seed) / MODELS_ROOT, name, system), fold),
                out,
                params.train.checkpoint,
                params.train.epochs.of(name),
            )
            continue
        metrics = training.train(
            params.model,
            params.train,
            root / "features" / name,
            root / "targets" / name,
            str(fold),
            system,
            out,
            keep_epochs=True,
        )
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return (time.perf_counter() - started) / 60


def run(
    root: Path, params_yaml: str, study: Study, seed: int, log: Callable[[str], None], sets: tuple[str, ...] = SETS
) -> Path:
    """Train, search thresholds and evaluate one configuration and seed on ``sets``; returns its folder."""
    folder = run_folder(root, study.name, seed)
    if all((artefact_folder(folder / REPORTS_ROOT, name) / TABLE_JSON_FILE).is_file() for name in sets):
        return folder
    overrides = [f"{k}={json.dumps(v)}" for k, v in {**study.overrides, "train.seed": seed}.items()]
    text = with_overrides(params_yaml, overrides)
    params = params_from_dict(yaml.safe_load(text))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.yaml").write_text(text)
    baseline = run_folder(root, "default", seed)
    for name in sets:
        feats, targs = artefact_folder(root / "features", name), artefact_folder(root / "targets", name)
        for system in NETWORKS:
            models, outputs, bundles = (
                artefact_folder(folder / kind, name, system) for kind in (MODELS_ROOT, OUTPUTS_ROOT, BUNDLES_ROOT)
            )
            if system not in study.systems:  # reuse the default run's network of this seed
                if not bundle_file(name, system, baseline / BUNDLES_ROOT).is_file():
                    raise RuntimeError(
                        f"{study.name} seed {seed} reuses the default run's {system}: run the default study first"
                    )
                for kind in (MODELS_ROOT, OUTPUTS_ROOT, BUNDLES_ROOT):
                    link = artefact_folder(folder / kind, name, system)
                    if not link.exists():
                        link.parent.mkdir(parents=True, exist_ok=True)
                        target = artefact_folder(baseline / kind, name, system).resolve()
                        link.symlink_to(target, target_is_directory=True)
                continue
            minutes = _train(params, study, seed, root, name, system, models)
            log(f"{study.name} seed {seed} {name} {system}: trained ({minutes:.1f} min)")
            detector.ensemble(feats, models, outputs)
            detector.thresholds(params.features, params.thresholds, root / "data" / name, outputs, models, bundles)
            if system == "proposed":
                detector.thresholds(
                    params.features,
                    params.thresholds,
                    root / "data" / name,
                    outputs,
                    models,
                    artefact_folder(folder / BUNDLES_ROOT, name, "multitask"),
                    "multitask",
                )
        systems = system_folders(name, folder / OUTPUTS_ROOT, folder / BUNDLES_ROOT, folder / MODELS_ROOT)
        evaluation.evaluate(root / "data" / name, feats, targs, systems, artefact_folder(folder / REPORTS_ROOT, name))
    return folder


def _log(path: Path, line: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"[{stamp}] {line}", flush=True)
    with open(path, "a") as handle:
        handle.write(f"[{stamp}] {line}\n")


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/tmp/mtsed-quality", help="scratch folder (resumable)")
    parser.add_argument("--params", default=str(REPO / "params.yaml"))
    parser.add_argument("--data-from", default=str(REPO), help="a project whose data/, features/, targets/ to reuse")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--studies", default="default,ablations,curve")
    parser.add_argument("--other-seeds", type=int, default=2, help="seeds of the ablations and the curve (the first N)")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated data sets to run (default: both)")
    parser.add_argument(
        "--jobs", type=int, default=1, help="runs at once, one thread each (2 cores: ~1.7x the throughput)"
    )
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "QUALITY.md"))
    parser.add_argument("--report-only", action="store_true", help="write QUALITY.md from the runs already done")
    args = parser.parse_args()
    os.environ.setdefault("MTSED_TRACKING", "off")
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    params_yaml = Path(args.params).read_text()
    params = params_from_dict(yaml.safe_load(params_yaml))
    chosen = [s for group in args.studies.split(",") for s in studies(params)[group]]
    if not args.report_only:
        prepare_data(root, params, Path(args.data_from) if args.data_from else None)
        log_path = root / "study.log"

        log = partial(_log, log_path)

        jobs = [
            (study, seed)
            for study in chosen
            for seed in (args.seeds if study.name == "default" else args.seeds[: args.other_seeds])
        ]
        sets = tuple(args.sets.split(","))
        for phase in (True, False):  # studies that re-choose checkpoints need their default runs first
            batch = [(root, params_yaml, study, seed, log, sets) for study, seed in jobs if study.retrain == phase]
            if args.jobs > 1 and len(batch) > 1:
                with multiprocessing.get_context("spawn").Pool(args.jobs, initializer=_one_thread) as pool:
                    pool.starmap(run, batch, chunksize=1)
            else:
                for job in batch:
                    run(*job)
    from benchmarks.quality_report import write_report

    write_report(root, params, chosen, args.seeds, Path(args.out))
    if Path(args.out).resolve() != (root / "QUALITY.md").resolve():
        shutil.copy(args.out, root / "QUALITY.md")


if __name__ == "__main__":
    main()
