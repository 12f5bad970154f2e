"""Softplus-Adam: non-negative codes, decreasing loss, early stopping, ID-only dictionary."""

import jax
import numpy as np
import pytest

from sparsecomp.data import make_datasets, make_spec
from sparsecomp.dictionary.atoms import random_dictionary
from sparsecomp.dictionary.softplus_adam import (
    SoftplusAdamParams,
    softplus_adam_loss,
    softplus_adam_run,
)

SPEC = make_spec(num_latents=20, k=3, n_samples=600)
KEYS = jax.random.split(jax.random.key(0), 3)
@pytest.fixture(scope="module")
def datasets():
    """Three seeds' data, drawn in one compiled call (seed axis first)."""
    return make_datasets(KEYS, SPEC)


def _seed(datasets, i):
    return jax.tree.map(lambda x: x[i], datasets)


def test_softplus_adam_codes_nonneg_and_loss_decreases(datasets, fast_softplus_options):
    data = _seed(datasets, 0)
    state = jax.jit(lambda k, a, b: softplus_adam_run(k, a, b, SPEC.num_latents,
                                                      **fast_softplus_options))(
        jax.random.key(7), data.y_val, data.y_ood
    )
    assert int(state.step) == fast_softplus_options["max_steps"]
    assert (jax.nn.softplus(state.params.logits_val) >= 0).all()
    assert (jax.nn.softplus(state.params.logits_ood) >= 0).all()
    loss = np.asarray(state.loss_curve)
    assert np.isfinite(loss).all() and np.all(np.diff(loss) < 0), loss


def test_softplus_adam_stops_early_without_improvement(datasets, fast_softplus_options):
    data = _seed(datasets, 2)
    # Only the first step improves on the initial best (inf) by 99%.
    options = {**fast_softplus_options, "rtol": 0.99, "early_stop_patience": 30}
    state = jax.jit(lambda k, a, b: softplus_adam_run(k, a, b, SPEC.num_latents, **options))(
        jax.random.key(9), data.y_val, data.y_ood
    )
    assert int(state.step) == 31


def test_softplus_adam_dictionary_sees_id_data_only(datasets):
    data = _seed(datasets, 1)
    k1, k2, k3 = jax.random.split(jax.random.key(11), 3)
    params = SoftplusAdamParams(
        random_dictionary(k1, SPEC.input_dim, SPEC.num_latents),
        jax.random.normal(k2, (SPEC.n_val, SPEC.num_latents)),
        jax.random.normal(k3, (SPEC.n_ood, SPEC.num_latents)),
    )
    grad = jax.grad(softplus_adam_loss)
    g = grad(params, data.y_val, data.y_ood, 0.1)
    other = params._replace(logits_ood=params.logits_ood + 1.0)
    g_other = grad(other, data.y_val, 2.0 * data.y_ood, 0.1)
    np.testing.assert_allclose(g.dictionary, g_other.dictionary, rtol=1e-6)
    assert np.abs(np.asarray(g.logits_ood)).max() > 0
