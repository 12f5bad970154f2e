"""Blocking: independent rows (or columns) processed a bounded block at a time.

Row-independent work (coding every sample of a split, scoring every atom or
code column) runs in blocks so that the working memory is one block's and, on
CPU, the block's iterates stay in cache. Both blockers below loop over blocks
of a fixed size with ``lax.fori_loop`` and write each block's result in place
into the full result: no padded copy of the input, no stacked copy of the
output (under vmap over seeds, stacking and reshaping cost a transposed copy
of every code, 5.8 GiB for 3 seeds at width 100,000). The last block ends at
the last row, so it may overlap the one before; overlapping rows are computed
again, alike, so ``fn`` must treat rows independently (or, like the
working-set solver, be content that an overlapping row takes the last
block's result).

* ``map_rows``: rows of one or more ``[n, ...]`` arrays (samples): the
  solvers (``sparsecomp.coding``), the SAE's whole-split passes
  (``sparsecomp.sae``), support recovery and matched pairs in the metrics.
* ``map_column_blocks``: columns of an ``[d, width]`` matrix (atoms, code
  columns), handed to ``fn`` as rows with their first column index: atom
  statistics (``sparsecomp.dictionary``), per-column AUCs and matching
  candidates in the metrics.

Used by: ``sparsecomp.coding``, ``sparsecomp.sae``, ``sparsecomp.dictionary``
and ``sparsecomp.metrics``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

# Rows per pass when a whole split is encoded: the [width, rows] working arrays
# of MP and TopK then stay in cache (MP's evaluation of 5000 rows runs ~2.5x
# faster than in one pass), and memory stays bounded at large widths.
EVAL_CHUNK = 256


def even_chunk(n: int, chunk: int | None) -> int | None:
    """Rows per block when ``n`` rows are split into the fewest equal blocks of at most ``chunk``.

    ``map_rows(fn, rows, even_chunk(n, chunk))`` then recomputes fewer
    overlapping rows than ``map_rows(fn, rows, chunk)`` (the solvers' blocks).

    Args:
      n: number of rows.
      chunk: the most rows per block, or ``None`` (one block).

    Returns:
      ``ceil(n / ceil(n / chunk))``; ``chunk`` itself when ``n <= chunk`` or
      ``chunk`` is ``None``.
    """
    if chunk is None or n <= chunk:
        return chunk
    return -(-n // -(-n // chunk))


def _map_blocks(fn: Callable, n: int, block: int, take: Callable):
    """``fn(take(start))`` over the blocks of ``block`` of ``n`` items, written in place.

    Args:
      fn: maps a block to a pytree of [block, ...] arrays.
      n: number of items (rows or columns).
      block: items per block (static, 1 <= block <= n).
      take: maps a block's first index (traced int) to ``fn``'s argument.

    Returns:
      ``fn``'s pytree for all [n, ...] items.
    """
    n_blocks = -(-n // block)
    shapes = jax.eval_shape(lambda: fn(take(jnp.zeros((), jnp.int32))))

    def solve_block(index, out):
        start = jnp.minimum(index * block, n - block)
        return jax.tree.map(
            lambda full, part: jax.lax.dynamic_update_slice_in_dim(full, part, start, 0),
            out, fn(take(start)))

    out = jax.tree.map(lambda s: jnp.zeros((n, *s.shape[1:]), s.dtype), shapes)
    return jax.lax.fori_loop(0, n_blocks, solve_block, out)


def map_rows(fn: Callable, rows, chunk: int | None = EVAL_CHUNK):
    """``fn(rows)`` for rows that are independent problems, ``chunk`` rows at a time.

    Args:
      fn: maps ``rows``' structure with [r, ...] leaves (r rows of each) to a
        pytree of [r, ...] arrays, row by row.
      rows: an [n, ...] array or a pytree (e.g. a tuple) of [n, ...] arrays
        (zero-width ones are fine).
      chunk: rows per block (static); ``None`` or ``chunk >= n`` calls ``fn``
        once on all rows. The solvers pass ``even_chunk(n, chunk)``.

    Returns:
      ``fn``'s pytree for all [n, ...] rows.
    """
    n = jax.tree.leaves(rows)[0].shape[0]
    if chunk is None or n <= chunk:
        return fn(rows)

    def take(start):
        return jax.tree.map(lambda x: jax.lax.dynamic_slice_in_dim(x, start, chunk), rows)

    return _map_blocks(fn, n, chunk, take)


def map_column_blocks(fn: Callable, columns: jax.Array, block: int):
    """``fn(block_columns, start)`` over ``block`` columns of ``columns`` at a time.

    Args:
      fn: maps a block's columns as rows ([size, input_dim]) and its first
        column index ``start`` ([] int) to a pytree of [size, ...] arrays.
      columns: [input_dim, width] float32.
      block: columns per block (static); ``block >= width`` calls ``fn``
        once on all columns (``start`` 0).

    Returns:
      ``fn``'s pytree for all [width, ...] columns, in column order.
    """
    width = columns.shape[1]
    if width <= block:
        return fn(columns.T, 0)

    def take(start):
        return jax.lax.dynamic_slice_in_dim(columns, start, block, axis=1).T, start

    return _map_blocks(lambda args: fn(*args), width, block, take)
