"""Definitions every layer measures with: F1 from counts (:mod:`mtsed.measures.f1`)."""
