"""Compile, edit and submit the pipeline; the `mtsed pipeline ...` commands call these."""

import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml

from mtsed.config import ConfigError, params_from_dict


def with_overrides(params_yaml: str, overrides: Sequence[str]) -> str:
    """``params.yaml`` with ``key.sub=value`` overrides applied (values parsed as YAML) and
    validated, so a typo fails here rather than in a pod on the cluster.  Returned as one line
    of flow-style YAML: KFP writes a parameter default into the compiled file's header
    comment, and a multi-line default would break that file."""
    raw = yaml.safe_load(params_yaml) or {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError("", f"override {item!r} must look like key.sub=value")
        node = raw
        *parents, leaf = key.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ConfigError(key, "is not a known parameter")
            node = node[part]
        if leaf not in node:
            raise ConfigError(key, "is not a known parameter")
        node[leaf] = yaml.safe_load(value)
    params_from_dict(raw)
    return yaml.safe_dump(raw, default_flow_style=True, width=float("inf"), sort_keys=False).strip()


def submit(params_yaml: str, host: str, experiment: str, run_name: str, tracking_uri: str) -> str:
    """Compile with these parameters as defaults and start a run on a Kubeflow Pipelines
    server through ``kfp.Client``; returns the run id."""
    import kfp

    from mtsed.kubeflow.pipeline import compile_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        package = compile_pipeline(params_yaml, Path(tmp) / "pipeline.yaml")
        client = kfp.Client(host=host)
        run = client.create_run_from_pipeline_package(
            str(package), arguments={"params_yaml": params_yaml, "tracking_uri": tracking_uri, "run_name": run_name},
            experiment_name=experiment, run_name=run_name,
        )
    return run.run_id
