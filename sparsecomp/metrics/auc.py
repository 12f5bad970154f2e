"""Best single-feature AUC: the sign-invariant ROC-AUC of the code column best on ID.

The metric ``auc_iid`` / ``auc_ood`` (protocol section 4), by Mann-Whitney
ranks in jit-compiled JAX, column blocks bounding the sort's memory.
"""

from __future__ import annotations

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
    n = scores.shape[0]
    ordered = jnp.sort(scores)
    below = jnp.searchsorted(ordered, scores, side="left")
    below_or_tied = jnp.searchsorted(ordered, scores, side="right")
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


def _column_aucs(codes: jax.Array, labels: jax.Array) -> jax.Array:
    """``_sign_invariant_auc`` of every column, in blocks of columns.

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
        return jax.vmap(_sign_invariant_auc, in_axes=(0, None))(columns, labels)

    return map_column_blocks(score, codes, block)


@jax.jit
def _best_feature_auc(codes_id, labels_id, codes_ood, labels_ood):
    aucs_id = _column_aucs(codes_id, labels_id)
    best = jnp.argmax(aucs_id)
    return aucs_id[best], _sign_invariant_auc(codes_ood[:, best], labels_ood)


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
