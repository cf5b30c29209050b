"""Open and close the MLflow parent run of one pipeline execution."""

from kfp import dsl

from mtsed.adapters.kubeflow.components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def start_tracking(params_yaml: str, tracking_uri: str, run_name: str, execution: str) -> str:
    """Create the parent run (and the store) before any stage fans out, tagged with the
    ``execution`` (the Kubeflow job id) that :func:`close_tracking` finds it by; returns its id."""
    import os

    import yaml

    from mtsed.adapters.tracking import describe_pipeline, pipeline_run
    from mtsed.config import params_from_dict

    if tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    params = params_from_dict(yaml.safe_load(params_yaml))
    run = pipeline_run(params, run_name, execution)
    describe_pipeline(run, params)  # a Kubeflow run's parameters are fixed when it starts
    return run.run_id or ""


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def close_tracking(params_yaml: str, tracking_uri: str, execution: str, status: dsl.PipelineTaskFinalStatus) -> None:
    """The exit handler: however the execution ended, end its parent run FINISHED or FAILED
    and any child run a killed stage left RUNNING FAILED."""
    import os

    import yaml

    from mtsed.adapters import tracking
    from mtsed.config import params_from_dict

    if tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    cfg = params_from_dict(yaml.safe_load(params_yaml)).tracking
    ended = tracking.close_execution(cfg, execution, status.state == "SUCCEEDED")
    print(f"execution {execution} ended {status.state}: closed {len(ended)} MLflow run(s)")
