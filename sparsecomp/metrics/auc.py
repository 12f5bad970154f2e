"""Best single-feature AUC: the sign-invariant ROC-AUC of the code column best on ID.

The metric ``auc_iid`` / ``auc_ood`` (protocol section 4), by Mann-Whitney
ranks in jit-compiled JAX, column blocks bounding the sort's memory.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from sparsecomp.blocking import map_column_blocks


def _sign_invariant_auc(scores: jax.Array, labels: jax.Array) -> jax.Array:
    """ROC-AUC of one score column, max(auc, 1 - auc), via Mann-Whitney ranks.

    Ties get their average rank, so a constant column scores exactly 0.5. Ranks
    are centred on the middle rank (N + 1) / 2 before summing, which keeps the
    sums small and exact in float32 for large N.

    Args:
      scores: [N] float32.
      labels: [N] bool.

    Returns:
      [] float32 in [0.5, 1]; 0.5 if ``labels`` holds one class only.
    """
    return _auc_of_sorted(*jax.lax.sort((scores, labels), num_keys=1))


def _nonnegative_auc(scores: jax.Array, labels: jax.Array) -> jax.Array:
    """``_sign_invariant_auc`` of scores >= 0, from one sort of a uint32 key.

    A non-negative float32's bit pattern orders as its value (-0.0, whose
    sign bit the shift drops, becomes 0.0), so ``bits << 1 | label`` sorts as
    (value, label) in one primitive array: XLA:CPU sorts that about four
    times faster than the values with the labels carried along (0.8 s
    against 3.2 s for 16,000 columns of 2500). The result is identical.
    """
    key = (jax.lax.bitcast_convert_type(scores, jnp.uint32) << 1) | labels.astype(jnp.uint32)
    ordered = jnp.sort(key)
    return _auc_of_sorted(ordered >> 1, (ordered & 1) == 1)


def _auc_of_sorted(ordered: jax.Array, labels: jax.Array) -> jax.Array:
    """The sign-invariant AUC from values in ascending order and their labels.

    A value's tie group starts at ``below`` (the number of smaller values)
    and ends before ``below_or_tied``, read off the sorted values without a
    search (batched searchsorted is slow on XLA:CPU).

    Args:
      ordered: [N] sorted values (any totally ordered dtype).
      labels: [N] bool, the labels in the same order.

    Returns:
      [] float32 in [0.5, 1].
    """
    n = ordered.shape[0]
    index = jnp.arange(n, dtype=jnp.int32)
    differs = ordered[1:] != ordered[:-1]
    starts = jnp.concatenate([jnp.array([True]), differs])
    ends = jnp.concatenate([differs, jnp.array([True])])
    below = jax.lax.cummax(jnp.where(starts, index, 0))
    below_or_tied = jax.lax.cummin(jnp.where(ends, index + 1, n), reverse=True)
    # Average 1-based rank (below + below_or_tied + 1) / 2, minus (n + 1) / 2.
    centred_rank = (below + below_or_tied - n).astype(jnp.float32) / 2
    n_pos = jnp.sum(labels).astype(jnp.float32)
    n_pairs = n_pos * (n - n_pos)
    auc = 0.5 + jnp.sum(jnp.where(labels, centred_rank, 0.0)) / jnp.where(n_pairs > 0, n_pairs, 1)
    return jnp.where(n_pairs > 0, jnp.maximum(auc, 1 - auc), 0.5)


# Entries (code columns x samples) scored at once by ``best_feature_auc``: its
# sort and rank temporaries are a few times this many 4-byte values. Read when
# ``_best_feature_auc`` is traced (once per shape).
AUC_BLOCK_ENTRIES = 2**24


def _column_aucs(codes: jax.Array, labels: jax.Array, column_auc=_sign_invariant_auc) -> jax.Array:
    """``column_auc`` (``_sign_invariant_auc``) of every column, in blocks of columns.

    The blocks (``AUC_BLOCK_ENTRIES`` entries each, ``map_column_blocks``)
    bound the sort's memory; the last block is shifted back to end at the
    last column and overlaps the one before it, which scores those columns
    twice, identically.

    Args:
      codes: [N, width] float32.
      labels: [N] bool.

    Returns:
      [width] float32.
    """
    n, width = codes.shape
    block = max(1, min(width, AUC_BLOCK_ENTRIES // max(n, 1)))

    def score(columns, start):
        del start
        return jax.vmap(column_auc, in_axes=(0, None))(columns, labels)

    return map_column_blocks(score, codes, block)


def best_column_auc(codes_id, labels_id, codes_ood, labels_ood, column_auc=_sign_invariant_auc):
    """(ID AUC, OOD AUC) [] float32 of the column best on ID, scored by ``column_auc``."""
    aucs_id = _column_aucs(codes_id, labels_id, column_auc)
    best = jnp.argmax(aucs_id)
    return aucs_id[best], column_auc(codes_ood[:, best], labels_ood)


def batched_best_feature_auc(codes_id, labels_id, codes_ood, labels_ood, batch):
    """``best_feature_auc`` over leading batch axes, traceable.

    Args:
      codes_id, codes_ood: [*batch_shape, N, width] float32.
      labels_id, labels_ood: [N] bool, with the leading axes ``batch`` maps them on.
      batch: for each leading axis of the codes, whether the labels have it too.

    Returns:
      (ID AUC, OOD AUC), each [*batch_shape] float32. When every code is
      non-negative (one decision for the whole batch) the columns are scored
      by ``_nonnegative_auc``, else by ``_sign_invariant_auc``.
    """

    def scored_by(column_auc):
        fn = functools.partial(best_column_auc, column_auc=column_auc)
        for labelled in reversed(batch):
            fn = jax.vmap(fn, in_axes=(0, 0 if labelled else None, 0, 0 if labelled else None))
        return lambda operands: fn(*operands)

    nonnegative = jnp.all(codes_id >= 0) & jnp.all(codes_ood >= 0)
    return jax.lax.cond(nonnegative, scored_by(_nonnegative_auc), scored_by(_sign_invariant_auc),
                        (codes_id, labels_id, codes_ood, labels_ood))


_best_feature_auc = jax.jit(functools.partial(batched_best_feature_auc, batch=()))


def best_feature_auc(codes_id, labels_id, codes_ood, labels_ood) -> tuple[float, float]:
    """Sign-invariant ROC-AUC of the single code column best on ID.

    Each column is scored as max(auc, 1 - auc) with tied values averaged
    (constant columns give exactly 0.5); the column with the highest ID score
    (the first one on ties) is reported on ID and on OOD. A label set with one
    class only gives 0.5.

    Args:
      codes_id: [N_id, width] float, codes of the ID (val) samples.
      labels_id: [N_id] bool.
      codes_ood: [N_ood, width] float, codes of the OOD samples.
      labels_ood: [N_ood] bool.

    Returns:
      (ID AUC, OOD AUC) of the chosen column, floats in [0.5, 1].

    References:
      Mann & Whitney 1947; Hanley & McNeil 1982 (AUC as the U statistic).
    """
    auc_id, auc_ood = _best_feature_auc(
        jnp.asarray(codes_id, jnp.float32),
        jnp.asarray(labels_id, bool),
        jnp.asarray(codes_ood, jnp.float32),
        jnp.asarray(labels_ood, bool),
    )
    return float(auc_id), float(auc_ood)
