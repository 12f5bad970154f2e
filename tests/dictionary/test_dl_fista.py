"""DL-FISTA: fixed points, learning, atom resampling."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sparsecomp.data import make_datasets, make_spec
from sparsecomp.dictionary.atoms import random_dictionary
from sparsecomp.dictionary.dl_fista import dictionary_learning_run, learn_dictionary_fista
from sparsecomp.metrics import dictionary_match

# Tiny but well-posed: m = ceil(2 k ln(n / k)) = 12 observations of 20 latents.
SPEC = make_spec(num_latents=20, k=3, n_samples=600)
DL_OPTIONS = dict(lam=0.1, n_iter=100, max_rounds=200, tol=1e-5, min_rounds=10)
KEYS = jax.random.split(jax.random.key(0), 3)


@pytest.fixture(scope="module")
def datasets():
    """Three seeds' data, drawn in one compiled call (seed axis first)."""
    return make_datasets(KEYS, SPEC)


@pytest.fixture(scope="module")
def two_seeds():
    """Two seeds' data, as the scaling study's learner tests draw them."""
    return make_datasets(jax.random.split(jax.random.key(0), 2), SPEC)


def _seed(datasets, i):
    return jax.tree.map(lambda x: x[i], datasets)


def test_true_dictionary_is_a_fixed_point_on_noiseless_data(datasets):
    data = _seed(datasets, 0)
    options = {**DL_OPTIONS, "max_rounds": 50}
    d, codes, n_rounds = jax.jit(lambda y, a: learn_dictionary_fista(y, a, **options))(
        data.y_val, data.mixing
    )
    # Started at A, atoms keep their order: compare column by column. The L1
    # shrinkage of the codes biases the update a little, hence not exactly 1.
    cosines = np.abs(np.sum(np.asarray(d) * np.asarray(data.mixing), axis=0))
    assert cosines.mean() > 0.99 and cosines.min() > 0.97, cosines
    assert 10 < int(n_rounds) <= options["max_rounds"]
    chex.assert_shape(codes, (SPEC.n_val, SPEC.num_latents))


def test_learning_improves_the_match_to_the_truth(datasets):
    data = _seed(datasets, 1)
    d_init = random_dictionary(jax.random.key(2), SPEC.input_dim, SPEC.num_latents)
    d, _, _ = jax.jit(lambda y, d0: learn_dictionary_fista(y, d0, **DL_OPTIONS))(data.y_val, d_init)
    before = dictionary_match(data.mixing, d_init).mean_cosine
    after = dictionary_match(data.mixing, d).mean_cosine
    assert after > 0.9 and after > before + 0.3, (before, after)


def test_resampling_dl_fista_replaces_a_duplicated_initial_atom(two_seeds):
    data = jax.tree.map(lambda x: x[0], two_seeds)
    d0 = jax.random.normal(jax.random.key(4), (SPEC.input_dim, SPEC.num_latents))
    d0 = d0.at[:, 1].set(d0[:, 0])
    options = dict(lam=0.1, n_iter=20, max_rounds=10, tol=0.0, min_rounds=10)
    kept = dictionary_learning_run(data.y_train, d0, **options)
    assert int(kept.n_replaced) == 0
    resampled = dictionary_learning_run(data.y_train, d0, resample_every=1, **options)
    assert int(resampled.n_replaced) >= 1
    cosine = jnp.abs(resampled.dictionary.T @ resampled.dictionary) - jnp.eye(SPEC.num_latents)
    assert float(cosine.max()) <= 0.95
