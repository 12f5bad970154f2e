"""The working-set Lasso solver: optimality certificate, agreement with FISTA, blocks, vmap."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sparsecomp.coding.fista import fista
from sparsecomp.coding.working_set import eigenvalue_bound, kkt_violation, working_set_lasso


def _problem(seed=0, batch=40, input_dim=30, width=400, k=4):
    """Sparse non-negative codes through a random unit-norm dictionary."""
    rng = np.random.default_rng(seed)
    d = rng.normal(size=(input_dim, width)).astype(np.float32)
    d /= np.linalg.norm(d, axis=0)
    z = np.zeros((batch, width), np.float32)
    for row in z:
        row[rng.choice(width, k, replace=False)] = rng.uniform(0.2, 1.0, k)
    return jnp.asarray(z @ d.T), jnp.asarray(d)


def _objective(y, d, z, lam):
    return 0.5 * jnp.sum((y - z @ d.T) ** 2, axis=-1) + lam * jnp.abs(z).sum(-1)


def test_kkt_violation_hand_worked():
    d = jnp.eye(2)
    y = jnp.array([[1.0, 0.05]])
    # The optimum of lam = 0.1 is z = (0.9, 0): g = (0.1, 0.05) meets every condition.
    np.testing.assert_allclose(kkt_violation(y, d, jnp.array([[0.9, 0.0]]), 0.1), [0.0],
                               atol=1e-6)
    # z = (1, 0): g_0 = 0 where lam is needed, off by 0.1 = 1 lam.
    np.testing.assert_allclose(kkt_violation(y, d, jnp.array([[1.0, 0.0]]), 0.1), [1.0],
                               rtol=1e-5)
    # z = (0.9, 0) with y_1 = 0.3: g_1 = 0.3 > lam at a zero code, off by 2 lam.
    np.testing.assert_allclose(
        kkt_violation(jnp.array([[1.0, 0.3]]), d, jnp.array([[0.9, 0.0]]), 0.1), [2.0],
        rtol=1e-5)


@pytest.mark.parametrize("size", [1, 5, 64])
def test_eigenvalue_bound_is_above_the_largest_eigenvalue_by_at_most_its_factor(size):
    atoms = jax.random.normal(jax.random.key(size), (8, size, 139))
    grams = jnp.einsum("bsm,btm->bst", atoms, atoms)
    bound = np.asarray(jax.jit(jax.vmap(eigenvalue_bound))(grams), np.float64)
    largest = np.linalg.eigvalsh(np.asarray(grams, np.float64))[:, -1]
    assert np.all(bound >= largest * (1 - 1e-5))  # float32 rounding only
    assert np.all(bound <= largest * size ** (1 / 32) * (1 + 1e-5))


def test_eigenvalue_bound_is_exact_for_rank_one_and_zero_for_zero():
    v = jnp.array([1.0, 2.0, 2.0])
    np.testing.assert_allclose(eigenvalue_bound(jnp.outer(v, v)), 9.0, rtol=1e-5)
    assert float(eigenvalue_bound(jnp.zeros((3, 3)))) == 0.0


@pytest.mark.parametrize("nonneg", [True, False])
def test_reaches_the_lasso_optimum_that_long_fista_approaches(nonneg):
    y, d = _problem(seed=1)
    lam = 0.05
    result = working_set_lasso(y, d, lam, size=32, tol=1e-5, nonneg=nonneg)
    chex.assert_shape(result.codes, y.shape[:1] + d.shape[1:])
    chex.assert_type(result.codes, jnp.float32)
    chex.assert_shape((result.rounds, result.kkt_violation), ((40,), (40,)))
    # The certificate it reports is the one computed from scratch, and small.
    np.testing.assert_allclose(result.kkt_violation,
                               kkt_violation(y, d, result.codes, lam, nonneg=nonneg), atol=1e-4)
    assert float(result.kkt_violation.max()) < 1e-4
    assert int(result.rounds.max()) < 20  # stopped on convergence, not on the budget
    reference = fista(y, d, lam, n_iter=5000, nonneg=nonneg)
    assert float(kkt_violation(y, d, reference, lam, nonneg=nonneg).max()) < 1e-2
    # FISTA's residual (up to 1e-2 lam) is the larger one: codes agree to its accuracy.
    np.testing.assert_allclose(result.codes, reference, atol=5e-4)
    gap = _objective(y, d, result.codes, lam) - _objective(y, d, reference, lam)
    assert float(gap.max()) < 1e-6
    if nonneg:
        assert (result.codes >= 0).all()
    else:
        assert (result.codes < 0).any()


def test_row_blocks_and_vmap_over_seeds_give_the_same_codes():
    problems = [_problem(seed=s, batch=37) for s in (2, 3)]
    solve = functools.partial(working_set_lasso, lam=0.05, size=32, tol=1e-5)
    whole = [solve(y, d, chunk_size=None) for y, d in problems]
    # 4 blocks, the last overlapping: a block stops when all its rows have
    # converged, so rows may take other rounds than in one block, all to tol.
    blocked = solve(*problems[0], chunk_size=10)
    np.testing.assert_allclose(blocked.codes, whole[0].codes, atol=1e-5)
    ys, ds = (jnp.stack(x) for x in zip(*problems, strict=True))
    batched = jax.jit(jax.vmap(lambda y, d: solve(y, d, chunk_size=None)))(ys, ds)
    for s in range(2):
        np.testing.assert_allclose(batched.codes[s], whole[s].codes, atol=1e-5)
        np.testing.assert_allclose(batched.kkt_violation[s], whole[s].kkt_violation, atol=1e-5)
        # Under vmap the loop runs until both seeds have stopped.
        assert int(batched.rounds[s, 0]) == max(int(w.rounds[0]) for w in whole)


def test_vmap_over_lambdas_equals_one_lambda_at_a_time():
    y, d = _problem(seed=5)
    lams = jnp.array([0.02, 0.2])
    solve = functools.partial(working_set_lasso, size=32, tol=1e-5, chunk_size=None)
    swept = jax.vmap(lambda lam: solve(y, d, lam))(lams)
    for j, lam in enumerate(lams):
        single = solve(y, d, lam)
        np.testing.assert_allclose(swept.codes[j], single.codes, atol=1e-5)
        assert float(swept.kkt_violation[j].max()) < 1e-4
    assert (swept.codes[0] > 0).sum() > (swept.codes[1] > 0).sum()  # less shrinkage


def test_an_empty_batch_gives_empty_results():
    _, d = _problem()
    result = working_set_lasso(jnp.zeros((0, d.shape[0])), d, 0.1, size=8)
    chex.assert_shape((result.codes, result.rounds, result.kkt_violation),
                      ((0, d.shape[1]), (0,), (0,)))


def test_a_support_larger_than_the_set_is_reported_not_hidden():
    y, d = _problem(seed=4, k=8)
    result = working_set_lasso(y, d, 0.01, size=3, max_rounds=5)
    assert int(result.rounds.max()) == 5
    assert float(result.kkt_violation.max()) > 0.1


def test_size_outside_the_width_is_refused():
    y, d = _problem(width=50)
    with pytest.raises(ValueError, match="size=51"):
        working_set_lasso(y, d, 0.1, size=51)
