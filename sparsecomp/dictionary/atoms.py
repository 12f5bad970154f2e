"""Atoms the dictionary learners share: initial dictionaries, updates, statistics.

Random and data-drawn initial dictionaries, the least-squares (MOD)
dictionary update, near-duplicate detection, the fraction of true atoms
found, and the replacement of unused or duplicated atoms by residuals of
badly reconstructed samples. Dictionaries are [input_dim, width] with atoms
as columns; columns are normalised by ``sparsecomp.linalg.unit_columns``.

References:
  Engan, Aase & Husoy (1999), "Method of optimal directions for frame
  design", ICASSP (the least-squares dictionary update).
  Aharon, Elad & Bruckstein (2006), "K-SVD", IEEE TSP 54(11) (replacing
  unused atoms by the worst-represented samples).
  Pali & Schnass (2018), "Dictionary learning - from local towards global and
  adaptive", arXiv 1804.07101 (replacement candidates learned from residuals).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sparsecomp.blocking import map_column_blocks
from sparsecomp.linalg import solve_positive_definite, unit_columns

# Columns compared with all atoms at a time in ``duplicated_atoms`` and
# ``atoms_found``: the [width, block] cosine block stays at 40 MB at width 10,000.
COHERENCE_BLOCK = 1024
# Column norm at or below which an updated atom counts as unused: it keeps its
# previous direction (``unit_columns(new, fallback=previous, eps=UNUSED_ATOM_NORM)``),
# since a zero atom gets a zero gradient in FISTA and could never be used again.
UNUSED_ATOM_NORM = 1e-8
# Full float32 products (no TF32 on accelerators, ~1e-3 relative): the normal
# equations' Gram matrix loses TF32's error times its condition number, and the
# duplicate and found tests compare cosines with thresholds near 1.
_HIGHEST = jax.lax.Precision.HIGHEST


def random_dictionary(key: jax.Array, input_dim: int, width: int) -> jax.Array:
    """Gaussian dictionary with unit-norm columns.

    Returns:
      [input_dim, width] float32.
    """
    return unit_columns(jax.random.normal(key, (input_dim, width), jnp.float32))


def data_dictionary(key: jax.Array, y: jax.Array, width: int) -> jax.Array:
    """Atoms drawn from the samples themselves, normalised.

    Distinct samples when there are at least ``width`` of them, else with
    repetition (then a little Gaussian noise separates the copies).

    Args:
      key: PRNG key.
      y: [batch, input_dim] float32 samples.
      width: number of atoms (static).

    Returns:
      [input_dim, width] float32 with unit-norm columns.
    """
    k_pick, k_noise = jax.random.split(key)
    batch = y.shape[0]
    atoms = y[jax.random.choice(k_pick, batch, (width,), replace=width > batch)]
    if width > batch:
        atoms = atoms + 0.01 * jax.random.normal(k_noise, atoms.shape, atoms.dtype)
    return unit_columns(atoms.T)


def least_squares_dictionary(
    y: jax.Array, codes: jax.Array, ridge: float = 1e-6
) -> jax.Array:
    """The dictionary minimising ``||Y - Z D^T||_F^2 + ridge ||D||_F^2``.

    Solves the normal equations ``(Z^T Z + ridge I) D^T = Z^T Y`` with a
    Cholesky factorisation (the matrix is symmetric positive definite), which
    is cheaper and better conditioned than forming the inverse; the method of
    optimal directions (Engan et al. 1999). Columns are not renormalised here.

    Args:
      y: [batch, input_dim] float32 observations.
      codes: [batch, width] float32.
      ridge: Tikhonov term that keeps the system definite when an atom has
        no code.

    Returns:
      [input_dim, width] float32, ``Y^T Z (Z^T Z + ridge I)^-1``.
    """
    width = codes.shape[1]
    gram = jnp.matmul(codes.T, codes, precision=_HIGHEST) + ridge * jnp.eye(width,
                                                                            dtype=codes.dtype)
    return solve_positive_definite(gram, jnp.matmul(codes.T, y, precision=_HIGHEST)).T


def duplicated_atoms(dictionary: jax.Array, threshold: float) -> jax.Array:
    """Atoms whose |cosine| with an atom of lower index exceeds ``threshold``.

    Of each near-duplicate pair the later atom is flagged, so one copy stays.
    The cosines are computed ``COHERENCE_BLOCK`` columns at a time; nothing
    width x width is formed.

    Args:
      dictionary: [input_dim, width] float32 with unit-norm columns.
      threshold: |cosine| above which two atoms count as duplicates.

    Returns:
      [width] bool.
    """
    width = dictionary.shape[1]

    def flag(atoms, start):
        cosine = jnp.abs(jnp.matmul(dictionary.T, atoms.T, precision=_HIGHEST))  # [width, block]
        earlier = jnp.arange(width)[:, None] < start + jnp.arange(atoms.shape[0])[None, :]
        return jnp.any(earlier & (cosine > threshold), axis=0)

    return map_column_blocks(flag, dictionary, COHERENCE_BLOCK)


def atoms_found(mixing: jax.Array, dictionary: jax.Array, threshold: float = 0.9) -> jax.Array:
    """Fraction of true atoms with a learned atom at |cosine| > ``threshold``.

    Each true atom's best match over all learned atoms, so two true atoms may
    share one learned atom: an upper bound of ``dict_frac_close`` (which
    matches one to one), cheap enough to log during training. Computed
    ``COHERENCE_BLOCK`` true atoms at a time.

    Args:
      mixing: [input_dim, num_latents] float32 true atoms (any norms).
      dictionary: [input_dim, width] float32 learned atoms (any norms).
      threshold: the |cosine| a match needs.

    Returns:
      [] float32 in [0, 1].
    """
    learned = unit_columns(dictionary)

    def found(truth, _):
        cosine = jnp.abs(jnp.matmul(truth, learned, precision=_HIGHEST))
        return jnp.max(cosine, axis=1) > threshold  # [block]

    flags = map_column_blocks(found, unit_columns(mixing), COHERENCE_BLOCK)
    return jnp.mean(flags, dtype=jnp.float32)


def replace_atoms(
    dictionary: jax.Array, replace: jax.Array, residuals: jax.Array
) -> jax.Array:
    """Atoms flagged in ``replace`` become the largest normalised residuals.

    The j-th flagged atom (in index order) takes the residual of the j-th
    worst-reconstructed sample, cycling when more atoms are flagged than there
    are samples.

    Args:
      dictionary: [input_dim, width] float32.
      replace: [width] bool.
      residuals: [batch, input_dim] float32, ``y - codes @ D.T`` of a batch.

    Returns:
      [input_dim, width] float32; unflagged atoms unchanged.
    """
    width = dictionary.shape[1]
    count = min(width, residuals.shape[0])
    _, worst = jax.lax.top_k(jnp.linalg.norm(residuals, axis=1), count)
    candidates = unit_columns(residuals[worst].T)  # [input_dim, count]
    rank = jnp.cumsum(replace) - 1
    return jnp.where(replace[None, :], candidates[:, rank % count], dictionary)
