"""One function per pipeline stage: paths in, files out, a metrics dict back.

DVC stages, Kubeflow components and the CLI all call these and nothing else, so no stage
logic is written twice.  Every stage builds its output folder aside and swaps it in whole
(:func:`mtsed.io.fileio.atomic_dir`): an interrupted stage never leaves a half-written output.
"""

from mtsed.config.layout import SETS
from mtsed.stages.preparation import clips, features, prepare, targets
from mtsed.stages.training import train
from mtsed.config.systems import NETWORKS, SYSTEMS

__all__ = ["NETWORKS", "SETS", "SYSTEMS", "clips", "features", "prepare", "targets", "train"]
