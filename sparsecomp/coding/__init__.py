"""Per-sample sparse coding: pure functions of arrays and numbers (no config, no registry)."""
