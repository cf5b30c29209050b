"""Ensemble outputs, threshold search (the model bundle) and evaluation of one set."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Markdown, Metrics, Model, Output

from mtsed.adapters.kubeflow.components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def ensemble(
    params_yaml: str,
    tracking_uri: str,
    parent_run_id: str,
    set_name: str,
    network: str,
    features: Input[Dataset],
    models: Input[list[Model]],
    outputs: Output[Dataset],
    metrics: Output[Metrics],
):
    """Every fold model's outputs (``<outputs>/<set>/<network>``) from the collected fold models."""
    import tempfile
    from pathlib import Path

    from mtsed.adapters.kubeflow.runtime import fold_links, link_tree, run_stage
    from mtsed.config.layout import MODELS_ROOT, artefact_folder

    models_dir = artefact_folder(MODELS_ROOT, set_name, network)
    with tempfile.TemporaryDirectory() as tmp:
        root = link_tree(Path(tmp), fold_links([m.path for m in models], str(models_dir)))
        folders = {
            "features": str(artefact_folder(Path(features.path), set_name)),
            "models": str(root / models_dir),
            "out": str(artefact_folder(Path(outputs.path), set_name, network)),
        }
        run_stage(params_yaml, "ensemble", folders, tracking_uri, parent_run_id, metrics)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def thresholds(
    params_yaml: str,
    tracking_uri: str,
    parent_run_id: str,
    set_name: str,
    system: str,
    network: str,
    data: Input[Dataset],
    outputs: Input[Dataset],
    models: Input[list[Model]],
    bundle: Output[Model],
    metrics: Output[Metrics],
):
    """Per-class threshold search; ``<bundle>/<set>/<system>/bundle.pt`` is the detector
    (``network``: the trained network the system reads, ``proposed`` for ``multitask``)."""
    import tempfile
    from pathlib import Path

    from mtsed.adapters.kubeflow.runtime import fold_links, link_tree, run_stage
    from mtsed.config.layout import MODELS_ROOT, artefact_folder

    models_dir = artefact_folder(MODELS_ROOT, set_name, network)
    with tempfile.TemporaryDirectory() as tmp:
        root = link_tree(Path(tmp), fold_links([m.path for m in models], str(models_dir)))
        folders = {
            "data": str(artefact_folder(Path(data.path), set_name)),
            "outputs": str(artefact_folder(Path(outputs.path), set_name, network)),
            "models": str(root / models_dir),
            "out": str(artefact_folder(Path(bundle.path), set_name, system)),
            "system": system,
        }
        run_stage(params_yaml, "thresholds", folders, tracking_uri, parent_run_id, metrics)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def evaluate(
    params_yaml: str,
    tracking_uri: str,
    parent_run_id: str,
    set_name: str,
    data: Input[Dataset],
    features: Input[Dataset],
    targets: Input[Dataset],
    proposed_outputs: Input[Dataset],
    baseline_outputs: Input[Dataset],
    proposed_bundle: Input[Model],
    baseline_bundle: Input[Model],
    multitask_bundle: Input[Model],
    proposed_models: Input[list[Model]],
    baseline_models: Input[list[Model]],
    report: Output[Dataset],
    table: Output[Markdown],
    metrics: Output[Metrics],
):
    """Tables, event lists and figures of every system (``<report>/<set>``); the table as Markdown."""
    import tempfile
    from pathlib import Path

    from mtsed.adapters.kubeflow.runtime import fold_links, link_tree, run_stage
    from mtsed.config.layout import (
        BUNDLES_ROOT,
        MODELS_ROOT,
        OUTPUTS_ROOT,
        TABLE_FILE,
        artefact_folder,
        system_folders,
    )

    outputs = {"proposed": proposed_outputs, "baseline": baseline_outputs}
    models = {"proposed": proposed_models, "baseline": baseline_models}
    bundles = {"proposed": proposed_bundle, "baseline": baseline_bundle, "multitask": multitask_bundle}
    links = {}
    for system, (outputs_dir, bundle_dir, models_dir) in system_folders(set_name).items():  # the layout the stage reads
        links[str(bundle_dir)] = str(artefact_folder(Path(bundles[system].path), set_name, system))
        network = models_dir.name
        if system == network:  # each network's outputs and folds once, though two systems read the proposed one
            links[str(outputs_dir)] = str(artefact_folder(Path(outputs[network].path), set_name, network))
            links.update(fold_links([m.path for m in models[network]], str(models_dir)))
    report_dir = artefact_folder(Path(report.path), set_name)
    with tempfile.TemporaryDirectory() as tmp:
        root = link_tree(Path(tmp), links)
        folders = {
            "data": str(artefact_folder(Path(data.path), set_name)),
            "features": str(artefact_folder(Path(features.path), set_name)),
            "targets": str(artefact_folder(Path(targets.path), set_name)),
            "outputs": str(root / OUTPUTS_ROOT),
            "bundles": str(root / BUNDLES_ROOT),
            "models": str(root / MODELS_ROOT),
            "out": str(report_dir),
        }
        run_stage(params_yaml, "evaluate-set", folders, tracking_uri, parent_run_id, metrics)
    with open(table.path, "w") as handle:
        handle.write((report_dir / TABLE_FILE).read_text())
