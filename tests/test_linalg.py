"""LAPACK wrappers (vmap runs them one matrix at a time, same numbers) and the column normaliser."""

import chex
import jax
import jax.numpy as jnp
import numpy as np

from sparsecomp.linalg import largest_eigenvalue, solve_positive_definite, thin_svd, unit_columns


def _spd(key, batch, size):
    x = jax.random.normal(key, (batch, size, size))
    return x @ jnp.swapaxes(x, 1, 2) + size * jnp.eye(size)


def test_vmapped_equals_the_batched_lapack_call():
    matrices = _spd(jax.random.key(0), 3, 6)
    rhs = jax.random.normal(jax.random.key(1), (3, 6, 2))
    values = jax.jit(jax.vmap(largest_eigenvalue))(matrices)
    chex.assert_shape(values, (3,))
    np.testing.assert_array_equal(values, jnp.linalg.eigvalsh(matrices)[:, -1])
    solved = jax.jit(jax.vmap(solve_positive_definite))(matrices, rhs)
    np.testing.assert_allclose(matrices @ solved, rhs, rtol=1e-4, atol=1e-4)
    u, s, vt = jax.vmap(thin_svd)(rhs)
    chex.assert_shape((u, s, vt), ((3, 6, 2), (3, 2), (3, 2, 2)))
    np.testing.assert_allclose((u * s[:, None, :]) @ vt, rhs, rtol=1e-5, atol=1e-5)


def test_unbatched_arguments_are_shared_and_nested_vmap_works():
    matrix = _spd(jax.random.key(2), 1, 5)[0]
    rhs = jax.random.normal(jax.random.key(3), (4, 2, 5, 1))
    solved = jax.vmap(jax.vmap(solve_positive_definite, in_axes=(None, 0)), in_axes=(None, 0))(
        matrix, rhs
    )
    chex.assert_shape(solved, (4, 2, 5, 1))
    np.testing.assert_allclose(solved, jnp.linalg.solve(matrix, rhs), rtol=1e-4, atol=1e-5)


def test_unit_columns_leaves_zero_columns_or_takes_the_fallback():
    x = jnp.array([[3.0, 0.0, 1e-13], [4.0, 0.0, 0.0]])
    np.testing.assert_allclose(unit_columns(x), [[0.6, 0.0, 1e-13], [0.8, 0.0, 0.0]], rtol=1e-6)
    # eps=0: every non-zero column is scaled, however small (the metrics' normaliser).
    np.testing.assert_allclose(unit_columns(x, eps=0.0), [[0.6, 0.0, 1.0], [0.8, 0.0, 0.0]],
                               rtol=1e-6)
    fallback = jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    np.testing.assert_allclose(unit_columns(x, fallback=fallback),
                               [[0.6, 0.0, 0.0], [0.8, 1.0, 1.0]], rtol=1e-6)
