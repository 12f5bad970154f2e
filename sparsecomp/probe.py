"""The linear probe: ridge regression from observations to latents.

Section 3 of the protocol (arXiv 2603.28744): the supervised ceiling for linear
read-outs. Ridge regression from ``y_train`` to ``z_train`` without intercept,
with one alpha for all latents chosen by leave-one-out cross-validation, as
scikit-learn's ``RidgeCV(alphas, fit_intercept=False)`` does. Its predictions
on the val and OOD observations are the method's codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from sparsecomp.linalg import thin_svd
from sparsecomp.methods.registry import MethodOutput, register_method

DEFAULT_ALPHAS = (1e-6, 1e-4, 1e-2, 1.0, 10.0)

_HIGHEST = jax.lax.Precision.HIGHEST


class RidgeProbe(NamedTuple):
    """A fitted ridge probe (add a leading seed axis under vmap)."""

    weights: jax.Array  # [input_dim, num_latents] float32; predictions are y @ weights
    alpha: jax.Array  # [] float32, the alpha with the smallest LOO error
    loo_mse: jax.Array  # [len(alphas)] float32, LOO mean squared error per alpha


def fit_ridge_loo(
    y_train: jax.Array,
    z_train: jax.Array,
    alphas: Sequence[float] | jax.Array = DEFAULT_ALPHAS,
) -> RidgeProbe:
    """Ridge regression without intercept, alpha chosen by exact leave-one-out.

    For each alpha, ``W = argmin ||z - y W||^2 + alpha ||W||^2``. With the thin
    SVD ``y = U diag(s) V^T`` the hat matrix is
    ``H = U diag(s^2 / (s^2 + alpha)) U^T`` and the leave-one-out residual of
    sample i is ``r_i / (1 - H_ii)`` with ``r = z - H z`` (no refits needed).
    The alpha minimising the LOO squared error averaged over samples and
    targets is used for every target (scikit-learn's ``alpha_per_target=False``;
    the first alpha wins ties). One SVD serves all alphas, and alphas are
    visited with ``lax.map`` so only one ``[n_train, num_latents]`` residual is
    alive at a time. Pure JAX: jit- and vmap-able.

    Args:
      y_train: [n_train, input_dim] float32 observations.
      z_train: [n_train, num_latents] float32 targets.
      alphas: [A] candidate regularisation strengths (> 0); a tuple or array.

    Returns:
      A ``RidgeProbe``.

    References:
      Golub, Heath & Wahba 1979 (closed-form leave-one-out for ridge);
      scikit-learn ``RidgeCV``.
    """
    alphas = jnp.asarray(alphas, jnp.float32)
    u, s, vt = thin_svd(y_train)
    u_z = jnp.matmul(u.T, z_train, precision=_HIGHEST)  # [r, num_latents]
    # The part of z outside the column space of y (no alpha can fit it) and each
    # sample's mass outside that space. Both are exactly 0 when u is square
    # (n_train <= input_dim); computing them would leave float32 rounding
    # (~1e-7) that swamps residuals and 1 - H_ii ~ alpha / s^2 for small alphas.
    if u.shape[0] <= u.shape[1]:
        outside = jnp.zeros_like(z_train)
        leverage_gap = jnp.zeros(u.shape[0], u.dtype)
    else:
        outside = z_train - jnp.matmul(u, u_z, precision=_HIGHEST)
        leverage_gap = 1.0 - jnp.sum(jnp.square(u), axis=1)
    s2 = jnp.square(s)

    def loo_mse(alpha):
        # 1 - f = alpha / (s^2 + alpha) written directly: no cancellation when
        # the shrinkage factor f = s^2 / (s^2 + alpha) is close to 1.
        shrunk = alpha / (s2 + alpha)
        residual = outside + jnp.matmul(u, shrunk[:, None] * u_z, precision=_HIGHEST)
        one_minus_h = leverage_gap + jnp.matmul(jnp.square(u), shrunk, precision=_HIGHEST)
        return jnp.mean(jnp.square(residual / one_minus_h[:, None]))

    errors = jax.lax.map(loo_mse, alphas)
    alpha = alphas[jnp.argmin(errors)]
    weights = jnp.matmul(vt.T, (s / (s2 + alpha))[:, None] * u_z, precision=_HIGHEST)
    return RidgeProbe(weights=weights, alpha=alpha, loo_mse=errors)


@register_method("linear_probe")
def make_linear_probe(config, spec):
    """Factory of the ``linear_probe`` method (reads ``config.linear_probe.alphas``).

    Args:
      config: the experiment ``ConfigDict``; section ``linear_probe`` with
        field ``alphas`` (sequence of floats).
      spec: the sweep point's ``DataSpec`` (unused: the probe has no sizes to set).

    Returns:
      ``run(key, data) -> MethodOutput`` with the probe's predictions on val
      and OOD as codes, its weights as params and the chosen alpha as a scalar.
    """
    del spec
    alphas = tuple(config.linear_probe.alphas)

    def run(key, data):
        del key  # deterministic: ridge regression has no randomness
        probe = fit_ridge_loo(data.y_train, data.z_train, alphas)
        return MethodOutput(
            codes_val=jnp.matmul(data.y_val, probe.weights, precision=_HIGHEST),
            codes_ood=jnp.matmul(data.y_ood, probe.weights, precision=_HIGHEST),
            params={"weights": probe.weights},
            scalars={"alpha": probe.alpha},
        )

    return run
