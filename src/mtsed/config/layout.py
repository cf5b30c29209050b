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


REBUILD_BUNDLE = "rebuild it with `dvc repro thresholds` (or `make run`)"  # what to do about a bad bundle
MAKE_BUNDLES = "run `make run`"  # where bundles come from


def repro_command(stage: str, folder: Path) -> str:
    """The command that rewrites a per-set artefact folder such as ``features/isolated``
    (dvc.yaml's ``foreach`` stages are named ``<stage>@<set>``)."""
    return f"dvc repro {stage}@{Path(folder).name}"


def system_folders(
    set_name: str, outputs: Path = Path("outputs"), bundles: Path = Path("bundles"), models: Path = Path("models")
) -> dict[str, tuple[Path, Path, Path]]:
    """Per system, the folders its evaluation reads: ``(ensemble outputs, bundle, fold
    models)`` as ``<outputs>/<set>/<network>``, ``<bundles>/<set>/<system>`` and
    ``<models>/<set>/<network>`` under the given roots."""
    if set_name not in SETS:
        raise ValueError(f"unknown data set {set_name!r}; known: {', '.join(SETS)}")
    return {
        system: (
            Path(outputs) / set_name / network_of(system),
            Path(bundles) / set_name / system,
            Path(models) / set_name / network_of(system),
        )
        for system in SYSTEMS
    }
