"""FISTA from given codes: iterates at several budgets of one trajectory, and
non-negative least squares restricted to a support (per sample, pure).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sparsecomp.coding.fista import fista, make_problem, solver_init, solver_run


def fista_at_budgets(y, dictionary, lam, budgets: tuple[int, ...], *, z_init=None):
    """Non-negative FISTA iterates after each of ``budgets`` iterations, from one trajectory.

    Args:
      y: [rows, m] float32; dictionary: [m, width] float32; lam: [] float32.
      budgets: increasing iteration counts (static); 0 gives ``z_init``.
      z_init: [rows, width] start; zeros when ``None``.

    Returns:
      [len(budgets), rows, width] float32.
    """
    problem = make_problem(y, dictionary, lam)
    if z_init is None:
        z_init = jnp.zeros((y.shape[0], dictionary.shape[1]), y.dtype)
    state, done, out = solver_init(problem, z_init), 0, []
    for budget in budgets:
        if budget > done:
            state = solver_run(problem, state, budget - done, nonneg=True, momentum=True)
            done = budget
        out.append(state.codes)
    return jnp.stack(out)


def nonneg_least_squares_on_support(
    y: jax.Array, dictionary: jax.Array, support: jax.Array, *, n_iter: int, z_init=None
) -> jax.Array:
    """Non-negative least squares per row, restricted to a support.

    FISTA with a zero penalty on the support and an infinite one elsewhere
    (which pins those entries at zero).

    Args:
      y: [rows, m] float32; dictionary: [m, width] float32.
      support: [rows, width] bool, the entries allowed to be non-zero.
      n_iter: FISTA iterations.
      z_init: [rows, width] starting codes (clipped at zero by the first step).

    Returns:
      [rows, width] float32 codes, zero off the support.
    """
    weights = jnp.where(support, 0.0, jnp.inf)
    return fista(y, dictionary, weights, n_iter=n_iter, z_init=z_init)


__all__ = ["fista_at_budgets", "nonneg_least_squares_on_support"]
