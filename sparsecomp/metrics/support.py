"""Support recovery: per-sample precision, recall and F1 of the matched codes' support.

The row fields ``support_*`` (protocol section 4), counted in jit-compiled
JAX over blocks of samples (``sparsecomp.blocking.map_rows``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sparsecomp.blocking import map_rows

# Entries of the matched columns compared at once by ``support_recovery``.
SUPPORT_BLOCK_ENTRIES = 2**24


def _support_stats(z_true, codes, true_index, code_index, threshold, batch_size, mask=None):
    """``support_recovery``'s fields as [] float32; ``mask`` [P] bool drops padding pairs."""

    def counts(sample):  # one sample's matched columns, gathered where they are compared
        z_row, code_row = sample
        true_support = jnp.abs(z_row[true_index]) > threshold
        pred_support = jnp.abs(code_row[code_index]) > threshold
        if mask is not None:
            true_support, pred_support = true_support & mask, pred_support & mask
        return tuple(jnp.sum(s).astype(jnp.float32) for s in
                     (true_support & pred_support, true_support, pred_support))

    # Samples in batches: the gathered [batch, P] columns stay small at any width.
    hits, n_true, n_pred = map_rows(jax.vmap(counts), (z_true, codes), batch_size)

    def ratio(num, den):
        return jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0), 0.0)

    precision = ratio(hits, n_pred)
    recall = ratio(hits, n_true)
    return {
        "support_precision": jnp.mean(precision),
        "support_recall": jnp.mean(recall),
        "support_f1": jnp.mean(ratio(2 * precision * recall, precision + recall)),
        "support_true_l0": jnp.mean(n_true),
        "support_pred_l0": jnp.mean(n_pred),
    }


_support_recovery = jax.jit(_support_stats, static_argnames="batch_size")


def _support_counts(z_true, codes, true_index, code_index, threshold, mask):
    """``_support_stats`` of [P] index pairs, padding pairs masked (traceable, vmappable)."""
    batch_size = max(1, SUPPORT_BLOCK_ENTRIES // max(true_index.shape[0], 1))
    return _support_stats(z_true, codes, true_index, code_index, threshold, batch_size, mask)


def support_recovery(
    z_true, codes, true_index, code_index, *, threshold: float = 1e-4
) -> dict[str, float]:
    """Per-sample precision, recall and F1 of the matched codes' support.

    Column ``code_index[j]`` of ``codes`` is compared with column
    ``true_index[j]`` of ``z_true`` (e.g. the ``DictionaryMatch`` indices);
    support means |value| > ``threshold``. Per sample: precision = hits /
    predicted (0 if nothing is predicted), recall = hits / true (0 if nothing
    is true), F1 = harmonic mean (0 if both are 0); then averaged over samples.

    Args:
      z_true: [N, num_latents] float, ground-truth codes.
      codes: [N, width] float, a method's codes for the same samples.
      true_index: [P] int, matched ground-truth columns.
      code_index: [P] int, their matched code columns.
      threshold: support threshold on |value|.

    Returns:
      Floats ``support_precision``, ``support_recall``, ``support_f1`` and the
      mean numbers of supported matched entries per sample, ``support_true_l0``
      and ``support_pred_l0``.
    """
    batch_size = max(1, SUPPORT_BLOCK_ENTRIES // max(len(true_index), 1))
    stats = _support_recovery(jnp.asarray(z_true, jnp.float32), jnp.asarray(codes, jnp.float32),
                              jnp.asarray(true_index),
                              jnp.asarray(code_index), threshold, batch_size)
    return {name: float(value) for name, value in stats.items()}
