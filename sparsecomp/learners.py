"""Parts the dictionary learners of the scaling study share.

Initial atoms drawn from the data, the replacement of unused or duplicated
atoms by residuals of badly reconstructed samples, and the ``MethodOutput`` of
a learner that fits ``D`` on the ID training half and codes val and OOD with
FISTA on it. Used by ``dl_fista``'s options (``sparsecomp.dictionary_learning``),
``itkrm`` (``sparsecomp.itkrm``) and ``dl_online``
(``sparsecomp.online_dictionary``).

References:
  Aharon, Elad & Bruckstein (2006), "K-SVD", IEEE TSP 54(11) (replacing
  unused atoms by the worst-represented samples).
  Pali & Schnass (2018), "Dictionary learning - from local towards global and
  adaptive", arXiv 1804.07101 (replacement candidates learned from residuals).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from sparsecomp.blocking import map_column_blocks
from sparsecomp.coding.fista import fista
from sparsecomp.data import DataSpec
from sparsecomp.linalg import unit_columns
from sparsecomp.methods.registry import MethodOutput

# Columns compared with all atoms at a time in ``duplicated_atoms`` and
# ``atoms_found``: the [width, block] cosine block stays at 40 MB at width 10,000.
COHERENCE_BLOCK = 1024


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
        cosine = jnp.abs(dictionary.T @ atoms.T)  # [width, block]
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
        return jnp.max(jnp.abs(truth @ learned), axis=1) > threshold  # [block]

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
    norms = jnp.linalg.norm(residuals, axis=1)
    count = min(width, residuals.shape[0])
    _, worst = jax.lax.top_k(norms, count)
    candidates = residuals[worst] / jnp.maximum(norms[worst], 1e-12)[:, None]  # [count, m]
    rank = jnp.cumsum(replace) - 1
    return jnp.where(replace[None, :], candidates[rank % count].T, dictionary)


def learner_output(
    dictionary: jax.Array, data, spec: DataSpec, *, lam: float, n_iter: int,
    samples_seen: int, scalars: dict | None = None, curves: dict | None = None,
) -> MethodOutput:
    """A learned dictionary's row: FISTA codes of val and OOD, sample tags.

    Args:
      dictionary: [input_dim, width] float32 learned from ID training samples.
      data: the seed's ``Dataset``.
      spec: the sweep point.
      lam, n_iter: FISTA's L1 weight and iterations for the val/OOD codes.
      samples_seen: training samples the learner used (static).
      scalars: extra row fields.
      curves: training curves (``step`` first).

    Returns:
      A ``MethodOutput`` whose scalars hold ``samples_seen`` and
      ``samples_per_atom = samples_seen * k / num_latents`` besides ``scalars``.
    """
    codes = fista(jnp.concatenate([data.y_val, data.y_ood]), dictionary, lam, n_iter=n_iter)
    codes_val, codes_ood = jnp.split(codes, [data.y_val.shape[0]])
    return MethodOutput(
        codes_val=codes_val,
        codes_ood=codes_ood,
        dictionary=dictionary,
        params={"dictionary": dictionary},
        scalars={**sample_tags(spec, samples_seen), **(scalars or {})},
        curves=curves,
    )


def sample_tags(spec: DataSpec, samples_seen: int) -> dict[str, jax.Array]:
    """``samples_seen`` and ``samples_per_atom`` (= samples_seen * k / n) as row scalars."""
    return {
        "samples_seen": jnp.asarray(samples_seen, jnp.int32),
        "samples_per_atom": jnp.asarray(samples_seen * spec.k / spec.num_latents, jnp.float32),
    }
