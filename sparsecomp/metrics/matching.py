"""One-to-one matching of columns by |inner product| without the dense matrix.

``metrics.latent_matching`` and ``metrics.dictionary_match`` match the columns
of two normalised matrices ``x`` [d, p] and ``y`` [d, q] so as to maximise the
total ``|x_i . y_j|`` (absolute correlation or cosine). Below a few thousand
columns they build the dense [p, q] matrix and run the Hungarian algorithm; at
tens of thousands of columns that matrix (40 GB at 100,000 columns) and the
O(n^3) solver are out of reach, so ``max_abs_dot_matching`` below

1. computes ``|x^T y|`` in row blocks in JAX (each block at most
   ``block_bytes``) and keeps the ``candidates`` largest entries of every row
   (``jax.lax.top_k``), so memory is O(p * candidates + block);
2. solves the maximum-weight matching on that candidate graph on the host
   with ``scipy.sparse.csgraph.min_weight_full_bipartite_matching`` (LAPJVsp),
   on costs ``2 - |x_i . y_j|`` in [1, 2] (the solver minimises, needs non-zero
   entries, and needs a full matching: every row gets a private dummy column
   of cost 2, i.e. weight 0, so one always exists and a row is left unmatched
   only when that is optimal on the candidate graph);
3. matches the rows left unmatched by Hall's condition failing on the
   candidates (many rows whose candidates are the same few columns) against
   the columns still free: up to ``_MAX_ROUNDS - 1`` more rounds of 1-2
   restricted to them (each a pass over the rows and columns left; they only
   run when the candidates admit no full matching, and stop early when the
   rows left have weight 0 with every free column), then pairing in order,
   with the true weights of those pairs (often ~0).

The rows are the columns of the narrower matrix, so every one of them is
matched: the result always has ``min(p, q)`` pairs with their true weights.

Step 1 costs O(d p q) products, which dominates at 100,000 columns. When the
matrices are correlations of sparse data (ground-truth latents and the codes
of a sparse solver), ``correlation_candidates`` finds the same candidates
from the co-occurrences alone: with column means ``mu`` and centred norms
``s``, ``corr(a_i, b_j) = (a_i . b_j - N mu_i mu_j) / (s_i s_j)``, and
``a_i . b_j`` is non-zero only for the pairs active in a common sample (one
``scipy.sparse`` product); every other pair has ``|corr| = (N |mu_i| / s_i)
(|mu_j| / s_j)``, whose ranking over j is the same for every i. The top
candidates of a row are therefore among its co-occurring columns and the
globally best columns by ``|mu_j| / s_j``: the exact top-k of the dense
``|x^T y|`` up to rounding, in O(nnz) work.

How it relates to the exact (dense Hungarian) optimum: it is a feasible
matching, so its total weight is a lower bound on the optimum; it equals the
optimum whenever some optimal matching uses only candidate pairs, i.e. the
optimal partner of every row is among that row's ``candidates`` best columns
(then round 1 already reaches the optimum, and the later rounds only add
non-negative weight to it). Under ties the pairs may differ from the dense
solver's, the total not.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.sparse import csc_array, csr_array
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from sparsecomp.blocking import map_column_blocks, map_rows

_HIGHEST = jax.lax.Precision.HIGHEST
# Matchings whose wider side has more columns than this use the sparse
# candidate path by default (a dense 4096^2 float32 matrix is 64 MiB and the
# Hungarian algorithm takes seconds; both grow as n^2 and n^3).
EXACT_MAX_WIDTH = 4096
# Partners kept per column of the narrower side on the sparse path.
CANDIDATES = 64
# Largest float32 block of |x^T y| held at once (256 MiB).
BLOCK_BYTES = 2**28
# Rounds of candidate matching; later rounds only run on the rows the
# earlier ones left unmatched (Hall's condition failing on the candidates).
_MAX_ROUNDS = 3


def use_exact(exact: bool | None, width: int) -> bool:
    """Whether to match densely: ``exact``, or when ``None`` up to ``EXACT_MAX_WIDTH`` columns.

    Args:
      exact: True (dense Hungarian), False (sparse candidates) or None (by width).
      width: columns of the wider side.
    """
    return width <= EXACT_MAX_WIDTH if exact is None else bool(exact)


class Matching(NamedTuple):
    """A one-to-one matching of the columns of x with those of y."""

    rows: np.ndarray  # [min(p, q)] int64, columns of x, ascending
    cols: np.ndarray  # [min(p, q)] int64, their partners among the columns of y
    weights: np.ndarray  # [min(p, q)] float32, |x[:, rows] . y[:, cols]| per pair


@functools.partial(jax.jit, static_argnames=("block", "k"))
def _top_k_partners(x, y, *, block: int, k: int):
    """The k largest |x_i . y_j| of every column i of x, ``block`` columns of x at a time.

    Args:
      x: [d, p] float32.
      y: [d, q] float32.
      block: columns of x per block (static).
      k: candidates per column of x (static, <= q).

    Returns:
      ([p, k] float32 values, descending; [p, k] int32 columns of y).
    """

    def top_k(columns, start):
        del start
        return jax.lax.top_k(jnp.abs(jnp.matmul(columns, y, precision=_HIGHEST)), k)

    return map_column_blocks(top_k, x, block)


def _candidates(x, y, k: int, block_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k columns of y for every column of x, by |inner product|, in row blocks.

    Returns:
      ([p, k] float32 values, [p, k] int64 column indices), on the host.
    """
    p, q = x.shape[1], y.shape[1]
    block = int(max(1, min(p, block_bytes // (4 * q))))
    values, index = _top_k_partners(x, y, block=block, k=k)
    return np.array(values, np.float32), np.array(index, np.int64)


def _column_moments(a) -> tuple[np.ndarray, np.ndarray]:
    """Column means and centred L2 norms of a sparse [N, p] array, float64."""
    n_samples = a.shape[0]
    mean = np.asarray(a.sum(axis=0), np.float64).ravel() / n_samples
    sq = np.asarray(a.multiply(a).sum(axis=0), np.float64).ravel()
    return mean, np.sqrt(np.maximum(sq - n_samples * mean**2, 0.0))


def correlation_candidates(a, b, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k |Pearson correlation| partners among the columns of b, per column of a.

    The same candidates as ``_candidates`` on the centred unit columns of a
    and b (up to rounding and ties), computed from the co-occurrences of the
    non-zero entries (module docstring), so the cost is that of the sparse
    product ``a^T b``, not O(N p q). Worth it when both are sparse; a constant
    column correlates 0 with everything, as in ``metrics``.

    Args:
      a: [N, p] float array (numpy, or anything ``np.asarray`` takes).
      b: [N, q] float array, q >= k.
      k: candidates per column of a.

    Returns:
      ([p, k] float32 |correlations|, [p, k] int64 columns of b, distinct per row).
    """
    a = csc_array(np.asarray(a, np.float32)).astype(np.float64)
    b = csc_array(np.asarray(b, np.float32)).astype(np.float64)
    n_samples, p = a.shape
    mean_a, norm_a = _column_moments(a)
    mean_b, norm_b = _column_moments(b)
    scale_a = np.divide(1.0, norm_a, out=np.zeros_like(norm_a), where=norm_a > 0)
    scale_b = np.divide(1.0, norm_b, out=np.zeros_like(norm_b), where=norm_b > 0)
    shared = csr_array(a.T @ b)  # [p, q], non-zero on co-occurring pairs
    shared.sum_duplicates()
    shared.eliminate_zeros()  # a zero product is "unshared": the offset formula holds
    rows = np.repeat(np.arange(p), np.diff(shared.indptr))
    cols = shared.indices.astype(np.int64)
    corr = np.abs((shared.data - n_samples * mean_a[rows] * mean_b[cols])
                  * scale_a[rows] * scale_b[cols])
    # Each row's k best shared columns, padded with score -1: [p, k].
    order = np.lexsort((-corr, rows))
    place_in_row = np.arange(order.size) - shared.indptr[rows[order]]
    in_top = place_in_row < k
    keep = order[in_top]
    shared_cols = np.zeros((p, k), np.int64)
    shared_score = np.full((p, k), -1.0)
    shared_cols[rows[keep], place_in_row[in_top]] = cols[keep]
    shared_score[rows[keep], place_in_row[in_top]] = corr[keep]
    # Off the co-occurrences |corr| = (N |mu_i| / s_i) (|mu_j| / s_j): the
    # ranking of the columns is the same for every row, so each row's k best
    # unshared columns are the first k of one global list that it does not share.
    by_offset = np.argsort(-np.abs(mean_b) * scale_b, kind="stable")
    place = _unshared_places(shared, by_offset, k)  # [p, k], q where a row has none left
    valid = place < b.shape[1]
    global_cols = np.where(valid, by_offset[np.minimum(place, b.shape[1] - 1)], 0)
    r = np.arange(p)[:, None]
    global_score = np.where(valid, n_samples * np.abs(mean_a[r]) * scale_a[r]
                            * np.abs(mean_b[global_cols]) * scale_b[global_cols], -1.0)
    both_cols = np.concatenate([shared_cols, global_cols], axis=1)
    both_score = np.concatenate([shared_score, global_score], axis=1)
    top = np.argsort(-both_score, axis=1, kind="stable")[:, :k]
    return (np.take_along_axis(both_score, top, axis=1).astype(np.float32),
            np.take_along_axis(both_cols, top, axis=1))


def _unshared_places(shared, order: np.ndarray, k: int) -> np.ndarray:
    """Places in ``order`` of each row's first k columns that it does not share.

    Row i's t-th unshared place is ``t + #{j : s_j - j <= t}``, where
    ``s_0 < s_1 < ...`` are the places of its shared columns (``s_j - j``
    counts the unshared places before ``s_j`` and never decreases), so one
    ``searchsorted`` over all rows' ``(row, s_j - j)`` keys finds them:
    O((nnz + p k) log nnz) time, O(nnz + p k) memory, however many columns a row
    shares (a latent active in most samples co-occurs with nearly every code
    column; a dense [p, q] mask of it would be the size of the correlation
    matrix).

    Args:
      shared: [p, q] CSR array in canonical form (sorted, no duplicates) and
        without explicit zeros: every stored entry counts as shared.
      order: [q] int, a permutation of the columns (best first).
      k: places per row.

    Returns:
      [p, k] int64 places in ``order`` ascending per row; ``q`` where a row has
      fewer than k unshared columns.
    """
    p, q = shared.shape
    if not shared.has_canonical_format:
        raise ValueError("shared must be a canonical CSR array (sum_duplicates first)")
    place_of = np.empty(q, np.int64)
    place_of[order] = np.arange(q)
    rows = np.repeat(np.arange(p), np.diff(shared.indptr))
    by_row = np.lexsort((place_of[shared.indices], rows))
    rank_in_row = np.arange(rows.size) - shared.indptr[rows]
    unshared_before = place_of[shared.indices[by_row]] - rank_in_row
    keys = rows * (q + 1) + unshared_before  # ascending: by row, then non-decreasing
    t = np.arange(k)
    count = np.searchsorted(keys, np.arange(p)[:, None] * (q + 1) + t, side="right")
    return np.minimum(t + count - shared.indptr[:-1, None], q)


def _solve_candidates(values, index, q: int):
    """Maximum-weight matching on a candidate graph; rows may stay unmatched.

    Args:
      values: [r, k] float32 weights in [0, 1] of the candidate pairs.
      index: [r, k] int, their columns (distinct within a row), in [0, q).
      q: number of columns.

    Returns:
      (matched rows ascending, their columns, their weights); rows whose
      optimum is their dummy column are left out.
    """
    r, k = values.shape
    # Costs 2 - w are in [1, 2]: non-zero, as the solver requires, and a
    # constant offset per matched row leaves the optimum of a full matching
    # unchanged. Row i's dummy column q + i costs 2, i.e. weight 0.
    cost = np.concatenate([2.0 - values.astype(np.float64).ravel(), np.full(r, 2.0)])
    row = np.concatenate([np.repeat(np.arange(r), k), np.arange(r)])
    col = np.concatenate([index.ravel(), q + np.arange(r)])
    graph = csr_array((cost, (row, col)), shape=(r, q + r))
    rows, cols = min_weight_full_bipartite_matching(graph)
    real = cols < q
    rows, cols = rows[real], cols[real]
    weights = values[rows][index[rows] == cols[:, None]]  # one hit per row
    return rows.astype(np.int64), cols.astype(np.int64), weights


@functools.partial(jax.jit, static_argnames="chunk")
def _paired_abs_dot(x, y, rows, cols, *, chunk: int):
    """|x[:, rows[t]] . y[:, cols[t]]| for every t, ``chunk`` pairs at a time: [c] float32."""

    def weights(pairs):
        r, c = pairs
        return jnp.abs(jnp.sum(x[:, r] * y[:, c], axis=0))

    return map_rows(weights, (rows, cols), chunk)


def _pair_weights(x, y, rows, cols, block_bytes: int) -> np.ndarray:
    """``_paired_abs_dot`` in chunks of pairs, so the gathered columns stay small."""
    chunk = int(max(1, block_bytes // (8 * x.shape[0])))
    return np.asarray(_paired_abs_dot(x, y, rows, cols, chunk=chunk))


def max_abs_dot_matching(x, y, *, candidates: int, block_bytes: int | None = None,
                         first_candidates: tuple[np.ndarray, np.ndarray] | None = None
                         ) -> Matching:
    """Maximum-weight one-to-one matching under |x_i . y_j| from top-k candidates.

    Maximises sum_t |x[:, rows[t]] . y[:, cols[t]]| over one-to-one matchings
    of ``min(p, q)`` pairs, restricted to the ``candidates`` best partners of
    every column of the narrower matrix (see the module docstring for the
    algorithm and the fallback when the candidates admit no full matching).
    Nothing [p, q] is materialised: the largest array is one block of
    ``block_bytes``. The products run in JAX; the matching runs on the host
    (scipy), because its size depends on the data.

    The total weight is a lower bound on the dense optimum (the result is a
    feasible matching) and equals it whenever the optimal partner of every
    column of the narrower matrix is among its candidates.

    Args:
      x: [d, p] float32, normalised columns (unit or zero).
      y: [d, q] float32, normalised columns.
      candidates: partners kept per column of the narrower matrix.
      block_bytes: largest block of the |x^T y| matrix held at once
        (default ``BLOCK_BYTES``).
      first_candidates: the first round's ``(values [p, k], columns [p, k])``
        when computed otherwise (``correlation_candidates``), for x no wider
        than y; later rounds, on the rows left, compute theirs in blocks.

    Returns:
      A ``Matching`` of ``min(p, q)`` pairs, ``rows`` ascending.

    Raises:
      ValueError: if a similarity is not finite (as ``linear_sum_assignment`` does).

    References:
      Jonker & Volgenant 1987 (LAPJVsp, the sparse shortest augmenting path
      solver in scipy).
    """
    block_bytes = BLOCK_BYTES if block_bytes is None else block_bytes
    if candidates < 1:
        raise ValueError(f"candidates must be >= 1, got {candidates}")
    if first_candidates is not None and x.shape[1] > y.shape[1]:
        raise ValueError("first_candidates needs x no wider than y")
    if x.shape[1] > y.shape[1]:
        swapped = max_abs_dot_matching(y, x, candidates=candidates, block_bytes=block_bytes)
        order = np.argsort(swapped.cols)
        return Matching(swapped.cols[order], swapped.rows[order], swapped.weights[order])
    rows_left, cols_left = np.arange(x.shape[1]), np.arange(y.shape[1])
    found_rows, found_cols, found_weights = [], [], []
    for round_ in range(_MAX_ROUNDS):
        if rows_left.size == 0:
            break
        if round_ == 0 and first_candidates is not None:
            values, index = first_candidates
        else:
            xs = x if round_ == 0 else x[:, jnp.asarray(rows_left)]
            ys = y if round_ == 0 else y[:, jnp.asarray(cols_left)]
            values, index = _candidates(xs, ys, min(candidates, cols_left.size), block_bytes)
        if not np.isfinite(values).all():
            raise ValueError("similarity matrix contains non-finite entries")
        rows, cols, weights = _solve_candidates(values, index, cols_left.size)
        found_rows.append(rows_left[rows])
        found_cols.append(cols_left[cols])
        found_weights.append(weights)
        unmatched = np.ones(rows_left.size, bool)
        unmatched[rows] = False
        rows_left, cols_left = rows_left[unmatched], np.delete(cols_left, cols)
        # A row whose best candidate is 0 has weight 0 with every free column:
        # another round cannot do better than pairing the rest in order.
        if not values[unmatched, 0].any():
            break
    fill = min(rows_left.size, cols_left.size)
    if fill:
        rows, cols = rows_left[:fill], cols_left[:fill]
        found_rows.append(rows)
        found_cols.append(cols)
        found_weights.append(_pair_weights(x, y, jnp.asarray(rows), jnp.asarray(cols), block_bytes))
    rows = np.concatenate(found_rows) if found_rows else np.zeros((0,), np.int64)
    cols = np.concatenate(found_cols) if found_cols else np.zeros((0,), np.int64)
    weights = (
        np.concatenate(found_weights).astype(np.float32)
        if found_weights
        else np.zeros((0,), np.float32)
    )
    order = np.argsort(rows)
    return Matching(rows[order], cols[order], weights[order])
