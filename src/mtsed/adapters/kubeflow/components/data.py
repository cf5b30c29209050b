"""Data stages: clips, prepare, features, targets, and the fold list of a feature set."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from mtsed.adapters.kubeflow.components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def clips(params_yaml: str, tracking_uri: str, parent_run_id: str, clips: Output[Dataset], metrics: Output[Metrics]):
    """Curate the real clips (``<clips>/clips``)."""
    import tempfile

    from mtsed.adapters.kubeflow.runtime import run_stage

    with tempfile.TemporaryDirectory() as cache:
        run_stage(
            params_yaml,
            "clips",
            {"out": f"{clips.path}/clips", "cache_dir": cache},
            tracking_uri,
            parent_run_id,
            metrics,
        )


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def prepare(
    params_yaml: str,
    tracking_uri: str,
    parent_run_id: str,
    clips: Input[Dataset],
    data: Output[Dataset],
    metrics: Output[Metrics],
):
    """Mix both default sets (``<data>/isolated``, ``<data>/overlapping``)."""
    from mtsed.adapters.kubeflow.runtime import run_stage

    run_stage(
        params_yaml, "prepare", {"clips": f"{clips.path}/clips", "out": data.path}, tracking_uri, parent_run_id, metrics
    )


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def features(
    params_yaml: str,
    tracking_uri: str,
    parent_run_id: str,
    set_name: str,
    data: Input[Dataset],
    features: Output[Dataset],
    metrics: Output[Metrics],
):
    """Log-mel features of one set (``<features>/<set>``)."""
    from pathlib import Path

    from mtsed.adapters.kubeflow.runtime import run_stage
    from mtsed.config.layout import artefact_folder

    folders = {
        "data": str(artefact_folder(Path(data.path), set_name)),
        "out": str(artefact_folder(Path(features.path), set_name)),
    }
    run_stage(params_yaml, "features", folders, tracking_uri, parent_run_id, metrics)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def targets(
    params_yaml: str,
    tracking_uri: str,
    parent_run_id: str,
    set_name: str,
    data: Input[Dataset],
    features: Input[Dataset],
    targets: Output[Dataset],
    metrics: Output[Metrics],
):
    """Triplet targets of one set (``<targets>/<set>``)."""
    from pathlib import Path

    from mtsed.adapters.kubeflow.runtime import run_stage
    from mtsed.config.layout import artefact_folder

    folders = {
        "data": str(artefact_folder(Path(data.path), set_name)),
        "features": str(artefact_folder(Path(features.path), set_name)),
        "out": str(artefact_folder(Path(targets.path), set_name)),
    }
    run_stage(params_yaml, "targets", folders, tracking_uri, parent_run_id, metrics)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def list_folds(set_name: str, features: Input[Dataset]) -> list[str]:
    """The cross-validation folds of a feature set, for the training fan-out."""
    import json
    from pathlib import Path

    from mtsed.config.layout import MANIFEST_FILE, artefact_folder

    manifest = artefact_folder(Path(features.path), set_name) / MANIFEST_FILE
    return sorted(json.loads(manifest.read_text())["folds"])
