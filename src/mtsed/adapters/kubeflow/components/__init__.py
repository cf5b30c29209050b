"""One KFP component per pipeline stage (each in its own module)."""

import os

IMAGE = os.environ.get("MTSED_IMAGE", "ghcr.io/mtsed/mtsed:latest")
