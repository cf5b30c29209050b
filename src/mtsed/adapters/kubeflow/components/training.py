"""Training one fold of one network: the task the pipeline fans out (GPU when requested)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from mtsed.adapters.kubeflow.components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train(
    params_yaml: str,
    tracking_uri: str,
    parent_run_id: str,
    set_name: str,
    fold: str,
    network: str,
    features: Input[Dataset],
    targets: Input[Dataset],
    model: Output[Model],
    metrics: Output[Metrics],
):
    """Train ``network`` on ``fold``: ``<model>/fold-<fold>`` holds best.pt, last.pt, history, config."""
    from pathlib import Path

    from mtsed.adapters.kubeflow.runtime import run_stage
    from mtsed.config.layout import artefact_folder, fold_folder

    model.metadata.update({"set": set_name, "fold": fold, "network": network})
    folders = {
        "features": str(artefact_folder(Path(features.path), set_name)),
        "targets": str(artefact_folder(Path(targets.path), set_name)),
        "fold": fold,
        "network": network,
        "out": str(fold_folder(Path(model.path), fold)),
    }
    run_stage(params_yaml, "train", folders, tracking_uri, parent_run_id, metrics)
