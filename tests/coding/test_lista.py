"""LISTA: equals ISTA at initialisation, training lowers its loss."""

import chex
import jax
import numpy as np
import pytest

from sparsecomp.coding.fista import ista
from sparsecomp.coding.lista import lista_apply, lista_init, lista_loss, lista_train
from sparsecomp.data import make_datasets, make_spec

SPEC = make_spec(num_latents=20, k=3, n_samples=400)
KEYS = jax.random.split(jax.random.key(0), 2)


@pytest.fixture(scope="module")
def datasets():
    """Two seeds' data, drawn in one compiled call (seed axis first)."""
    return make_datasets(KEYS, SPEC)


def _seed(datasets, i):
    return jax.tree.map(lambda x: x[i], datasets)


@pytest.mark.parametrize("nonneg", [True, False])
def test_lista_at_init_equals_ista(nonneg, datasets):
    data = _seed(datasets, 0)
    params = lista_init(data.mixing, 0.1, 16)
    chex.assert_shape(params.input_matrix, (16, SPEC.input_dim, SPEC.num_latents))
    chex.assert_shape(params.lateral, (16, SPEC.num_latents, SPEC.num_latents))
    chex.assert_shape(params.threshold, (16, SPEC.num_latents))
    codes = lista_apply(params, data.y_val, nonneg=nonneg)
    reference = ista(data.y_val, data.mixing, 0.1, n_iter=16, nonneg=nonneg)
    assert np.abs(np.asarray(reference)).max() > 0.1
    np.testing.assert_allclose(codes, reference, atol=2e-6)


def test_training_lowers_the_loss(datasets):
    data = _seed(datasets, 1)
    # A short, shallow network so that the test stays fast.
    params = lista_init(data.mixing, 0.1, 4)
    trained, epoch_loss = jax.jit(
        lambda k, p, y, d: lista_train(k, p, y, d, lam=0.1, learning_rate=1e-3, n_epochs=10,
                                       batch_size=32)
    )(jax.random.key(2), params, data.y_train, data.mixing)
    chex.assert_shape(epoch_loss, (10,))
    before = lista_loss(params, data.y_train, data.mixing, 0.1)
    after = lista_loss(trained, data.y_train, data.mixing, 0.1)
    assert after < 0.9 * before, (before, after)
    assert epoch_loss[-1] < epoch_loss[0]
