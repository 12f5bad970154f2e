"""Codes of a seed's held-out splits (val and OOD) on a fixed dictionary.

Shared by the methods that code val and OOD with a solver on a dictionary
they do not change: ``fista_oracle`` (the true mixing matrix),
``lasso+<learner>`` (a learner's dictionary) and the learners of the scaling
study, which fit ``D`` on the ID training half and code val and OOD with the
paper's inference, FISTA from zero.

Each split is solved on its own rather than the two stacked: slicing the
stacked codes apart copies them (with 3 seeds at width 100,000 the compiled
oracle's temporary memory was 6.4 GiB with one solve, 2.8 GiB with two).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sparsecomp.coding.fista import fista
from sparsecomp.coding.working_set import working_set_lasso


def fista_val_and_ood(
    y_val: jax.Array, y_ood: jax.Array, dictionary: jax.Array, *, lam: jax.Array | float,
    n_iter: int,
) -> tuple[jax.Array, jax.Array]:
    """FISTA codes (``n_iter`` steps from zero) of the val and OOD observations, one solve each.

    Args:
      y_val: [n_val, input_dim] float32 observations.
      y_ood: [n_ood, input_dim] float32 observations.
      dictionary: [input_dim, width] float32, atoms are columns.
      lam: the L1 weight (may be traced: vmap over lambdas).
      n_iter: FISTA iterations (static).

    Returns:
      ``(codes_val [n_val, width], codes_ood [n_ood, width])`` float32.
    """
    return tuple(fista(y, dictionary, lam, n_iter=n_iter) for y in (y_val, y_ood))


def working_set_val_and_ood(
    y_val: jax.Array, y_ood: jax.Array, dictionary: jax.Array, *, lam: jax.Array | float,
    size: int, inner_iter: int, max_rounds: int, tol: float,
) -> tuple[tuple[jax.Array, jax.Array], dict[str, jax.Array]]:
    """Val and OOD codes at the Lasso optimum by ``working_set_lasso``, one solve each.

    Args:
      y_val: [n_val, input_dim] float32 observations.
      y_ood: [n_ood, input_dim] float32 observations.
      dictionary: [input_dim, width] float32, atoms are columns.
      lam: the L1 weight (may be traced).
      size, inner_iter, max_rounds, tol: ``working_set_lasso``'s (static but ``tol``).

    Returns:
      ``((codes_val, codes_ood), scalars)``: [n_val, width] and [n_ood, width]
      float32 codes; ``solver_rounds`` and ``kkt_violation`` (relative to
      lam), each [] and the largest over val and OOD.
    """
    val, ood = (working_set_lasso(y, dictionary, lam, size=size, inner_iter=inner_iter,
                                  max_rounds=max_rounds, tol=tol)
                for y in (y_val, y_ood))
    scalars = {"solver_rounds": jnp.maximum(val.rounds.max(), ood.rounds.max()),
               "kkt_violation": jnp.maximum(val.kkt_violation.max(), ood.kkt_violation.max())}
    return (val.codes, ood.codes), scalars
