"""Held-out codes: one solve per split, equal to the solvers on each split."""

import jax
import jax.numpy as jnp
import numpy as np

from sparsecomp.coding.fista import fista
from sparsecomp.coding.held_out import fista_val_and_ood, working_set_val_and_ood
from sparsecomp.coding.working_set import working_set_lasso


def _splits(seed=0, input_dim=15, width=60, k=3):
    rng = np.random.default_rng(seed)
    d = rng.normal(size=(input_dim, width)).astype(np.float32)
    d /= np.linalg.norm(d, axis=0)
    z = (rng.random((50, width)) < k / width) * rng.uniform(0.2, 1.0, (50, width))
    y = jnp.asarray((z @ d.T).astype(np.float32))
    return y[:30], y[30:], jnp.asarray(d)


def test_fista_codes_of_each_split_are_fista_on_it():
    y_val, y_ood, d = _splits()
    codes_val, codes_ood = fista_val_and_ood(y_val, y_ood, d, lam=0.1, n_iter=25)
    np.testing.assert_array_equal(codes_val, fista(y_val, d, 0.1, n_iter=25))
    np.testing.assert_array_equal(codes_ood, fista(y_ood, d, 0.1, n_iter=25))


def test_working_set_scalars_are_the_largest_over_both_splits():
    y_val, y_ood, d = _splits(1)
    options = dict(size=20, inner_iter=100, max_rounds=10, tol=1e-3)
    (codes_val, codes_ood), scalars = jax.jit(
        lambda a, b: working_set_val_and_ood(a, b, d, lam=0.05, **options))(y_val, y_ood)
    val, ood = (jax.jit(lambda y: working_set_lasso(y, d, 0.05, **options))(y)
                for y in (y_val, y_ood))
    np.testing.assert_array_equal(codes_val, val.codes)
    np.testing.assert_array_equal(codes_ood, ood.codes)
    assert scalars["solver_rounds"] == max(val.rounds.max(), ood.rounds.max())
    assert scalars["kkt_violation"] == max(val.kkt_violation.max(), ood.kkt_violation.max())
    assert scalars["kkt_violation"] <= 1e-3
