"""FISTA from given codes: iterates at several budgets, least squares on a support."""

import numpy as np

from sparsecomp.coding.fista import fista
from sparsecomp.coding.refine import fista_at_budgets, nonneg_least_squares_on_support


def test_fista_at_budgets_matches_separate_runs():
    rng = np.random.default_rng(0)
    d = rng.normal(size=(8, 12)).astype(np.float32)
    y = rng.normal(size=(5, 8)).astype(np.float32)
    codes = fista_at_budgets(y, d, 0.1, (0, 1, 7))
    np.testing.assert_array_equal(codes[0], 0.0)
    for j, budget in enumerate((1, 7)):
        np.testing.assert_allclose(codes[j + 1], fista(y, d, 0.1, n_iter=budget), atol=1e-6)


def test_support_least_squares_satisfies_its_kkt_conditions():
    rng = np.random.default_rng(1)
    d = rng.normal(size=(10, 15)).astype(np.float32)
    d /= np.linalg.norm(d, axis=0)
    y = rng.normal(size=(6, 10)).astype(np.float32)
    support = rng.random((6, 15)) < 0.3
    z = np.asarray(nonneg_least_squares_on_support(y, d, support, n_iter=3000), np.float64)
    assert np.all(z[~support] == 0) and np.all(z >= 0)
    grad = (z @ d.T - y) @ d  # gradient of 0.5 ||y - z D^T||^2
    active = support & (z > 1e-6)
    np.testing.assert_allclose(grad[active], 0.0, atol=1e-3)
    assert np.all(grad[support & (z <= 1e-6)] >= -1e-3)  # a zero entry could not decrease

