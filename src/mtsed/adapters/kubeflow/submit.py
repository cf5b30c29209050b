"""Submit the pipeline to a Kubeflow Pipelines server (`mtsed pipeline submit`)."""

import tempfile
from pathlib import Path


def submit(params_yaml: str, host: str, experiment: str, run_name: str, tracking_uri: str) -> str:
    """Compile with these parameters as defaults and start a run on a Kubeflow Pipelines
    server through ``kfp.Client``; returns the run id."""
    import kfp

    from mtsed.adapters.kubeflow.pipeline import compile_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        package = compile_pipeline(params_yaml, Path(tmp) / "pipeline.yaml")
        client = kfp.Client(host=host)
        run = client.create_run_from_pipeline_package(
            str(package),
            arguments={"params_yaml": params_yaml, "tracking_uri": tracking_uri, "run_name": run_name},
            experiment_name=experiment,
            run_name=run_name,
        )
    return run.run_id
