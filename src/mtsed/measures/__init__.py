"""Definitions every layer measures with: F1 from counts (:mod:`mtsed.measures.f1`), the distance
head's error by band of true distance (:mod:`mtsed.measures.distance_errors`)."""
