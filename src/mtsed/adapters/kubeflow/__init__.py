"""Kubeflow Pipelines v2: one lightweight component per stage, and the DAG that chains them.

Components are thin: each writes the pipeline's ``params_yaml`` to a file and runs the same
``mtsed`` CLI sub-command that ``dvc.yaml`` runs, on KFP artefact folders.
"""
