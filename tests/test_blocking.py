"""Blocking: rows and columns in blocks equal one pass, in place, with an overlapping last block."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sparsecomp.blocking import even_chunk, map_column_blocks, map_rows


def _rows_fn(rows):
    """Row by row: a pytree with a [r, 3] and a [r] leaf."""
    y, scale = rows
    return {"relu": jax.nn.relu(y[:, :3] * scale), "sum": jnp.sum(y, axis=1)}


@pytest.mark.parametrize("chunk", [None, 1, 4, 7, 37, 100])
def test_map_rows_in_blocks_equals_one_pass(chunk):
    y = jax.random.normal(jax.random.key(0), (37, 5))
    scale = jnp.arange(37.0)[:, None]
    want = _rows_fn((y, scale))
    chex.assert_trees_all_equal(jax.jit(lambda r: map_rows(_rows_fn, r, chunk))((y, scale)), want)
    chex.assert_trees_all_equal(map_rows(_rows_fn, (y, scale), chunk), want)


def test_map_rows_of_one_array_with_the_default_block_and_under_vmap():
    y = jax.random.normal(jax.random.key(1), (3, 600, 4))
    got = jax.jit(jax.vmap(lambda y: map_rows(lambda x: x * 2.0, y)))(y)
    np.testing.assert_array_equal(got, y * 2.0)


def test_map_rows_visits_the_blocks_in_place_with_the_last_one_shifted_back():
    """10 rows in blocks of 4 start at 0, 4 and 6: row 6 and 7 are in two blocks."""
    y = jnp.arange(10)
    got = map_rows(lambda r: jnp.full_like(r, r[0]), y, 4)
    np.testing.assert_array_equal(got, [0, 0, 0, 0, 4, 4, 6, 6, 6, 6])
    np.testing.assert_array_equal(map_rows(lambda r: r + 1, y[:0], 4), y[:0])  # no rows


def test_map_rows_keeps_zero_width_arrays():
    y = jnp.ones((9, 2))
    empty = jnp.zeros((9, 0))
    got = map_rows(lambda r: (r[0] + 1, r[1]), (y, empty), 4)
    chex.assert_shape(got[1], (9, 0))
    np.testing.assert_array_equal(got[0], y + 1)


@pytest.mark.parametrize(
    "n, chunk, want", [(10, None, None), (10, 10, 10), (10, 20, 20), (10, 4, 4), (9, 4, 3),
                       (1000, 256, 250), (5, 4, 3)],
)
def test_even_chunk_is_the_fewest_equal_blocks(n, chunk, want):
    assert even_chunk(n, chunk) == want


def test_map_column_blocks_passes_columns_as_rows_and_their_first_index():
    columns = jax.random.normal(jax.random.key(2), (6, 11))

    def fn(block, start):
        index = start + jnp.arange(block.shape[0])
        return {"norm": jnp.linalg.norm(block, axis=1), "index": index}

    want = {"norm": jnp.linalg.norm(columns, axis=0), "index": jnp.arange(11)}
    for block in (1, 3, 4, 11, 50):
        got = jax.jit(lambda c, block=block: map_column_blocks(fn, c, block))(columns)
        chex.assert_trees_all_close(got, want, rtol=1e-6)
        np.testing.assert_array_equal(got["index"], want["index"])
