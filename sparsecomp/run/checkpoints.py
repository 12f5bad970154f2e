"""Orbax checkpoints of what methods learn, one manager per (point, method).

Layout: ``<workdir>/checkpoints/<point_name>/<method>/<step>/``; the saved
pytree keeps the seed axis first. Step 0 holds a finished method's parameters.

Beside the step, ``checksum.json`` records the seeds along that axis and a
SHA-256 over every leaf's path, dtype, shape and bytes (``params_checksum``),
written once Orbax's save has completed; ``restore_params`` verifies it, so a
checkpoint whose bytes changed on disk is refused (``CheckpointError``), not
restored. Checkpoints written before checksums existed have no such file:
they are restored as before, unverified, and their seeds are those of their
group's rows (``saved_seeds`` gives ``None``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from sparsecomp.run import distributed
from sparsecomp.run.schema import CHECKPOINTS_DIR

FINAL_STEP = 0
CHECKSUM_FILE = "checksum.json"  # beside the step directories, per (point, method)


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable, or not what was saved (checksum, seeds)."""


def checkpoint_dir(workdir: Path, point: str, method: str) -> Path:
    """Directory of the checkpoint manager of one (point, method) pair."""
    return Path(workdir).resolve() / CHECKPOINTS_DIR / point / method


def save_params(directory: Path, params: Any, seeds: tuple[int, ...] | None = None) -> None:
    """Saves ``params`` (seed axis first) as the final step, replacing leftovers.

    A directory left by a run killed before its rows were written is removed
    first (by process 0), so a resumed run writes the same checkpoint as an
    uninterrupted one. In a multi-process run every process calls this with
    the same ``params``; Orbax coordinates the save. Then process 0 writes
    ``CHECKSUM_FILE`` with ``seeds`` (the seeds along the leading axis) and
    the checksum of ``params``.
    """
    if distributed.is_writer() and directory.exists():
        shutil.rmtree(directory)
    distributed.barrier(f"sparsecomp:cleared:{directory}")
    # Synchronous: the caller needs the checkpoint at once, and no background
    # thread issues Orbax's barriers beside the caller's collectives.
    options = ocp.CheckpointManagerOptions(create=True, enable_async_checkpointing=False)
    with ocp.CheckpointManager(directory, options=options) as manager:
        manager.save(FINAL_STEP, args=ocp.args.StandardSave(params))
    if distributed.is_writer():
        record = {"seeds": None if seeds is None else [int(s) for s in seeds],
                  **params_checksum(params)}
        tmp = directory / (CHECKSUM_FILE + ".tmp")
        tmp.write_text(json.dumps(record, sort_keys=True, indent=1))
        os.replace(tmp, directory / CHECKSUM_FILE)
    distributed.barrier(f"sparsecomp:checksummed:{directory}")


def restore_params(directory: Path, like: Any | None = None) -> Any:
    """Restores the final-step pytree (as numpy/jax arrays, seed axis first), verified.

    Args:
      directory: from ``checkpoint_dir``.
      like: optional pytree of arrays or ``jax.ShapeDtypeStruct`` giving the
        structure, shapes and shardings to restore into.

    Raises:
      CheckpointError: when there is no checkpoint, Orbax cannot read it, or
        the restored arrays do not match ``CHECKSUM_FILE`` (a checkpoint
        without that file, from before checksums, is restored unverified);
        its message says which, in a few words ("missing", "corrupt (...)").
    """
    if not Path(directory).is_dir():
        raise CheckpointError("missing")
    # Not read_only: that mode only adds a warning; a manager that never saves writes nothing.
    options = ocp.CheckpointManagerOptions(create=False)
    try:
        with ocp.CheckpointManager(directory, options=options) as manager:
            step = manager.latest_step()
            if step is None:
                raise CheckpointError("missing (no step)")
            if like is None:
                params = manager.restore(step, args=ocp.args.StandardRestore())
            else:
                abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
                params = manager.restore(step, args=ocp.args.StandardRestore(abstract))
    except CheckpointError:
        raise
    except Exception as error:  # whatever Orbax or TensorStore raise for damaged files
        raise CheckpointError(f"unreadable ({type(error).__name__}: "
                              f"{str(error).splitlines()[0] if str(error) else ''})") from error
    record = _checksum_record(directory)
    if record is not None:
        found = params_checksum(params)
        if found["sha256"] != record["sha256"]:
            raise CheckpointError("corrupt (checksum mismatch: the restored arrays are not "
                                  "those that were saved)")
    return params


def saved_seeds(directory: Path) -> tuple[int, ...] | None:
    """The seeds along the checkpoint's leading axis, or ``None`` if not recorded."""
    record = _checksum_record(directory)
    return None if record is None or record.get("seeds") is None else tuple(record["seeds"])


def _checksum_record(directory: Path) -> dict | None:
    path = Path(directory) / CHECKSUM_FILE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        if not isinstance(record.get("sha256"), str):
            raise ValueError("no sha256")
    except (ValueError, AttributeError) as error:
        raise CheckpointError(f"corrupt ({CHECKSUM_FILE} unreadable: {error})") from None
    return record


def params_checksum(params: Any) -> dict:
    """``{"sha256": hex, "leaves": [[path, dtype, shape], ...]}`` of a pytree of arrays.

    Leaves are taken in the order of their paths (``a/b/0``: dict keys,
    attribute names and sequence indices joined by ``/``), so the checksum
    does not depend on the container types Orbax restores into; each leaf
    contributes its path, dtype, shape and C-order bytes.
    """
    leaves = sorted(((_path_name(path), np.ascontiguousarray(np.asarray(leaf)))
                     for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]),
                    key=lambda item: item[0])
    digest = hashlib.sha256()
    described = []
    for name, array in leaves:
        header = [name, array.dtype.str, list(array.shape)]
        digest.update(json.dumps(header).encode())
        digest.update(array.tobytes())
        described.append(header)
    return {"sha256": digest.hexdigest(), "leaves": described}


def _path_name(path) -> str:
    parts = []
    for entry in path:
        for attribute in ("key", "name", "idx"):
            if hasattr(entry, attribute):
                parts.append(str(getattr(entry, attribute)))
                break
        else:
            parts.append(str(entry))
    return "/".join(parts)
