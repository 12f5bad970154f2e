"""Matching pursuit: the greedy choices, the codes and the hand-written VJP."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sparsecomp.coding import pursuit
from sparsecomp.linalg import unit_columns


def _unit_atoms(seed=0, input_dim=8, width=15):
    atoms = jax.random.normal(jax.random.key(seed), (input_dim, width))
    return unit_columns(atoms)


def _reference_mp(x, atoms, k):
    """The reference loop, written out in NumPy (float64)."""
    x, atoms = np.asarray(x, np.float64), np.asarray(atoms, np.float64)
    codes = np.zeros((x.shape[0], atoms.shape[1]))
    for i, residual in enumerate(x.copy()):
        chosen = np.zeros(atoms.shape[1], bool)
        for _ in range(k):
            inner = residual @ atoms
            pick = np.argmax(np.where(chosen, -1.0, np.abs(inner)))
            codes[i, pick] = inner[pick]
            residual -= inner[pick] * atoms[:, pick]
            chosen[pick] = True
    return codes


@pytest.mark.parametrize("gram", [True, False])
def test_matching_pursuit_matches_reference_loop(gram, monkeypatch):
    if not gram:
        monkeypatch.setattr(pursuit, "GRAM_MAX_WIDTH", 0)
    atoms = _unit_atoms()
    x = jax.random.normal(jax.random.key(1), (6, 8))
    codes = pursuit.matching_pursuit(x, atoms, 5)
    np.testing.assert_allclose(codes, _reference_mp(x, atoms, 5), atol=1e-5)


def test_matching_pursuit_picks_distinct_atoms_and_residual_shrinks():
    atoms = _unit_atoms(width=12)
    x = jax.random.normal(jax.random.key(4), (10, 8))
    picks, coefs = pursuit.mp_select(x, atoms.T, 12)
    for row in np.asarray(picks).T:
        assert len(set(row.tolist())) == 12
    # Matching pursuit with t steps is the first t steps of this run.
    steps = np.asarray(coefs)[:, :, None] * np.asarray(atoms.T)[np.asarray(picks)]
    residuals = np.asarray(x) - np.concatenate([np.zeros((1, 10, 8)), np.cumsum(steps, 0)])
    norms = np.linalg.norm(residuals, axis=-1)  # [k + 1, batch]
    assert np.all(np.diff(norms, axis=0) <= 1e-5)
    assert np.all(norms[-1] < norms[0])


def _naive_mp(x, atom_rows, k):
    """Matching pursuit as the reference's loop, differentiated by autodiff."""
    residual = x
    codes = jnp.zeros((x.shape[0], atom_rows.shape[0]))
    chosen = jnp.zeros_like(codes, bool)
    for _ in range(k):
        inner = residual @ atom_rows.T
        pick = jnp.argmax(jnp.where(chosen, -1.0, jnp.abs(inner)), axis=-1)
        coef = jnp.take_along_axis(inner, pick[:, None], axis=-1)
        onehot = jax.nn.one_hot(pick, atom_rows.shape[0], dtype=bool)
        codes = jnp.where(onehot, coef, codes)
        residual = residual - coef * atom_rows[pick]
        chosen = chosen | onehot
    return codes, residual


def test_matching_pursuit_gradient_matches_autodiff_of_loop():
    atom_rows = _unit_atoms(width=15).T
    x = jax.random.normal(jax.random.key(5), (6, 8))
    weights = jax.random.normal(jax.random.key(6), (6, 15))

    def loss(pursue, x, atom_rows):
        codes, residual = pursue(x, atom_rows)
        return jnp.sum(residual**2) + jnp.sum(weights * codes)

    def ours(x, atom_rows):
        picks, coefs, residual = pursuit.pursue(x, atom_rows, 4)
        return pursuit.dense_codes(picks, coefs, 15).T, residual

    naive = functools.partial(loss, lambda x, a: _naive_mp(x, a, 4))
    expected = jax.jit(jax.grad(naive, (0, 1)))(x, atom_rows)
    got = jax.jit(jax.grad(functools.partial(loss, ours), (0, 1)))(x, atom_rows)
    chex.assert_trees_all_close(got, expected, atol=1e-5, rtol=1e-4)
