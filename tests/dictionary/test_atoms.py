"""Atoms the dictionary learners share: LS update, unused-atom fallback, data atoms, duplicates."""

import chex
import jax
import jax.numpy as jnp
import numpy as np

from sparsecomp.dictionary import atoms
from sparsecomp.linalg import unit_columns


def test_least_squares_update_solves_normal_equations():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(50, 6)).astype(np.float32)
    codes = np.maximum(rng.normal(size=(50, 10)), 0).astype(np.float32)
    d = np.asarray(atoms.least_squares_dictionary(y, codes), np.float64)
    chex.assert_shape(d, (6, 10))
    z64 = codes.astype(np.float64)
    lhs = (z64.T @ z64 + 1e-6 * np.eye(10)) @ d.T
    np.testing.assert_allclose(lhs, z64.T @ y, rtol=1e-4, atol=1e-4)


def test_unused_atom_keeps_its_previous_direction():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(40, 5)).astype(np.float32)
    codes = np.abs(rng.normal(size=(40, 4))).astype(np.float32)
    codes[:, 2] = 0.0  # atom 2 is used by no sample
    previous = np.asarray(atoms.random_dictionary(jax.random.key(0), 5, 4))
    d = np.asarray(unit_columns(atoms.least_squares_dictionary(y, codes), fallback=previous,
                                  eps=atoms.UNUSED_ATOM_NORM))
    np.testing.assert_allclose(np.linalg.norm(d, axis=0), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(d[:, 2], previous[:, 2])


def test_data_dictionary_draws_distinct_normalised_samples():
    y = jax.random.normal(jax.random.key(1), (50, 6))
    d = atoms.data_dictionary(jax.random.key(2), y, 8)
    chex.assert_shape(d, (6, 8))
    np.testing.assert_allclose(np.linalg.norm(d, axis=0), 1.0, rtol=1e-6)
    unit_y = y / jnp.linalg.norm(y, axis=1, keepdims=True)
    match = np.abs(np.asarray(unit_y @ d)).max(axis=0)  # each atom is one sample
    np.testing.assert_allclose(match, 1.0, rtol=1e-5)
    assert len({tuple(np.round(np.asarray(col), 5)) for col in d.T}) == 8


def test_duplicated_atoms_flags_the_later_copy_across_blocks(monkeypatch):
    monkeypatch.setattr(atoms, "COHERENCE_BLOCK", 2)  # pairs straddle blocks
    e = np.eye(4, dtype=np.float32)
    d = np.stack([e[0], e[1], -e[0], e[2], (e[1] + 0.01 * e[3]) / np.hypot(1, 0.01)], axis=1)
    flags = atoms.duplicated_atoms(jnp.asarray(d), 0.95)
    np.testing.assert_array_equal(flags, [False, False, True, False, True])


def test_atoms_found_counts_true_atoms_with_a_close_learned_atom(monkeypatch):
    monkeypatch.setattr(atoms, "COHERENCE_BLOCK", 2)  # true atoms in two blocks
    e = np.eye(3, dtype=np.float32)
    truth = np.stack([e[0], e[1], e[2]], axis=1)
    # Learned: -2 e0 (|cos| 1, any norm), e1 + e2 (cos 0.71 with both): one of three found.
    learned = np.stack([-2 * e[0], e[1] + e[2]], axis=1)
    found = atoms.atoms_found(jnp.asarray(truth), jnp.asarray(learned), 0.9)
    np.testing.assert_allclose(found, 1 / 3, rtol=1e-6)
    np.testing.assert_allclose(atoms.atoms_found(jnp.asarray(truth), jnp.asarray(learned), 0.7),
                               1.0)  # 0.71 > 0.7: e1 and e2 both matched by one atom


def test_replace_atoms_takes_the_worst_residuals_in_order():
    d = jnp.eye(3)
    residuals = jnp.array([[0.0, 0.0, 1.0], [0.0, 3.0, 4.0], [2.0, 0.0, 0.0]])
    new = atoms.replace_atoms(d, jnp.array([True, False, True]), residuals)
    np.testing.assert_allclose(new[:, 0], [0.0, 0.6, 0.8])  # largest residual, normalised
    np.testing.assert_allclose(new[:, 1], [0.0, 1.0, 0.0])  # kept
    np.testing.assert_allclose(new[:, 2], [1.0, 0.0, 0.0])  # second largest
