"""The lista method: runs under vmap over seeds; its config is validated field by field."""

import chex
import jax
import ml_collections
import numpy as np
import pytest

import sparsecomp  # noqa: F401  (registers the methods)
from sparsecomp.data import make_datasets, make_spec
from sparsecomp.errors import ConfigError
from sparsecomp.methods.registry import get_method

SPEC = make_spec(num_latents=20, k=3, n_samples=400)
KEYS = jax.random.split(jax.random.key(0), 2)


@pytest.fixture(scope="module")
def datasets():
    """Two seeds' data, drawn in one compiled call (seed axis first)."""
    return make_datasets(KEYS, SPEC)


def test_registered_method_runs_under_vmap(datasets):
    config = ml_collections.ConfigDict()
    config.lista = ml_collections.ConfigDict(
        {"lam": 0.1, "n_layers": 3, "learning_rate": 1e-3, "n_epochs": 2, "batch_size": 64}
    )
    out = jax.jit(jax.vmap(get_method("lista")(config, SPEC)))(KEYS, datasets)
    chex.assert_shape(out.codes_val, (2, SPEC.n_val, SPEC.num_latents))
    chex.assert_shape(out.codes_ood, (2, SPEC.n_ood, SPEC.num_latents))
    np.testing.assert_array_equal(out.curves["step"][0], [1, 2])
    assert (out.codes_ood >= 0).all()


@pytest.mark.parametrize(
    "field, value",
    [("lam", -0.1), ("n_layers", 0), ("learning_rate", 0.0), ("n_epochs", 0),
     ("batch_size", 0), ("batch_size", 10_000)],
)
def test_bad_settings_are_refused_naming_the_field(field, value):
    config = ml_collections.ConfigDict()
    config.lista = ml_collections.ConfigDict(
        {"lam": 0.1, "n_layers": 3, "learning_rate": 1e-3, "n_epochs": 2, "batch_size": 64}
    )
    config.lista[field] = value
    with pytest.raises(ConfigError, match=f"lista.{field}={value}"):
        get_method("lista")(config, SPEC)
