"""Deterministic GPU runs: the XLA flag that makes two runs of a command bitwise equal.

XLA:GPU may implement scatter-adds and some reductions with atomics, whose
order of accumulation changes from run to run, so two runs with the same
seeds can differ in the last bits. ``--xla_gpu_deterministic_ops=true`` makes
XLA use deterministic implementations (and refuse an op that has none). XLA
reads ``XLA_FLAGS`` once, when the backend starts, so the flag must be set
before JAX's first computation: the command line does (``--deterministic_gpu``,
on by default). On a CPU, runs are deterministic already and the flag is
ignored. ``benchmarks/accelerator_check.sh`` compares the rows of two runs.
"""

from __future__ import annotations

import os

FLAG_NAME = "--xla_gpu_deterministic_ops"


def with_deterministic_gpu(xla_flags: str) -> str:
    """``xla_flags`` (an ``XLA_FLAGS`` value) with deterministic GPU ops turned on.

    A value that already sets the flag, either way, is returned unchanged: the
    user's explicit choice wins.
    """
    if FLAG_NAME in xla_flags:
        return xla_flags
    return f"{xla_flags} {FLAG_NAME}=true".strip()


def enable_deterministic_gpu(environ=os.environ) -> None:
    """Adds the flag to ``environ["XLA_FLAGS"]``; call it before JAX's first computation."""
    environ["XLA_FLAGS"] = with_deterministic_gpu(environ.get("XLA_FLAGS", ""))
