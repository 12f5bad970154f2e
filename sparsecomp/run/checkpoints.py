"""Orbax checkpoints of what methods learn, one manager per (point, method).

Layout: ``<workdir>/checkpoints/<point_name>/<method>/<step>/``; the saved
pytree keeps the seed axis first. Step 0 holds a finished method's parameters.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from sparsecomp.run import distributed
from sparsecomp.run.schema import CHECKPOINTS_DIR

FINAL_STEP = 0


def checkpoint_dir(workdir: Path, point: str, method: str) -> Path:
    """Directory of the checkpoint manager of one (point, method) pair."""
    return Path(workdir).resolve() / CHECKPOINTS_DIR / point / method


def save_params(directory: Path, params: Any) -> None:
    """Saves ``params`` (seed axis first) as the final step, replacing leftovers.

    A directory left by a run killed before its rows were written is removed
    first (by process 0), so a resumed run writes the same checkpoint as an
    uninterrupted one. In a multi-process run every process calls this with
    the same ``params``; Orbax coordinates the save.
    """
    if distributed.is_writer() and directory.exists():
        shutil.rmtree(directory)
    distributed.barrier(f"sparsecomp:cleared:{directory}")
    # Synchronous: the caller needs the checkpoint at once, and no background
    # thread issues Orbax's barriers beside the caller's collectives.
    options = ocp.CheckpointManagerOptions(create=True, enable_async_checkpointing=False)
    with ocp.CheckpointManager(directory, options=options) as manager:
        manager.save(FINAL_STEP, args=ocp.args.StandardSave(params))


def restore_params(directory: Path, like: Any | None = None) -> Any:
    """Restores the final-step pytree (as numpy/jax arrays, seed axis first).

    Args:
      directory: from ``checkpoint_dir``.
      like: optional pytree of arrays or ``jax.ShapeDtypeStruct`` giving the
        structure, shapes and shardings to restore into.
    """
    # Not read_only: that mode only adds a warning; a manager that never saves writes nothing.
    options = ocp.CheckpointManagerOptions(create=False)
    with ocp.CheckpointManager(directory, options=options) as manager:
        step = manager.latest_step()
        if step is None:
            raise FileNotFoundError(f"no checkpoint under {directory}")
        if like is None:
            return manager.restore(step, args=ocp.args.StandardRestore())
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        return manager.restore(step, args=ocp.args.StandardRestore(abstract))
