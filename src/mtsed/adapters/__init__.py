"""What connects the library to the outside: the stage runner (one MLflow run per stage), MLflow
tracking, the model registry and its serving model, the tracking UI server, and Kubeflow."""
