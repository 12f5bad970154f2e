"""FISTA/ISTA: optimality (KKT), agreement with scikit-learn, gradient forms, vmap, early stop."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import Lasso

from sparsecomp.coding.fista import (
    fista,
    ista,
    lipschitz_constant,
    make_problem,
    solver_init,
    solver_run_until,
    use_gram_form,
)


def _problem(seed=0, batch=6, input_dim=12, width=30):
    rng = np.random.default_rng(seed)
    d = rng.normal(size=(input_dim, width)).astype(np.float32)
    d /= np.linalg.norm(d, axis=0)
    z = np.zeros((batch, width), np.float32)
    for row in z:
        row[rng.choice(width, 3, replace=False)] = rng.uniform(0.2, 1.0, 3)
    return z @ d.T, d


def _objective(y, d, z, lam):
    return 0.5 * np.sum((y - z @ d.T) ** 2, axis=-1) + lam * np.abs(z).sum(-1)


def test_shapes_dtypes_and_nonneg():
    y, d = _problem()
    codes = fista(y, d, 0.1)
    chex.assert_shape(codes, (6, 30))
    chex.assert_type(codes, jnp.float32)
    assert (codes >= 0).all()


@pytest.mark.parametrize("nonneg", [True, False])
def test_kkt_conditions(nonneg):
    y, d = _problem(seed=1)
    lam = 0.05
    codes = np.asarray(fista(y, d, lam, n_iter=3000, nonneg=nonneg), np.float64)
    correlation = (y - codes @ d.T) @ d  # D^T (y - D z), per row
    active = codes > 1e-6
    if nonneg:
        # z_i > 0: correlation_i = lam; z_i = 0: correlation_i <= lam.
        np.testing.assert_allclose(correlation[active], lam, atol=2e-4)
        assert (correlation[~active] <= lam + 2e-4).all()
    else:
        active = np.abs(codes) > 1e-6
        np.testing.assert_allclose(correlation[active], lam * np.sign(codes[active]), atol=2e-4)
        assert (np.abs(correlation[~active]) <= lam + 2e-4).all()
    assert active.any()


def test_objective_matches_sklearn_positive_lasso():
    y, d = _problem(seed=2)
    lam = 0.05
    ours = _objective(y, d, np.asarray(fista(y, d, lam, n_iter=3000)), lam)
    # sklearn minimises 1/(2 m) ||y - D z||^2 + alpha ||z||_1, so alpha = lam / m.
    for i, row in enumerate(y):
        model = Lasso(alpha=lam / d.shape[0], positive=True, fit_intercept=False, tol=1e-10,
                      max_iter=100_000).fit(d.astype(np.float64), row.astype(np.float64))
        theirs = _objective(row, d, model.coef_, lam)
        np.testing.assert_allclose(ours[i], theirs, rtol=1e-4)


def test_gram_and_explicit_gradient_forms_agree():
    y, d = _problem(seed=3)
    np.testing.assert_allclose(
        fista(y, d, 0.1, gram=True), fista(y, d, 0.1, gram=False), rtol=1e-4, atol=1e-5
    )
    assert use_gram_form(input_dim=47, width=100) and not use_gram_form(input_dim=93, width=1000)


def test_lipschitz_constant_is_spectral_norm_squared():
    _, d = _problem(seed=4)
    np.testing.assert_allclose(lipschitz_constant(d), np.linalg.norm(d, 2) ** 2, rtol=1e-5)


def test_ista_reaches_the_same_optimum_more_slowly():
    y, d = _problem(seed=5)
    lam = 0.1
    optimum = _objective(y, d, np.asarray(fista(y, d, lam, n_iter=3000)), lam)
    gap_fista = _objective(y, d, np.asarray(fista(y, d, lam, n_iter=30)), lam) - optimum
    gap_ista = _objective(y, d, np.asarray(ista(y, d, lam, n_iter=30)), lam) - optimum
    assert gap_fista.sum() < gap_ista.sum()
    np.testing.assert_allclose(_objective(y, d, np.asarray(ista(y, d, lam, n_iter=20000)), lam),
                               optimum, rtol=1e-4)


def test_warm_start_at_the_optimum_stays_there():
    y, d = _problem(seed=6)
    optimum = fista(y, d, 0.1, n_iter=3000)
    np.testing.assert_allclose(fista(y, d, 0.1, n_iter=5, z_init=optimum), optimum, atol=1e-5)
    np.testing.assert_array_equal(fista(y, d, 0.1, n_iter=0, z_init=optimum), optimum)


def test_vmap_over_lambdas_and_dictionaries_equals_loop():
    y, d = _problem(seed=7)
    lams = jnp.array([0.01, 0.1, 0.5])
    # y and d are arguments, not constants of the program: XLA would fold the
    # products of constants at compile time, rounding them differently from the
    # loop's compiled products (100 iterations then amplify an ulp to ~5e-6).
    batched = jax.jit(jax.vmap(lambda lam, y, d: fista(y, d, lam), in_axes=(0, None, None)))(
        lams, y, d)
    for lam, codes in zip(lams, batched, strict=True):
        np.testing.assert_allclose(codes, fista(y, d, lam), rtol=1e-5, atol=1e-6)
    dictionaries = jnp.stack([d, d[:, ::-1], 2 * d])
    batched = jax.vmap(lambda dd: fista(y, dd, 0.1))(dictionaries)
    for dd, codes in zip(dictionaries, batched, strict=True):
        np.testing.assert_allclose(codes, fista(y, dd, 0.1), rtol=1e-5, atol=1e-6)
    assert not np.allclose(batched[0], batched[2])


@pytest.mark.parametrize("chunk_size", [4, 5, 64])
def test_chunked_equals_unchunked(chunk_size):
    y, d = _problem(seed=8, batch=13)
    warm = jnp.full((13, 30), 0.1)
    np.testing.assert_allclose(
        fista(y, d, 0.1, chunk_size=chunk_size, z_init=warm), fista(y, d, 0.1, z_init=warm),
        rtol=1e-5, atol=1e-6,
    )
    np.testing.assert_allclose(
        ista(y, d, 0.1, chunk_size=chunk_size, gram=True), ista(y, d, 0.1, gram=True),
        rtol=1e-5, atol=1e-6,
    )


def _run_until(y, d, lam, max_iter, tol, z_init=None):
    problem = make_problem(y, d, lam)
    start = jnp.zeros((y.shape[0], d.shape[1]), jnp.float32) if z_init is None else z_init
    state, n_iter = solver_run_until(problem, solver_init(problem, start), max_iter, tol,
                                     nonneg=True, momentum=True)
    return np.asarray(state.codes), int(n_iter)


@pytest.mark.parametrize("max_iter", [40, 7])
def test_run_until_without_convergence_equals_fixed_iterations(max_iter):
    y, d = _problem(seed=3)
    codes, n_iter = _run_until(y, d, 0.05, max_iter, tol=1e-30)
    assert n_iter == max_iter
    np.testing.assert_allclose(codes, fista(y, d, 0.05, n_iter=max_iter), atol=1e-6)


@pytest.mark.parametrize("max_iter", [3000, 2999])
def test_run_until_stops_once_the_codes_stop_moving(max_iter):
    y, d = _problem(seed=4)
    lam, tol = 0.05, 1e-3
    codes, n_iter = _run_until(y, d, lam, max_iter, tol)
    assert 2 <= n_iter < max_iter and n_iter % 2 == max_iter % 2, n_iter

    def change(j):  # relative change of FISTA's j-th step, from fixed-length runs
        after, before = (np.asarray(fista(y, d, lam, n_iter=i)) for i in (j, j - 1))
        return np.linalg.norm(after - before) / np.linalg.norm(after)

    np.testing.assert_allclose(codes, fista(y, d, lam, n_iter=n_iter), atol=1e-6)
    assert change(n_iter) <= tol  # the stopped iterate passed the test...
    if n_iter - 2 > max_iter % 2:
        assert change(n_iter - 2) > tol  # ...and the previous tested one did not
    # Started at the (numerical) optimum, the first tested step stops it.
    optimum = fista(y, d, lam, n_iter=3000)
    _, n_warm = _run_until(y, d, lam, max_iter, tol, z_init=optimum)
    assert n_warm == 2 + max_iter % 2
