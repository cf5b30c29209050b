"""Detection quality study: the default pipeline over several seeds, plus ablations.

Runs the stage functions (what ``dvc repro`` runs) in a scratch folder and writes
``benchmarks/QUALITY.md``:

- per set and system, mean and spread (sample standard deviation) over seeds of overall
  and class-average event-based F1 and ER, and the proposed - baseline difference;
- the diagnostics of every run on the training and evaluation splits (frame F1, median
  boundary error, event F1 with searched and fixed thresholds);
- F1 against training windows (and minutes at the measured training throughput);
- ablations: SpecAugment-style masks added (both systems), and of the proposed network: no
  remixing, distance targets read over the recording instead of the window, windows on a
  hop grid instead of random start frames, the distance loss weighted 10x, and every
  decoder (free: every run reports them).

Every run is resumable: a finished run (its ``reports/<set>/table.json``) is not redone.
The data stages run once; ablations that change only the proposed network reuse the
baseline of the default run with the same seed.

    python -m benchmarks.quality                       # 3 seeds (ablations: 2), every study (~2.5 hours on 2 cores)
    python -m benchmarks.quality --seeds 0 --studies default
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mtsed import sebbs_decoder, stages
from mtsed.config import Params, params_from_dict
from mtsed.kubeflow.submit import with_overrides
from mtsed.stages import evaluation, reporting

REPO = Path(__file__).resolve().parents[1]
SETS = ("isolated", "overlapping")


@dataclass(frozen=True)
class Study:
    """One configuration of the study: overrides of params.yaml and the systems it trains."""

    name: str
    overrides: dict = field(default_factory=dict)
    systems: tuple[str, ...] = ("proposed", "baseline")
    what: str = ""


def studies(params: Params) -> dict[str, list[Study]]:
    """The study's configurations, grouped as ``--studies`` names them."""
    weights = params.train.loss_weights
    paper_weights = (weights.classification, weights.distance, weights.confidence) == (1.0, 1.0, 1.0)
    loss = Study("loss-distance-x10", {"train.loss_weights.distance": 10.0}, ("proposed",), "distance loss weighted 10x") \
        if paper_weights else Study("loss-paper", {"train.loss_weights.distance": 1.0, "train.loss_weights.confidence": 1.0},
                                    ("proposed",), "the paper's unweighted sum of the three losses")
    no_remix = {"train.augment.remix": 0.0}
    return {
        "default": [Study("default", {}, what="params.yaml as it is")],
        "ablations": [
            Study("remix-off", no_remix, ("proposed",), "no remixing of a second window"),
            Study("masks-on", {"train.augment.time_masks": 2, "train.augment.freq_masks": 2}, ("proposed", "baseline"),
                  "2 time masks of up to 40 frames and 2 frequency masks of up to 6 bands"),
            Study("distances-recording", {**no_remix, "train.distance_targets": "recording"}, ("proposed",),
                  "distances to the true boundaries in the recording (the first reading; remixing needs window distances)"),
            Study("sampling-grid", {"train.sampling": "grid"}, ("proposed",), "windows on a hop-T/4 grid instead of random starts"),
            loss,
        ],
        "minutes": [
            Study("epochs-x0.5", {"train.epochs.isolated": max(params.train.epochs.isolated // 2, 1),
                                  "train.epochs.overlapping": max(params.train.epochs.overlapping // 2, 1)}, what="half the epochs"),
            Study("epochs-x2", {"train.epochs.isolated": 2 * params.train.epochs.isolated,
                                "train.epochs.overlapping": 2 * params.train.epochs.overlapping}, what="twice the epochs"),
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
    cache = Path(os.environ.get("MTSED_CACHE_DIR", Path.home() / ".cache" / "mtsed")) / "debs"
    stages.clips(params.clips, params.generated_labels(), root / "data" / "clips", cache)
    stages.prepare(params.data, params.prepare, root / "data" / "clips", root / "data")
    for name in SETS:
        stages.features(params.features, root / "data" / name, root / "features" / name)
        stages.targets(params.features, params.targets, root / "data" / name, root / "features" / name, root / "targets" / name)


def run(root: Path, params_yaml: str, study: Study, seed: int, log: Callable[[str], None]) -> Path:
    """Train, search thresholds and evaluate one configuration and seed; returns its folder."""
    folder = root / "runs" / study.name / f"seed-{seed}"
    if all((folder / "reports" / name / "table.json").is_file() for name in SETS):
        return folder
    variants = ["confidence-mean", "bounded", "activity"] + (["sebbs"] if sebbs_decoder.available() else [])
    overrides = [f"{k}={json.dumps(v)}" for k, v in {**study.overrides, "train.seed": seed, "thresholds.variants": variants}.items()]
    text = with_overrides(params_yaml, overrides)
    params = params_from_dict(yaml.safe_load(text))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.yaml").write_text(text)
    baseline = root / "runs" / "default" / f"seed-{seed}"
    for name in SETS:
        feats, targs = root / "features" / name, root / "targets" / name
        for system in ("proposed", "baseline"):
            models, outputs, bundles = (folder / kind / name / system for kind in ("models", "outputs", "bundles"))
            if system not in study.systems:  # reuse the default run's network of this seed
                for kind in ("models", "outputs", "bundles"):
                    link = folder / kind / name / system
                    if not link.exists():
                        link.parent.mkdir(parents=True, exist_ok=True)
                        link.symlink_to((baseline / kind / name / system).resolve(), target_is_directory=True)
                continue
            seconds = 0.0
            for fold in params.train.folds.of(name):
                out = models / f"fold-{fold}"
                if not (out / "best.pt").is_file():
                    started = time.perf_counter()
                    metrics = stages.train(params.model, params.train, feats, targs, str(fold), system, out)
                    seconds += time.perf_counter() - started
                    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
            log(f"{study.name} seed {seed} {name} {system}: trained ({seconds / 60:.1f} min)")
            evaluation.ensemble(feats, models, outputs)
            evaluation.thresholds(params.features, params.thresholds, root / "data" / name, outputs, models, bundles)
        systems = {s: (folder / "outputs" / name / s, folder / "bundles" / name / s, folder / "models" / name / s)
                   for s in ("proposed", "baseline")}
        reporting.evaluate(root / "data" / name, feats, targs, systems, folder / "reports" / name)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/tmp/mtsed-quality", help="scratch folder (resumable)")
    parser.add_argument("--params", default=str(REPO / "params.yaml"))
    parser.add_argument("--data-from", default=str(REPO), help="a project whose data/, features/, targets/ to reuse")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--studies", default="default,ablations,minutes")
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

        def log(line: str) -> None:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            print(f"[{stamp}] {line}", flush=True)
            with open(log_path, "a") as handle:
                handle.write(f"[{stamp}] {line}\n")

        for study in chosen:
            seeds = args.seeds[:1] if study.name.startswith("epochs-") else args.seeds if study.name in ("default", "masks-on") \
                else args.seeds[:2]
            for seed in seeds:
                run(root, params_yaml, study, seed, log)
    from benchmarks.quality_report import write_report

    write_report(root, params, chosen, args.seeds, Path(args.out))
    shutil.copy(args.out, root / "QUALITY.md")


if __name__ == "__main__":
    main()
