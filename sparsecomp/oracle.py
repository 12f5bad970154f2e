"""``fista_oracle``: FISTA with the true mixing matrix as dictionary.

The upper bound of per-sample inference: no dictionary is learned, so any gap
to it is the cost of learning one (protocol section 3).
"""

from __future__ import annotations

import jax.numpy as jnp

from sparsecomp.methods import MethodOutput, register_method
from sparsecomp.solvers import fista


def encode_val_and_ood(data, dictionary, *, lam, n_iter, z_init=None):
    """FISTA codes of the val and OOD observations in one batched solve.

    Returns:
      (codes_val [n_val, width], codes_ood [n_ood, width]) float32.
    """
    y = jnp.concatenate([data.y_val, data.y_ood])
    codes = fista(y, dictionary, lam, n_iter=n_iter, z_init=z_init)
    n_val = data.y_val.shape[0]
    return codes[:n_val], codes[n_val:]


@register_method("fista_oracle")
def make_fista_oracle(config, spec):
    """Reads ``config.fista.lam`` and ``config.fista.n_iter``."""
    lam, n_iter = float(config.fista.lam), int(config.fista.n_iter)

    def run(key, data):
        del key  # deterministic given the data
        codes_val, codes_ood = encode_val_and_ood(data, data.mixing, lam=lam, n_iter=n_iter)
        return MethodOutput(codes_val=codes_val, codes_ood=codes_ood, dictionary=data.mixing)

    return run
