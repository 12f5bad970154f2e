"""Ridge regression with exact leave-one-out alpha: brute-force refits, RidgeCV, vmap."""

import chex
import jax
import numpy as np
import pytest
from sklearn.linear_model import RidgeCV

from sparsecomp.coding.ridge import fit_ridge_loo, ridge_predict

ALPHAS = (1e-6, 1e-4, 1e-2, 1.0, 10.0)


def _problem(seed, n_train, input_dim, num_latents, noise=0.3):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n_train, input_dim))
    z = y @ rng.normal(size=(input_dim, num_latents)) + noise * rng.normal(
        size=(n_train, num_latents)
    )
    return y.astype(np.float32), z.astype(np.float32)


def _brute_force_loo_mse(y, z, alpha):
    """Refits float64 ridge without each sample in turn."""
    y, z = y.astype(np.float64), z.astype(np.float64)
    errors = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        w = np.linalg.solve(y[keep].T @ y[keep] + alpha * np.eye(y.shape[1]), y[keep].T @ z[keep])
        errors.append((z[i] - y[i] @ w) ** 2)
    return np.mean(errors)


@pytest.mark.parametrize(
    "n_train, input_dim, rtol",
    [(30, 5, 1e-4), (8, 12, 2e-3)],  # over- and under-determined (square U)
)
def test_loo_mse_equals_brute_force_refits(n_train, input_dim, rtol):
    y, z = _problem(0, n_train, input_dim, 3)
    fit = fit_ridge_loo(y, z, ALPHAS)
    expected = [_brute_force_loo_mse(y, z, a) for a in ALPHAS]
    np.testing.assert_allclose(fit.loo_mse, expected, rtol=rtol)
    assert fit.alpha == ALPHAS[int(np.argmin(expected))]


@pytest.mark.parametrize("noise, seed", [(0.3, 1), (1.0, 2), (3.0, 3)])  # alpha 1e-2, 1, 10
def test_alpha_and_weights_match_sklearn_ridgecv(noise, seed):
    y, z = _problem(seed, 40, 6, 4, noise=noise)
    fit = fit_ridge_loo(y, z, ALPHAS)
    ref = RidgeCV(alphas=ALPHAS, fit_intercept=False).fit(
        y.astype(np.float64), z.astype(np.float64)
    )
    np.testing.assert_allclose(fit.alpha, ref.alpha_, rtol=1e-6)
    np.testing.assert_allclose(fit.weights, ref.coef_.T, rtol=1e-4, atol=1e-5)


def test_fit_ridge_loo_vmaps_over_seed_axis():
    problems = [_problem(s, 25, 4, 3, noise=n) for s, n in [(0, 0.1), (1, 5.0), (2, 50.0)]]
    ys, zs = (np.stack(p) for p in zip(*problems, strict=True))
    batched = jax.jit(jax.vmap(lambda y, z: fit_ridge_loo(y, z, ALPHAS)))(ys, zs)
    looped = [fit_ridge_loo(y, z, ALPHAS) for y, z in problems]
    chex.assert_trees_all_close(
        batched, jax.tree.map(lambda *x: np.stack(x), *looped), rtol=1e-5, atol=1e-6
    )
    chex.assert_shape(batched.weights, (3, 4, 3))
    chex.assert_shape(batched.loo_mse, (3, len(ALPHAS)))


def test_ridge_predict_is_observations_times_weights():
    y, z = _problem(4, 30, 5, 3)
    fit = fit_ridge_loo(y, z, ALPHAS)
    np.testing.assert_allclose(ridge_predict(fit, y[:7]), y[:7] @ np.asarray(fit.weights),
                               rtol=1e-5, atol=1e-6)
