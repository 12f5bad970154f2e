"""ITKrM: iterative thresholding and K residual means, with atom replacement.

Each iteration thresholds every sample to the ``S`` atoms of largest
``|<d_j, y>|`` (``S = k``, the data's sparsity), projects the sample onto
their span and moves each selected atom to the signed mean of what it
explains: ``d_j <- sum_n sign(<d_j, y_n>) (y_n - P_n y_n + <d_j, y_n> d_j)``
over the samples that selected it, then normalises. No inner FISTA loop: an
iteration costs one ``[batch, n]`` correlation, a top-``S`` and ``S x S``
solves. Atoms that no sample selected, and the later atom of every
near-duplicate pair, are replaced by normalised residuals of the
worst-reconstructed samples (``atoms.replace_atoms``).

``itkrm_batch`` passes over a fixed sample set every iteration;
``itkrm_stream`` draws a fresh batch from a sampler every iteration, the
setting of Schnass's convergence analysis, so the samples it sees are
limited by time, not memory. Their methods (``itkrm``, ``itkrm_stream``) are
in ``sparsecomp.methods.itkrm``.

References:
  Schnass (2015), "Convergence radius and sample complexity of ITKM
  algorithms for dictionary learning", ACHA 45(1), arXiv 1503.07027.
  Pali & Schnass (2018), "Dictionary learning - from local towards global
  and adaptive", arXiv 1804.07101 (replacement of atoms).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from sparsecomp.dictionary.atoms import (
    UNUSED_ATOM_NORM,
    data_dictionary,
    duplicated_atoms,
    replace_atoms,
)
from sparsecomp.linalg import unit_columns

# Samples thresholded at a time: bounds the [block, width] correlations.
ITKRM_BLOCK_ENTRIES = 2**24
# Full float32 products (no TF32 on accelerators, ~1e-3 relative): each sample's
# atoms are a top-S of correlations, and its projection solves a Gram system.
_HIGHEST = jax.lax.Precision.HIGHEST


class ResidualMeans(NamedTuple):
    """What one pass over samples accumulates for the atom update."""

    atoms: jax.Array  # [width, input_dim] float32, unnormalised new atoms (rows)
    usage: jax.Array  # [width] int32, samples that selected each atom
    residuals: jax.Array  # [block, input_dim] float32, residuals of the last block


def residual_means(y: jax.Array, dictionary: jax.Array, sparsity: int) -> ResidualMeans:
    """One ITKrM accumulation over a block of samples.

    Args:
      y: [batch, input_dim] float32 samples; all-zero rows (padding) select
        atoms but add nothing and are not counted in ``usage``.
      dictionary: [input_dim, width] float32, unit-norm columns.
      sparsity: atoms selected per sample (static).

    Returns:
      ``ResidualMeans`` of this block (``residuals`` = ``y - P y``).
    """
    width = dictionary.shape[1]
    correlation = jnp.matmul(y, dictionary, precision=_HIGHEST)  # [batch, width]
    _, selected = jax.lax.top_k(jnp.abs(correlation), sparsity)  # [batch, S]
    atoms = dictionary.T[selected]  # [batch, S, input_dim]
    inner = jnp.take_along_axis(correlation, selected, axis=1)  # [batch, S]
    gram = jnp.einsum("bsm,btm->bst", atoms, atoms, precision=_HIGHEST) + 1e-6 * jnp.eye(
        sparsity)
    coefs = jnp.linalg.solve(gram, inner[..., None])[..., 0]  # [batch, S]
    residual = y - jnp.einsum("bsm,bs->bm", atoms, coefs, precision=_HIGHEST)  # y - P y
    contribution = (jnp.sign(inner)[..., None] * residual[:, None, :]
                    + jnp.abs(inner)[..., None] * atoms)  # [batch, S, input_dim]
    flat = selected.reshape(-1)
    new_atoms = jnp.zeros((width, y.shape[1]), y.dtype).at[flat].add(
        contribution.reshape(flat.shape[0], -1))
    real = jnp.any(y != 0, axis=1)  # [batch]
    usage = jnp.zeros((width,), jnp.int32).at[flat].add(
        jnp.repeat(real.astype(jnp.int32), sparsity))
    return ResidualMeans(new_atoms, usage, residual)


def itkrm_update(
    means: ResidualMeans, dictionary: jax.Array, duplicate_cosine: float
) -> tuple[jax.Array, jax.Array]:
    """The new dictionary from accumulated residual means, with replacements.

    A (numerically) zero new atom keeps its previous direction; the atoms no
    sample selected and the later atom of every near-duplicate pair are then
    replaced by residuals of the last block (``atoms.replace_atoms``).

    Args:
      means: the residual means accumulated over all samples of an iteration.
      dictionary: [input_dim, width] float32 atoms they were computed with.
      duplicate_cosine: |cosine| above which the later atom of a pair is replaced.

    Returns:
      ``(dictionary [input_dim, width] float32 unit-norm, n_replaced [] int32)``.
    """
    new = unit_columns(means.atoms.T, fallback=dictionary, eps=UNUSED_ATOM_NORM)
    replace = (means.usage == 0) | duplicated_atoms(new, duplicate_cosine)
    return replace_atoms(new, replace, means.residuals), jnp.sum(replace, dtype=jnp.int32)


def _block_rows(n: int, width: int) -> int:
    """Samples per ``residual_means`` block: [rows, width] <= ITKRM_BLOCK_ENTRIES, rows <= n."""
    return max(1, min(n, ITKRM_BLOCK_ENTRIES // width))


def itkrm_batch(
    key: jax.Array, y: jax.Array, width: int, *, sparsity: int, n_iter: int,
    duplicate_cosine: float,
) -> tuple[jax.Array, jax.Array]:
    """ITKrM over a fixed sample set, ``n_iter`` full passes.

    Args:
      key: PRNG key of the initial atoms (drawn from ``y``).
      y: [n, input_dim] float32 training samples; the last block of a pass
        is the trailing ``n mod block`` samples, zero-padded (padding rows
        select atoms with zero correlation and add nothing).
      width: atoms (static).
      sparsity: atoms selected per sample (static; the data's ``k``).
      n_iter: passes over ``y`` (static).
      duplicate_cosine: |cosine| above which the later atom of a pair is replaced.

    Returns:
      ``(dictionary [input_dim, width] float32, n_replaced [] int32)``.
    """
    n, input_dim = y.shape
    rows = _block_rows(n, width)
    blocks = -(-n // rows)
    blocked = jnp.pad(y, ((0, blocks * rows - n), (0, 0))).reshape(blocks, rows, input_dim)

    def one_pass(carry, _):
        d, replaced = carry

        def accumulate(total, block):
            means = residual_means(block, d, sparsity)
            return ResidualMeans(total.atoms + means.atoms, total.usage + means.usage,
                                 means.residuals), None

        zero = ResidualMeans(jnp.zeros((width, input_dim)), jnp.zeros((width,), jnp.int32),
                             jnp.zeros((rows, input_dim)))
        means, _ = jax.lax.scan(accumulate, zero, blocked)
        d, count = itkrm_update(means, d, duplicate_cosine)
        return (d, replaced + count), None

    d0 = data_dictionary(key, y, width)
    (d, replaced), _ = jax.lax.scan(one_pass, (d0, jnp.zeros((), jnp.int32)), None,
                                    length=n_iter)
    return d, replaced


def itkrm_stream(
    key: jax.Array, sample: Callable[[jax.Array, int], jax.Array], width: int, *,
    sparsity: int, batch_size: int, n_iter: int, duplicate_cosine: float,
) -> tuple[jax.Array, jax.Array]:
    """ITKrM with a fresh batch of ``batch_size`` samples every iteration.

    Args:
      key: PRNG key of the stream and the initial atoms.
      sample: ``sample(key, n)`` draws [n, input_dim] float32 fresh samples
        (e.g. ``sparsecomp.data.sample_observations`` of a mixing matrix).
      width: atoms (static).
      sparsity: atoms selected per sample (static; the data's ``k``).
      batch_size: samples per iteration (static).
      n_iter: iterations (static).
      duplicate_cosine: |cosine| above which the later atom of a pair is replaced.

    Returns:
      ``(dictionary [input_dim, width] float32, n_replaced [] int32)``; it
      drew ``width`` samples for the initial atoms and ``n_iter *
      batch_size`` for the iterations.
    """
    k_draw, k_pick, k_stream = jax.random.split(key, 3)
    d0 = data_dictionary(k_pick, sample(k_draw, width), width)

    def iteration(carry, step_key):
        d, replaced = carry
        y = sample(step_key, batch_size)
        d, count = itkrm_update(residual_means(y, d, sparsity), d, duplicate_cosine)
        return (d, replaced + count), None

    (d, replaced), _ = jax.lax.scan(iteration, (d0, jnp.zeros((), jnp.int32)),
                                    jax.random.split(k_stream, n_iter))
    return d, replaced
