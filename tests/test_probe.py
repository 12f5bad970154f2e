"""Tests of sparsecomp.probe: exact LOO ridge and the linear_probe method."""

import chex
import jax
import ml_collections
import numpy as np
import pytest
from sklearn.linear_model import RidgeCV

from sparsecomp import data as data_lib
from sparsecomp import probe
from sparsecomp.methods import registry as methods

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
    fit = probe.fit_ridge_loo(y, z, ALPHAS)
    expected = [_brute_force_loo_mse(y, z, a) for a in ALPHAS]
    np.testing.assert_allclose(fit.loo_mse, expected, rtol=rtol)
    assert fit.alpha == ALPHAS[int(np.argmin(expected))]


@pytest.mark.parametrize("noise, seed", [(0.3, 1), (1.0, 2), (3.0, 3)])  # alpha 1e-2, 1, 10
def test_alpha_and_weights_match_sklearn_ridgecv(noise, seed):
    y, z = _problem(seed, 40, 6, 4, noise=noise)
    fit = probe.fit_ridge_loo(y, z, ALPHAS)
    ref = RidgeCV(alphas=ALPHAS, fit_intercept=False).fit(
        y.astype(np.float64), z.astype(np.float64)
    )
    np.testing.assert_allclose(fit.alpha, ref.alpha_, rtol=1e-6)
    np.testing.assert_allclose(fit.weights, ref.coef_.T, rtol=1e-4, atol=1e-5)


def test_fit_ridge_loo_vmaps_over_seed_axis():
    problems = [_problem(s, 25, 4, 3, noise=n) for s, n in [(0, 0.1), (1, 5.0), (2, 50.0)]]
    ys, zs = (np.stack(p) for p in zip(*problems, strict=True))
    batched = jax.jit(jax.vmap(lambda y, z: probe.fit_ridge_loo(y, z, ALPHAS)))(ys, zs)
    looped = [probe.fit_ridge_loo(y, z, ALPHAS) for y, z in problems]
    chex.assert_trees_all_close(
        batched, jax.tree.map(lambda *x: np.stack(x), *looped), rtol=1e-5, atol=1e-6
    )
    chex.assert_shape(batched.weights, (3, 4, 3))
    chex.assert_shape(batched.loo_mse, (3, len(ALPHAS)))


def _random_dataset(key, spec):
    """A Dataset with the right shapes; the probe needs no structure in it."""
    keys = jax.random.split(key, 4)
    mixing = jax.random.normal(keys[0], (spec.input_dim, spec.num_latents))

    def split(k, n):
        z = jax.random.uniform(k, (n, spec.num_latents))
        return z, z @ mixing.T

    (z_train, y_train), (z_val, y_val), (z_ood, y_ood) = (
        split(keys[1], spec.n_train), split(keys[2], spec.n_val), split(keys[3], spec.n_ood))
    return data_lib.dataset_from_dense(mixing, z_train=z_train, y_train=y_train, z_val=z_val,
                                       y_val=y_val, z_ood=z_ood, y_ood=y_ood)


def test_linear_probe_method_runs_under_vmap_over_seeds():
    spec = data_lib.DataSpec(num_latents=20, k=3, input_dim=12, n_samples=120)
    config = ml_collections.ConfigDict({"linear_probe": {"alphas": ALPHAS}})
    run = methods.get_method("linear_probe")(config, spec)
    keys = jax.random.split(jax.random.key(0), 2)
    datasets = jax.vmap(lambda k: _random_dataset(k, spec))(keys)
    out = jax.jit(jax.vmap(run))(keys, datasets)
    chex.assert_shape(out.codes_val, (2, spec.n_val, spec.num_latents))
    chex.assert_shape(out.codes_ood, (2, spec.n_ood, spec.num_latents))
    assert out.dictionary is None
    single = probe.fit_ridge_loo(datasets.y_train[1], datasets.z_train[1], ALPHAS)
    np.testing.assert_allclose(out.scalars["alpha"][1], single.alpha)
    np.testing.assert_allclose(
        out.codes_val[1], datasets.y_val[1] @ single.weights, rtol=1e-4, atol=1e-5
    )
