"""Training one fold of one network: the task the pipeline fans out (GPU when requested)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from mtsed.adapters.kubeflow.components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train(params_yaml: str, tracking_uri: str, parent_run_id: str, set_name: str, fold: str, network: str,
          features: Input[Dataset], targets: Input[Dataset], model: Output[Model], metrics: Output[Metrics]):
    """Train ``network`` on ``fold``: ``<model>/fold-<fold>`` holds best.pt, last.pt, history, config."""
    from mtsed.adapters.kubeflow.runtime import run_stage

    model.metadata.update({"set": set_name, "fold": fold, "network": network})
    run_stage(params_yaml, "train", {"features": f"{features.path}/{set_name}", "targets": f"{targets.path}/{set_name}",
                                    "fold": fold, "network": network, "out": f"{model.path}/fold-{fold}"},
              tracking_uri, parent_run_id, metrics)
