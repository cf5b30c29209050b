"""One function per pipeline stage: paths in, files out, a metrics dict back.

DVC stages, Kubeflow components and the CLI all call these and nothing else, so no stage
logic is written twice.  Every stage builds its output folder aside and swaps it in whole
(:func:`mtsed.fileio.atomic_dir`): an interrupted stage never leaves a half-written output.
"""

from mtsed.stages.preparation import DEFAULT_SETS, clips, features, prepare, targets
from mtsed.stages.training import train
from mtsed.systems import NETWORKS, SYSTEMS

__all__ = ["DEFAULT_SETS", "NETWORKS", "SYSTEMS", "clips", "features", "prepare", "targets", "train"]
