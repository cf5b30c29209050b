"""Open and close the MLflow parent run of one pipeline execution."""

from kfp import dsl

from mtsed.kubeflow.components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def start_tracking(params_yaml: str, tracking_uri: str, run_name: str) -> str:
    """Create the parent run (and the store) before any stage fans out; returns its id."""
    import os

    import yaml

    from mtsed.config import params_from_dict
    from mtsed.tracking import pipeline_run

    if tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    return pipeline_run(params_from_dict(yaml.safe_load(params_yaml)), run_name).run_id or ""


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def end_tracking(params_yaml: str, tracking_uri: str, parent_run_id: str) -> None:
    """Mark the parent run finished (runs as the exit handler, after success or failure)."""
    import os

    import yaml

    from mtsed import tracking
    from mtsed.config import params_from_dict

    if not parent_run_id or not tracking.enabled():
        return
    if tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    from mlflow.tracking import MlflowClient

    cfg = params_from_dict(yaml.safe_load(params_yaml)).tracking
    MlflowClient(tracking.tracking_uri(cfg)).set_terminated(parent_run_id, "FINISHED")
