"""Where networks run: the GPU when torch sees one, else the CPU.

Training, ensemble outputs and detection all ask here, so one machine never trains on one
device and detects on another by accident.
"""

from __future__ import annotations

import torch


def pick_device() -> torch.device:
    """CUDA when available (training then uses mixed precision), else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
