"""Reconstruction: the MSE of ``codes @ dictionary.T + bias`` and the codes' mean L0.

The row fields ``mse_*`` and ``l0_*`` (protocol section 4), for methods with a dictionary.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

_HIGHEST = jax.lax.Precision.HIGHEST


@jax.jit
def _reconstruction(y, codes, dictionary, bias, l0_threshold):
    y_hat = jnp.matmul(codes, dictionary.T, precision=_HIGHEST) + bias
    mse = jnp.mean(jnp.square(y - y_hat))
    l0 = jnp.mean(jnp.sum(jnp.abs(codes) > l0_threshold, axis=1))
    return mse, l0


def reconstruction(
    y, codes, dictionary, bias=None, *, l0_threshold: float = 0.01
) -> tuple[float, float]:
    """Reconstruction error and code density.

    ``y_hat = codes @ dictionary.T + bias``.

    Args:
      y: [N, input_dim] float, observations.
      codes: [N, width] float.
      dictionary: [input_dim, width] float, atoms are columns.
      bias: [input_dim] float decoder bias, or None for zero.
      l0_threshold: a code counts as active when |code| > this.

    Returns:
      (MSE averaged over samples and features, mean active codes per sample).
    """
    dictionary = jnp.asarray(dictionary, jnp.float32)
    bias = (jnp.zeros(dictionary.shape[0], jnp.float32) if bias is None
            else jnp.asarray(bias, jnp.float32))
    mse, l0 = _reconstruction(jnp.asarray(y, jnp.float32), jnp.asarray(codes, jnp.float32),
                              dictionary, bias, l0_threshold)
    return float(mse), float(l0)
