"""mtsed: multi-label multi-task CRNN sound event detection (Phan et al. 2018)."""

__version__ = "0.1.0"
