"""One function per pipeline stage: paths in, files out, a metrics dict back.

- :mod:`~mtsed.stages.clips`, :mod:`~mtsed.stages.prepare`, :mod:`~mtsed.stages.features`,
  :mod:`~mtsed.stages.targets`: the data stages, one module each;
- :mod:`~mtsed.stages.training`: ``train`` (one network on one fold);
- :mod:`~mtsed.stages.detector`: ``ensemble`` (fold networks' outputs) and ``thresholds``
  (the searched detector bundle of one system);
- :mod:`~mtsed.stages.evaluation`: ``evaluate`` (every system on a set's evaluation split).

DVC stages, Kubeflow components and the CLI all call these through
:mod:`mtsed.adapters.runner` and nothing else, so no stage logic is written twice.  Every
stage builds its output folder aside and swaps it in whole (:func:`mtsed.io.fileio.atomic_dir`):
an interrupted stage never leaves a half-written output.  This package imports none of its
modules, so a stage loads only the code it runs (and dvc.yaml lists just that).
"""
