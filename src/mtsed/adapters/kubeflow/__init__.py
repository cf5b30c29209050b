"""Kubeflow Pipelines v2: one lightweight component per stage, and the DAG that chains them.

Components are thin: each parses the pipeline's ``params_yaml`` once and calls the stage
runner (:mod:`mtsed.adapters.runner`) that the ``mtsed`` sub-commands of ``dvc.yaml`` call too,
on KFP artefact folders; none goes through the CLI.
"""
