"""What the methods compute from a trained SAE besides its codes: the amortisation gap
of its encoder, and its decoder's directions with the true atoms' norms.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sparsecomp.coding.fista import fista
from sparsecomp.linalg import unit_columns

# Full float32 products (no TF32 on accelerators): the gap is a small difference
# of two MSEs, and the best-matching atom an argmax over cosines.
_HIGHEST = jax.lax.Precision.HIGHEST


def amortisation_gap(
    y: jax.Array, codes: jax.Array, decoder: jax.Array, bias: jax.Array, *, lam: float, n_iter: int
) -> jax.Array:
    """Reconstruction MSE of an encoder's codes minus that of FISTA's on its decoder.

    FISTA (from zero) codes ``y - bias`` with ``decoder``; both reconstruct as
    ``codes @ decoder.T + bias``. A positive gap is what amortised inference
    loses against per-sample inference with the same dictionary.

    Args:
      y: [n, input_dim] float32; codes: [n, width] float32;
      decoder: [input_dim, width] float32; bias: [input_dim] float32.
      lam: FISTA's L1 weight; n_iter: its iterations.

    Returns:
      [] float32, MSE(codes) - MSE(FISTA codes), in squared input units.
    """
    fista_codes = fista(y - bias, decoder, lam, n_iter=n_iter)

    def mse(z):
        return jnp.mean((y - jnp.matmul(z, decoder.T, precision=_HIGHEST) - bias) ** 2)

    return mse(codes) - mse(fista_codes)


def oracle_norm_dictionary(decoder: jax.Array, mixing: jax.Array) -> jax.Array:
    """The decoder's directions with the norms of the true atoms they align with best.

    Each decoder column is matched to the true column of largest |cosine|
    (not one-to-one) and rescaled to that column's norm. With the protocol's
    unit-norm mixing matrices this equals renormalising the decoder.

    Args:
      decoder: [m, width] float32; mixing: [m, num_latents] float32.

    Returns:
      [m, width] float32.
    """
    unit = unit_columns(decoder)
    true_norms = jnp.linalg.norm(mixing, axis=0)
    cosines = jnp.matmul((mixing / true_norms).T, unit, precision=_HIGHEST)
    best = jnp.argmax(jnp.abs(cosines), axis=0)
    return unit * true_norms[best]


__all__ = ["amortisation_gap", "oracle_norm_dictionary"]
