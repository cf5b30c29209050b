"""Ensemble outputs, threshold search (the model bundle) and evaluation of one set."""

from typing import List

from kfp import dsl
from kfp.dsl import Dataset, Input, Markdown, Metrics, Model, Output

from mtsed.adapters.kubeflow.components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def ensemble(params_yaml: str, tracking_uri: str, parent_run_id: str, set_name: str, network: str,
             features: Input[Dataset], models: Input[List[Model]], outputs: Output[Dataset], metrics: Output[Metrics]):
    """Every fold model's outputs (``<outputs>/<set>/<network>``) from the collected fold models."""
    import tempfile
    from pathlib import Path

    from mtsed.adapters.kubeflow.runtime import fold_links, link_tree, run_stage

    with tempfile.TemporaryDirectory() as tmp:
        root = link_tree(Path(tmp), fold_links([m.path for m in models], f"models/{set_name}/{network}"))
        run_stage(params_yaml, "ensemble", {"features": f"{features.path}/{set_name}", "models": str(root / "models" / set_name / network),
                                          "out": f"{outputs.path}/{set_name}/{network}"}, tracking_uri, parent_run_id, metrics)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def thresholds(params_yaml: str, tracking_uri: str, parent_run_id: str, set_name: str, system: str, network: str, data: Input[Dataset],
               outputs: Input[Dataset], models: Input[List[Model]], bundle: Output[Model], metrics: Output[Metrics]):
    """Per-class threshold search; ``<bundle>/<set>/<system>/bundle.pt`` is the detector
    (``network``: the trained network the system reads, ``proposed`` for ``multitask``)."""
    import tempfile
    from pathlib import Path

    from mtsed.adapters.kubeflow.runtime import fold_links, link_tree, run_stage

    with tempfile.TemporaryDirectory() as tmp:
        root = link_tree(Path(tmp), fold_links([m.path for m in models], f"models/{set_name}/{network}"))
        run_stage(params_yaml, "thresholds", {"data": f"{data.path}/{set_name}", "outputs": f"{outputs.path}/{set_name}/{network}",
                                            "models": str(root / "models" / set_name / network), "out": f"{bundle.path}/{set_name}/{system}",
                                            "system": system}, tracking_uri, parent_run_id, metrics)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def evaluate(params_yaml: str, tracking_uri: str, parent_run_id: str, set_name: str, data: Input[Dataset], features: Input[Dataset],
             targets: Input[Dataset], proposed_outputs: Input[Dataset], baseline_outputs: Input[Dataset], proposed_bundle: Input[Model],
             baseline_bundle: Input[Model], multitask_bundle: Input[Model], proposed_models: Input[List[Model]],
             baseline_models: Input[List[Model]], report: Output[Dataset], table: Output[Markdown], metrics: Output[Metrics]):
    """Tables, event lists and figures of every system (``<report>/<set>``); the table as Markdown."""
    import tempfile
    from pathlib import Path

    from mtsed.adapters.kubeflow.runtime import fold_links, link_tree, run_stage
    from mtsed.config.layout import system_folders

    outputs = {"proposed": proposed_outputs, "baseline": baseline_outputs}
    models = {"proposed": proposed_models, "baseline": baseline_models}
    bundles = {"proposed": proposed_bundle, "baseline": baseline_bundle, "multitask": multitask_bundle}
    links = {}
    for system, (outputs_dir, bundle_dir, models_dir) in system_folders(set_name).items():  # the layout the stage reads
        links[str(bundle_dir)] = f"{bundles[system].path}/{set_name}/{system}"
        network = models_dir.name
        if system == network:  # each network's outputs and folds once, though two systems read the proposed one
            links[str(outputs_dir)] = f"{outputs[network].path}/{set_name}/{network}"
            links.update(fold_links([m.path for m in models[network]], str(models_dir)))
    with tempfile.TemporaryDirectory() as tmp:
        root = link_tree(Path(tmp), links)
        run_stage(params_yaml, "evaluate-set", {"data": f"{data.path}/{set_name}", "features": f"{features.path}/{set_name}",
                                              "targets": f"{targets.path}/{set_name}", "outputs": str(root / "outputs"),
                                              "bundles": str(root / "bundles"), "models": str(root / "models"),
                                              "out": f"{report.path}/{set_name}"}, tracking_uri, parent_run_id, metrics)
    with open(table.path, "w") as handle:
        handle.write((Path(report.path) / set_name / "table.md").read_text())
