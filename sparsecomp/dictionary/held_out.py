"""FISTA codes of held-out samples on a learned dictionary.

The learners of the scaling study fit ``D`` on the ID training half and code
the val and OOD samples with the paper's inference, FISTA from zero.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sparsecomp.coding.fista import fista


def fista_val_and_ood(
    dictionary: jax.Array, y_val: jax.Array, y_ood: jax.Array, *, lam: float, n_iter: int
) -> tuple[jax.Array, jax.Array]:
    """Non-negative FISTA codes of the val and OOD samples, in one solve.

    Args:
      dictionary: [input_dim, width] float32 learned dictionary.
      y_val: [n_val, input_dim] float32 ID observations.
      y_ood: [n_ood, input_dim] float32 OOD observations.
      lam: L1 weight (may be traced).
      n_iter: FISTA iterations from zero (static).

    Returns:
      ``(codes_val [n_val, width], codes_ood [n_ood, width])`` float32.
    """
    codes = fista(jnp.concatenate([y_val, y_ood]), dictionary, lam, n_iter=n_iter)
    codes_val, codes_ood = jnp.split(codes, [y_val.shape[0]])
    return codes_val, codes_ood
