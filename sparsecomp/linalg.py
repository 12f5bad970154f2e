"""Linear algebra shared by the algorithms: safe LAPACK calls and the one column normaliser.

On CPU, ``jnp.linalg.svd``/``eigvalsh`` and ``jax.scipy.linalg.solve`` call
jaxlib's LAPACK kernels. Given a batch (which ``vmap`` over seeds creates),
those kernels fan the batch out over the CPU client's thread pool and block
until it is done; when several devices (e.g. ``--xla_force_host_platform_device_count=4``)
run such a kernel at once, every pool thread can end up blocked waiting and
the program deadlocks (seen with 4 simulated devices, one run in three).
``one_at_a_time`` makes ``vmap`` of a function a ``lax.map`` over the batch,
so each kernel call sees a single matrix and never fans out. The numbers are
those of the batched call (same kernel per matrix). Not differentiable.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp


def one_at_a_time(fn: Callable) -> Callable:
    """``fn`` whose ``vmap`` runs it on one batch element at a time (``lax.map``)."""
    wrapped = jax.custom_batching.custom_vmap(fn)

    @wrapped.def_vmap
    def _batched(axis_size, in_batched, *args):
        args = jax.tree.map(
            lambda x, batched: x if batched else jnp.broadcast_to(x, (axis_size, *jnp.shape(x))),
            args, tuple(in_batched),
        )
        out = jax.lax.map(lambda xs: wrapped(*xs), args)
        return out, jax.tree.map(lambda _: True, out)

    return wrapped


@one_at_a_time
def largest_eigenvalue(matrix: jax.Array) -> jax.Array:
    """The largest eigenvalue of a symmetric [m, m] float32 matrix ([] float32)."""
    return jnp.linalg.eigvalsh(matrix)[-1]


@one_at_a_time
def solve_positive_definite(matrix: jax.Array, rhs: jax.Array) -> jax.Array:
    """``matrix^-1 rhs`` for symmetric positive definite [w, w] ``matrix``, [w, c] ``rhs``."""
    return jax.scipy.linalg.solve(matrix, rhs, assume_a="pos")


@one_at_a_time
def thin_svd(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``jnp.linalg.svd(x, full_matrices=False)`` of a [rows, cols] matrix."""
    return jnp.linalg.svd(x, full_matrices=False)


def unit_columns(
    x: jax.Array, *, fallback: jax.Array | None = None, eps: float = 1e-12
) -> jax.Array:
    """Columns of ``x`` scaled to unit L2 norm; the one column normaliser.

    A column whose norm is at most ``eps`` (an atom no sample used, say) is
    left as it is, near zero, or replaced by ``fallback``'s column when given
    (a zero atom gets a zero gradient in FISTA, so it could never be used
    again). Other columns are divided by their norm exactly.

    Args:
      x: [rows, cols] float32.
      fallback: optional [rows, cols] float32 columns taken instead of the
        dead ones (unit-norm atoms; zeros for the metrics' correlations).
      eps: the norm at or below which a column counts as zero.

    Returns:
      [rows, cols] float32.
    """
    norms = jnp.linalg.norm(x, axis=0, keepdims=True)
    alive = norms > eps
    unit = x / jnp.where(alive, norms, 1.0)
    return unit if fallback is None else jnp.where(alive, unit, fallback)
