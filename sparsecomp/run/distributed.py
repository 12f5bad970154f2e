"""Runs of several JAX processes (hosts, or one process per GPU): start-up and roles.

A multi-process run is the same command started once per process; every
process runs the same trainer on its local devices, the seed axis is sharded
over the devices of all of them (``sparsecomp.run.sharding``), and only process 0
writes logs, rows and tables. Orbax checkpoints are saved by all processes
together (Orbax's own barriers; the primary process writes host arrays).

``initialize_from_environment`` starts ``jax.distributed`` when the
environment describes such a run:

* ``JAX_COORDINATOR_ADDRESS`` (``host:port`` of process 0), with
  ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` (the same names as
  ``jax.distributed.initialize``'s arguments), for a launch by hand or by any
  scheduler; without the last two, JAX's cluster detection supplies them;
* a SLURM job step of several tasks (``srun``), or Open MPI's ``mpirun`` with
  several ranks: JAX's cluster detection finds coordinator, count and rank.

On CPU hosts, cross-process collectives use gloo.
"""

from __future__ import annotations

import os
from typing import Any

import jax
from jax.experimental import multihost_utils

COORDINATOR_ADDRESS = "JAX_COORDINATOR_ADDRESS"
NUM_PROCESSES = "JAX_NUM_PROCESSES"
PROCESS_ID = "JAX_PROCESS_ID"


def _int_env(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not an integer") from None


def requested_by_environment() -> bool:
    """Whether the environment describes a run of more than one process."""
    if os.environ.get(COORDINATOR_ADDRESS):
        return True
    slurm_tasks = _int_env("SLURM_NTASKS") if "SLURM_STEP_ID" in os.environ else None
    mpi_ranks = _int_env("OMPI_COMM_WORLD_SIZE")
    return (slurm_tasks or 1) > 1 or (mpi_ranks or 1) > 1


def initialize_from_environment() -> bool:
    """Calls ``jax.distributed.initialize`` when the environment asks for it.

    Must run before anything touches a JAX backend (the CLI calls it first).

    Returns:
      True if this is now one process of a multi-process run.
    """
    if not requested_by_environment():
        return False
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=os.environ.get(COORDINATOR_ADDRESS) or None,
        num_processes=_int_env(NUM_PROCESSES),
        process_id=_int_env(PROCESS_ID),
    )
    return True


def is_writer() -> bool:
    """True in the one process that writes files and prints progress (process 0)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Waits until every process reaches the barrier ``name`` (no-op in one process)."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)


def fetch(tree: Any) -> Any:
    """Every leaf as a host numpy array, gathered from all processes if sharded over them."""
    if all(getattr(x, "is_fully_addressable", True) for x in jax.tree.leaves(tree)):
        return jax.device_get(tree)
    return multihost_utils.process_allgather(tree, tiled=True)
