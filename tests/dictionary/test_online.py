"""Online dictionary learning: forgetting weights, block-coordinate passes, the codes' Gram."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sparsecomp.dictionary import online


def test_forgetting_weight_matches_scikit_learn_formula():
    # theta = (t + 1) B for t < B - 1, else B^2 + t + 1 - B; beta = (theta + 1 - B) / (theta + 1)
    beta = online.forgetting_weight(jnp.array([0, 5]), 4)
    np.testing.assert_allclose(beta, [1 / 5, 15 / 19], rtol=1e-6)


def test_mairal_forgetting_weight_is_one_minus_inverse_step_to_the_rho():
    beta = online.mairal_forgetting_weight(jnp.array([0, 1, 3]), 2.0)
    np.testing.assert_allclose(beta, [0.0, 0.25, 0.5625], rtol=1e-6)  # (1 - 1/t)^2, t = 1, 2, 4


def _exact_statistics(seed=3, width=5):
    """A, B of noiseless samples of a unit-norm dictionary, and that dictionary [8, width]."""
    rng = np.random.default_rng(seed)
    true = rng.normal(size=(8, width)).astype(np.float32)
    true /= np.linalg.norm(true, axis=0)
    z = np.abs(rng.normal(size=(200, width))).astype(np.float32)
    y = z @ true.T
    return z.T @ z / 200, y.T @ z / 200, true, rng


@pytest.mark.parametrize("block_size", [1, 2, 3])  # 2 and 3 leave an overlapping last block
def test_block_coordinate_passes_recover_the_dictionary_of_exact_statistics(block_size):
    a, b, true, rng = _exact_statistics()
    atoms = jnp.asarray(rng.normal(size=(5, 8)).astype(np.float32) * 0.1)
    for _ in range(200):
        atoms, dead = online.block_coordinate_pass(atoms, a, b, atoms, block_size)
    assert int(dead) == 0
    np.testing.assert_allclose(atoms.T, true, atol=1e-3)


def test_one_block_of_every_atom_is_the_damped_solve_of_the_statistics():
    # D A = B has the unique solution D = true; one damped pass is
    # D = (B + e D0 L)(A + e L)^-1 with L = diag(A), within ~e of true.
    a, b, true, rng = _exact_statistics(seed=4)
    start = rng.normal(size=(5, 8)).astype(np.float32) * 0.2
    atoms, _ = online.block_coordinate_pass(jnp.asarray(start), a, b, start, 5)
    e, lam = online.BLOCK_DAMPING, np.diag(np.diag(a).astype(np.float64))
    expected = np.linalg.solve(a + e * lam, b.T + e * lam @ start)  # rows = atoms
    expected /= np.maximum(np.linalg.norm(expected, axis=1, keepdims=True), 1.0)
    np.testing.assert_allclose(atoms, expected, atol=1e-5)
    np.testing.assert_allclose(atoms.T, true, atol=1e-2)


def test_a_rank_deficient_block_gets_finite_atoms_that_explain_its_sample():
    # One sample y = (1, 0.5) used atoms 0 and 1 with codes (2, 3): A = [[4, 6],
    # [6, 9]] is singular (the undamped solve gave NaN). The damped step is
    # finite, is its closed form, and fits the sample: 2 d0 + 3 d1 = y.
    a = np.array([[4.0, 6.0], [6.0, 9.0]], np.float32)
    b = np.outer([1.0, 0.5], [2.0, 3.0]).astype(np.float32)
    start = np.array([[0.1, 0.0], [0.0, 0.1]], np.float32)
    atoms, dead = online.block_coordinate_pass(jnp.asarray(start), a, b, start, 2)
    assert int(dead) == 0
    chex.assert_tree_all_finite(atoms)
    a64, lam = a.astype(np.float64), np.diag(np.diag(a).astype(np.float64))
    e = online.BLOCK_DAMPING
    expected = np.linalg.solve(a64 + e * lam, b.T + e * lam @ start)
    np.testing.assert_allclose(atoms, expected, atol=1e-4)  # float32 at condition ~2000
    np.testing.assert_allclose(2 * atoms[0] + 3 * atoms[1], [1.0, 0.5], atol=1e-3)


def test_per_atom_pass_is_mairals_update():
    # block_size 1: d_j <- d_j + (b_j - D a_j) / A_jj in order, then onto the unit ball.
    a, b, _, rng = _exact_statistics(seed=5)
    start = rng.normal(size=(5, 8)).astype(np.float32) * 0.3
    expected = start.copy()
    for j in range(5):
        moved = expected[j] + (b[:, j] - a[j] @ expected) / a[j, j]
        expected[j] = moved / max(np.linalg.norm(moved), 1.0)
    atoms, _ = online.block_coordinate_pass(jnp.asarray(start), a, b, start)
    np.testing.assert_allclose(atoms, expected, atol=1e-5)


@pytest.mark.parametrize("block_size", [1, 2])
def test_dead_atom_is_resampled_from_the_fallback(block_size):
    a = jnp.diag(jnp.array([1.0, 0.0]))
    b = jnp.array([[1.0, 0.0], [0.0, 0.0]])
    fallback = jnp.array([[9.0, 9.0], [0.0, 2.0]])
    atoms, dead = online.block_coordinate_pass(jnp.eye(2), a, b, fallback, block_size)
    assert int(dead) == 1
    np.testing.assert_allclose(atoms, [[1.0, 0.0], [0.0, 1.0]], atol=1e-6)  # norm capped at 1


@pytest.mark.parametrize("support_size", [None, 3])
def test_accumulate_gram_adds_the_codes_gram_from_dense_or_supports(support_size):
    codes = np.zeros((4, 6), np.float32)
    codes[0, [0, 2, 5]] = [1.0, 2.0, -0.5]
    codes[1, [1]] = [3.0]
    codes[3, [2, 3, 4]] = [0.25, 1.5, 2.0]  # row 2 empty: no support at all
    a = jnp.asarray(np.arange(36, dtype=np.float32).reshape(6, 6))
    got = online.accumulate_gram(a, jnp.asarray(codes), support_size)
    np.testing.assert_allclose(got, np.asarray(a) + codes.T @ codes / 4, rtol=1e-6)


def test_online_learning_refuses_a_curve_without_truth_and_an_unknown_forgetting():
    def sample(key, n):
        return jax.random.normal(key, (n, 4))

    def encode(y, dictionary):
        return jnp.maximum(y @ dictionary, 0.0)

    options = dict(encode=encode, batch_size=8, n_batches=2)
    with pytest.raises(ValueError, match="truth"):
        online.online_dictionary_learning(jax.random.key(0), sample, 3, log_every=1, **options)
    with pytest.raises(ValueError, match="forgetting"):
        online.online_dictionary_learning(jax.random.key(0), sample, 3, forgetting="none",
                                          **options)
    state, curve = online.online_dictionary_learning(jax.random.key(0), sample, 3, **options)
    chex.assert_shape(state.dictionary, (4, 3))
    np.testing.assert_allclose(np.linalg.norm(state.dictionary, axis=0), 1.0, rtol=1e-6)
    assert int(state.step) == 2 and curve.samples.shape == (0,)
