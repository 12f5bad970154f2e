"""Running experiments: config validation, the trainer, workdirs, checkpoints, sharding.

``enable_compilation_cache(path=None)`` turns on JAX's persistent compilation
cache for a notebook or script, as the CLI does by default
(``sparsecomp.run.compilation_cache``).
"""

from sparsecomp.run.compilation_cache import enable_compilation_cache

__all__ = ["enable_compilation_cache"]
