"""The pipeline as a Kubeflow Pipelines v2 DAG: the stages of ``dvc.yaml``, folds in parallel.

``params_yaml`` (the whole ``params.yaml`` as text) is the pipeline parameter that mirrors
the DVC parameters; ``mtsed pipeline submit --param key=value`` edits it before submission.
"""

from dataclasses import dataclass
from pathlib import Path

from kfp import compiler, dsl

from mtsed.adapters.kubeflow.components import data, evaluation, tracking, training
from mtsed.config.layout import SETS
from mtsed.config.systems import NETWORKS


@dataclass(frozen=True)
class Resources:
    """Where tasks run: GPU requests on training, CPU and memory requests elsewhere."""

    accelerator_type: str = "nvidia.com/gpu"  # empty: train on CPU
    accelerator_limit: int = 1
    train_retries: int = 2
    cpu_request: str = "2"
    memory_request: str = "8G"
    parallelism: int = 8  # training tasks at once per set and system


def _sized(task: dsl.PipelineTask, resources: Resources) -> dsl.PipelineTask:
    return task.set_cpu_request(resources.cpu_request).set_memory_request(resources.memory_request)


def build_pipeline(default_params_yaml: str, resources: Resources = Resources()):
    """The ``@dsl.pipeline`` function with ``params.yaml`` as the default of ``params_yaml``."""

    @dsl.pipeline(name="mtsed", description="Multi-label multi-task CRNN sound event detection (Phan et al. 2018)")
    def mtsed_pipeline(params_yaml: str = default_params_yaml, tracking_uri: str = "", run_name: str = "kubeflow"):
        # The exit handler cannot take another task's output, so it finds the parent run by
        # the job id, which both tasks read from the same placeholder.
        close = tracking.close_tracking(
            params_yaml=params_yaml, tracking_uri=tracking_uri, execution=dsl.PIPELINE_JOB_ID_PLACEHOLDER
        )
        close.set_caching_options(False).set_display_name("close MLflow runs")
        with dsl.ExitHandler(close, name="stages"):
            start = tracking.start_tracking(
                params_yaml=params_yaml,
                tracking_uri=tracking_uri,
                run_name=run_name,
                execution=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            )
            start.set_caching_options(False)  # a new parent run per execution
            common = {"params_yaml": params_yaml, "tracking_uri": tracking_uri, "parent_run_id": start.output}
            evaluations = []
            clips = _sized(data.clips(**common), resources)
            prepared = _sized(data.prepare(clips=clips.outputs["clips"], **common), resources)
            for set_name in SETS:
                feats = _sized(data.features(set_name=set_name, data=prepared.outputs["data"], **common), resources)
                targs = _sized(
                    data.targets(
                        set_name=set_name, data=prepared.outputs["data"], features=feats.outputs["features"], **common
                    ),
                    resources,
                )
                folds = data.list_folds(set_name=set_name, features=feats.outputs["features"])
                trained, per_system = {}, {}
                for network in NETWORKS:  # each network's own system, then system multitask on the proposed network
                    with dsl.ParallelFor(folds.output, parallelism=resources.parallelism) as fold:
                        task = training.train(
                            set_name=set_name,
                            fold=fold,
                            network=network,
                            features=feats.outputs["features"],
                            targets=targs.outputs["targets"],
                            **common,
                        )
                        task.set_retry(resources.train_retries).set_display_name(f"train {set_name} {network}")
                        if resources.accelerator_type:
                            task.set_accelerator_type(resources.accelerator_type).set_accelerator_limit(
                                resources.accelerator_limit
                            )
                        _sized(task, resources)
                    trained[network] = task  # a dsl.Collected may feed one consumer only (kfp 2.17): one per use
                    outputs = _sized(
                        evaluation.ensemble(
                            set_name=set_name,
                            network=network,
                            features=feats.outputs["features"],
                            models=dsl.Collected(task.outputs["model"]),
                            **common,
                        ),
                        resources,
                    )
                    bundle = _sized(
                        evaluation.thresholds(
                            set_name=set_name,
                            system=network,
                            network=network,
                            data=prepared.outputs["data"],
                            outputs=outputs.outputs["outputs"],
                            models=dsl.Collected(task.outputs["model"]),
                            **common,
                        ),
                        resources,
                    )
                    per_system[network] = (outputs.outputs["outputs"], bundle.outputs["bundle"])
                multitask = _sized(
                    evaluation.thresholds(
                        set_name=set_name,
                        system="multitask",
                        network="proposed",
                        data=prepared.outputs["data"],
                        outputs=per_system["proposed"][0],
                        models=dsl.Collected(trained["proposed"].outputs["model"]),
                        **common,
                    ),
                    resources,
                )
                multitask.set_display_name(f"thresholds {set_name} multitask")
                evaluations.append(
                    evaluation.evaluate(
                        set_name=set_name,
                        data=prepared.outputs["data"],
                        features=feats.outputs["features"],
                        targets=targs.outputs["targets"],
                        proposed_outputs=per_system["proposed"][0],
                        baseline_outputs=per_system["baseline"][0],
                        proposed_bundle=per_system["proposed"][1],
                        baseline_bundle=per_system["baseline"][1],
                        multitask_bundle=multitask.outputs["bundle"],
                        proposed_models=dsl.Collected(trained["proposed"].outputs["model"]),
                        baseline_models=dsl.Collected(trained["baseline"].outputs["model"]),
                        **common,
                    )
                )
                _sized(evaluations[-1], resources).set_display_name(f"evaluate {set_name}")

    return mtsed_pipeline


def compile_pipeline(params_yaml: str, out: Path, resources: Resources = Resources()) -> Path:
    """Write the compiled IR YAML (what ``kfp.Client`` submits)."""
    compiler.Compiler().compile(build_pipeline(params_yaml, resources), str(out))
    return out


def component_functions() -> dict[str, object]:
    """Every component of the DAG by name, as the component modules define them."""
    found = {}
    for module in (tracking, data, training, evaluation):
        found |= {name: value for name, value in vars(module).items() if hasattr(value, "component_spec")}
    return found


def compile_components(folder: Path) -> list[Path]:
    """Write each component's own compiled spec (``<folder>/<name>.yaml``), the form KFP
    users reuse components in (``kfp.components.load_component_from_file``)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, component in sorted(component_functions().items()):
        compiler.Compiler().compile(component, str(folder / f"{name}.yaml"))
        written.append(folder / f"{name}.yaml")
    return written
