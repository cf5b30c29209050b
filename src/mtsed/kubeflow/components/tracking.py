"""Open and close the MLflow parent run of one pipeline execution."""

from kfp import dsl

from mtsed.kubeflow.components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def start_tracking(params_yaml: str, tracking_uri: str, run_name: str) -> str:
    """Create the parent run (and the store) before any stage fans out; returns its id."""
    import os

    import yaml

    from mtsed.config import params_from_dict
    from mtsed.tracking import describe_pipeline, pipeline_run

    if tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    params = params_from_dict(yaml.safe_load(params_yaml))
    run = pipeline_run(params, run_name)
    describe_pipeline(run, params)  # a Kubeflow run's parameters are fixed when it starts
    return run.run_id or ""


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def end_tracking(params_yaml: str, tracking_uri: str, parent_run_id: str) -> None:
    """Mark the parent run finished (after the evaluations)."""
    import os

    import yaml

    from mtsed import tracking
    from mtsed.config import params_from_dict

    if not parent_run_id:
        return
    if tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    tracking.Run.attach(params_from_dict(yaml.safe_load(params_yaml)).tracking, parent_run_id).end()
