"""The linear_probe method (the ridge baseline): runs under vmap over seeds; alphas validated."""

import chex
import jax
import ml_collections
import numpy as np
import pytest

import sparsecomp  # noqa: F401  (registers the methods)
from sparsecomp import data as data_lib
from sparsecomp.coding.ridge import fit_ridge_loo
from sparsecomp.errors import ConfigError
from sparsecomp.methods import registry as methods

ALPHAS = (1e-6, 1e-4, 1e-2, 1.0, 10.0)


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
    single = fit_ridge_loo(datasets.y_train[1], datasets.z_train[1], ALPHAS)
    np.testing.assert_allclose(out.scalars["alpha"][1], single.alpha)
    np.testing.assert_allclose(
        out.codes_val[1], datasets.y_val[1] @ single.weights, rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("alphas", [(), (1.0, 0.0), (1.0, -2.0), ("a",), (True,)])
def test_bad_alphas_are_refused_naming_the_field(alphas):
    spec = data_lib.DataSpec(num_latents=20, k=3, input_dim=12, n_samples=120)
    config = ml_collections.ConfigDict({"linear_probe": {"alphas": alphas}})
    with pytest.raises(ConfigError, match="linear_probe.alphas="):
        methods.get_method("linear_probe")(config, spec)
