"""Ridge regression with its alpha chosen by exact leave-one-out (the ridge baseline).

Section 3 of the protocol (arXiv 2603.28744): the supervised ceiling for linear
read-outs. Ridge regression from observations to latents without intercept,
with one alpha for all latents chosen by leave-one-out cross-validation, as
scikit-learn's ``RidgeCV(alphas, fit_intercept=False)`` does. The method
``linear_probe`` (``sparsecomp.methods.linear_probe``) fits it on
``y_train -> z_train``; its predictions on val and OOD are the codes. (Not to
be confused with ``sparsecomp.metrics.probe``, the logistic-regression probe
accuracy metric.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from sparsecomp.linalg import thin_svd

DEFAULT_ALPHAS = (1e-6, 1e-4, 1e-2, 1.0, 10.0)

# Full float32 products (no TF32 on accelerators): the leave-one-out residuals
# divide by 1 - leverage, which TF32's ~1e-3 errors distort at small alphas.
_HIGHEST = jax.lax.Precision.HIGHEST


class RidgeFit(NamedTuple):
    """A fitted ridge regression (add a leading seed axis under vmap)."""

    weights: jax.Array  # [input_dim, num_latents] float32; predictions are y @ weights
    alpha: jax.Array  # [] float32, the alpha with the smallest LOO error
    loo_mse: jax.Array  # [len(alphas)] float32, LOO mean squared error per alpha


def fit_ridge_loo(
    y_train: jax.Array,
    z_train: jax.Array,
    alphas: Sequence[float] | jax.Array = DEFAULT_ALPHAS,
) -> RidgeFit:
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
      A ``RidgeFit``.

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
    return RidgeFit(weights=weights, alpha=alpha, loo_mse=errors)


def ridge_predict(fit: RidgeFit, y: jax.Array) -> jax.Array:
    """Predictions ``y @ weights`` of a fitted ridge regression.

    Args:
      fit: a ``RidgeFit``.
      y: [batch, input_dim] float32 observations.

    Returns:
      [batch, num_latents] float32.
    """
    return jnp.matmul(y, fit.weights, precision=_HIGHEST)
