"""Scoring events against references: event and segment metrics, threshold-free scores (PSDS),
diagnostics of where errors sit, and the report's tables and plots."""
