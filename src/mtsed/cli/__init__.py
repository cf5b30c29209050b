"""The ``mtsed`` command: argument parsing only; stages go through :mod:`mtsed.adapters.runner`."""
