"""Names and places that every orchestrator shares, written once.

The pipeline runs on two data sets, ``SETS``: an isolated-event set (ITC-Irst style) and an
overlapping-event set (TUT-SED-Synthetic-2016 style).  Every artefact lives at
``<kind root>/<set>/<network or system>``: ensemble outputs and fold models under the
network that made them, bundles under the system that reads them (:mod:`mtsed.config.systems`
names both).  dvc.yaml, the stage runner, the Kubeflow components and the quality study
all lay their folders out through this module.
"""

from __future__ import annotations

from pathlib import Path

from mtsed.config.systems import SYSTEMS, network_of

SETS = ("isolated", "overlapping")

# The folders of a run, relative to where it runs (dvc.yaml names the same ones).
MODELS_ROOT, OUTPUTS_ROOT, BUNDLES_ROOT = Path("models"), Path("outputs"), Path("bundles")
REPORTS_ROOT = Path("reports")

# The files one stage writes and another reads, by the folder that holds them.
CHECKPOINT_FILE = "best.pt"  # a fold folder's kept weights
RESUME_FILE = "last.pt"  # a fold folder's last epoch, optimiser and random state: what a rerun resumes from
RUN_CONFIG_FILE = "config.json"  # a fold folder's recipe and sizes
HISTORY_FILE = "history.json"  # a fold folder's per-epoch figures
BUNDLE_FILE = "bundle.pt"  # a bundle folder's detector
THRESHOLDS_FILE = "thresholds.json"  # a bundle folder's searched thresholds, readable without torch
VARIANTS_FILE = "variants.json"  # a bundle folder's other decoders searched
TABLE_FILE = "table.md"  # a report folder's tables
TABLE_JSON_FILE = "table.json"  # the same, as numbers
FOLD_GLOB = "fold-*"  # every fold folder under a network's models folder
MANIFEST_FILE = "manifest.json"  # what a data set, features, targets or outputs folder holds
STATS_FILE = "stats.json"  # a features folder's per-fold standardisation statistics
SUMMARY_FILE = "summary.json"  # a data set folder's figures (minutes, events, overlaps)


REBUILD_BUNDLE = "rebuild it with `dvc repro thresholds` (or `make run`)"  # what to do about a bad bundle
MAKE_BUNDLES = "run `make run`"  # where bundles come from


def repro_command(stage: str, folder: Path) -> str:
    """The command that rewrites a per-set artefact folder such as ``features/isolated``
    (dvc.yaml's ``foreach`` stages are named ``<stage>@<set>``)."""
    return f"dvc repro {stage}@{Path(folder).name}"


def artefact_folder(root: Path, set_name: str, name: str = "") -> Path:
    """``<root>/<set>/<name>``: a network's models or outputs, a system's bundle, a set's
    features (no name)."""
    folder = Path(root) / set_name
    return folder / name if name else folder


def fold_folder(models: Path, fold: str | int) -> Path:
    """One fold's folder under a network's models folder: ``<models>/fold-<fold>``."""
    return Path(models) / f"fold-{fold}"


def bundle_file(set_name: str, system: str, bundles: Path = BUNDLES_ROOT) -> Path:
    """A system's detector as ``make run`` leaves it: ``<bundles>/<set>/<system>/bundle.pt``."""
    return artefact_folder(bundles, set_name, system) / BUNDLE_FILE


def registered_name(set_name: str, system: str) -> str:
    """MLflow registry name of one data set's detector of one system, e.g. ``mtsed-overlapping-proposed``."""
    return f"mtsed-{set_name}-{system}"


def system_folders(
    set_name: str, outputs: Path = OUTPUTS_ROOT, bundles: Path = BUNDLES_ROOT, models: Path = MODELS_ROOT
) -> dict[str, tuple[Path, Path, Path]]:
    """Per system, the folders its evaluation reads: ``(ensemble outputs, bundle, fold
    models)`` as ``<outputs>/<set>/<network>``, ``<bundles>/<set>/<system>`` and
    ``<models>/<set>/<network>`` under the given roots."""
    if set_name not in SETS:
        raise ValueError(f"unknown data set {set_name!r}; known: {', '.join(SETS)}")
    return {
        system: (
            artefact_folder(outputs, set_name, network_of(system)),
            artefact_folder(bundles, set_name, system),
            artefact_folder(models, set_name, network_of(system)),
        )
        for system in SYSTEMS
    }
