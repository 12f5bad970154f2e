"""Latent MCC: ground-truth latents matched one to one with code columns by |correlation|.

Every column is centred and scaled to unit norm (``sparsecomp.linalg.unit_columns``),
the absolute Pearson correlations are computed in jit-compiled JAX and the
matching of maximal total |correlation| is found on the host: by the
Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) up to
``matching.EXACT_MAX_WIDTH`` columns, above it on a sparse candidate graph
(``sparsecomp.metrics.matching``), because the dense matrix is out of reach
at the study's 100,000 latents.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import linear_sum_assignment

from sparsecomp.linalg import unit_columns
from sparsecomp.metrics import matching

_HIGHEST = jax.lax.Precision.HIGHEST
# Ground-truth columns at or below this variance are treated as never active.
_GT_VARIANCE_THRESHOLD = 1e-8
# On the sparse path, latents and codes with at most this fraction of non-zero
# entries find their candidates from co-occurrences (O(nnz), exact) rather
# than from the blocked N x p x q correlation products.
SPARSE_DENSITY = 0.05


def _column_centre(x: jax.Array) -> jax.Array:
    """Per-column mean, exact for constant columns.

    Subtracting the first row before averaging makes a constant column exactly
    zero, so its mean is exactly its value; a plain float32 mean can be off by
    an ulp, which normalisation would then amplify into a unit-norm noise column.

    Args:
      x: [N, d] float32.

    Returns:
      [d] float32.
    """
    return x[0] + jnp.mean(x - x[0], axis=0)


def _unit_centred_columns(x: jax.Array) -> jax.Array:
    """Centres every column and scales it to unit L2 norm.

    Args:
      x: [N, d] float32.

    Returns:
      [N, d] float32; constant columns (and columns holding a NaN) become
      all-zero (correlation 0, not NaN).
    """
    centred = x - _column_centre(x)
    return unit_columns(centred, fallback=jnp.zeros_like(centred), eps=0.0)


_unit_centred_columns_jit = jax.jit(_unit_centred_columns)


@jax.jit
def _unit_centred_subset(x: jax.Array, columns: jax.Array) -> jax.Array:
    """``_unit_centred_columns(x[:, columns])``: [N, d], [c] int -> [N, c] float32."""
    return _unit_centred_columns(x[:, columns])


@jax.jit
def _column_variance(x: jax.Array) -> jax.Array:
    """Population variance of every column. x: [N, d] -> [d] float32."""
    return jnp.mean(jnp.square(x - _column_centre(x)), axis=0)


def _density(x: np.ndarray) -> float:
    """Fraction of non-zero entries of x (any shape)."""
    return np.count_nonzero(x) / max(x.size, 1)


@jax.jit
def _abs_correlation(a: jax.Array, b: jax.Array) -> jax.Array:
    """Absolute Pearson correlation between the columns of a and b.

    Args:
      a: [N, p] float32.
      b: [N, q] float32.

    Returns:
      [p, q] float32 in [0, 1]; entries involving a constant column are 0.
    """
    return jnp.abs(
        jnp.matmul(_unit_centred_columns(a).T, _unit_centred_columns(b), precision=_HIGHEST)
    )


def _pad_with_noise(x: jax.Array, width: int, pad_seed: int) -> jax.Array:
    """Appends standard-normal columns (numpy seed ``pad_seed``) up to ``width``.

    Args:
      x: [N, d] float32 with d <= width.
      width: target number of columns.
      pad_seed: seed of ``np.random.default_rng``; fixed so results are reproducible.

    Returns:
      [N, width] float32.
    """
    missing = width - x.shape[1]
    if missing <= 0:
        return x
    noise = np.random.default_rng(pad_seed).standard_normal((x.shape[0], missing))
    return jnp.concatenate([x, jnp.asarray(noise, jnp.float32)], axis=1)


def latent_mcc(
    z_true,
    codes,
    *,
    ood: bool,
    pad_seed: int = 0,
    exact: bool | None = None,
    candidates: int = matching.CANDIDATES,
) -> float:
    """Mean matched absolute correlation between ground-truth latents and codes.

    Every column of both sides is centred and L2-normalised, the absolute
    Pearson correlation matrix is computed (in JAX) and the one-to-one matching
    of maximal total |correlation| is found with the Hungarian algorithm
    (``scipy.optimize.linear_sum_assignment``, on the host). Only ground-truth
    columns with variance > 1e-8 on these samples take part.

    * ID (``ood=False``): the kept ground-truth columns against all code columns.
    * OOD (``ood=True``): the kept ground-truth columns against the same number
      of code columns, those with the largest variance on these samples.

    If the two sides differ in width, the narrower one is padded with
    standard-normal noise columns drawn from ``np.random.default_rng(pad_seed)``.

    Sparse path (``exact=False``; the default when the wider side, after the
    never-active latents are dropped and the OOD columns selected, has more
    than ``matching.EXACT_MAX_WIDTH`` columns): the correlation matrix is computed in
    row blocks of bounded memory, only the ``candidates`` best partners of each
    column of the narrower side are kept, and the matching is solved on them
    (``sparsecomp.metrics.matching``); nothing n x n is formed. Its matching is a
    feasible one, so its MCC is a lower bound on the Hungarian MCC of the same
    problem, and equal to it whenever the optimal partner of every latent is
    among its candidates. That holds for recovered latents; a latent matched
    only at noise level (|corr| ~ 1/sqrt(N)) can have its optimal partner far
    down its list: with 32 candidates, partially recovered codes at n = 1000
    lost ~1e-5 of MCC; 64 (the default, at about the same cost) reached the
    optimum in every case we compared (raise ``candidates`` to check a result).
    When latents and codes are both sparse (at most ``SPARSE_DENSITY`` of
    their entries non-zero, as for a sparse solver's codes) and no padding is
    needed, the candidates come from the co-occurrences of non-zero entries
    (``matching.correlation_candidates``: the same candidates in O(nnz)
    instead of O(N n^2); 11 s for the ID MCC at n = 100,000, N = 1250).
    Padding on the sparse path: codes narrower than the kept latents are padded
    with the same noise columns as on the dense path (an [N, missing] array,
    not n x n), so latents matched to noise count as they do there. Noise rows
    padding a narrower ground truth are not materialised: they never count in
    the MCC but compete for code columns on the dense path, so leaving them
    out can only raise the MCC, by at most their summed noise correlations
    (O(1/sqrt(N)) per padded row; +1.5e-4 at N = 400 with 550 of 1500 rows
    padded). With equal widths (always the case for OOD when the codes are at
    least as wide as the kept latents) the problems are identical.

    Args:
      z_true: [N, num_latents] float, ground-truth codes of one seed.
      codes: [N, width] float, a method's codes for the same samples.
      ood: selects the OOD protocol (top-variance code columns).
      pad_seed: seed of the noise padding.
      exact: True: dense Hungarian matching; False: sparse candidate matching;
        None: dense up to ``matching.EXACT_MAX_WIDTH`` columns, sparse above.
      candidates: partners kept per column on the sparse path.

    Returns:
      Mean |correlation| over the matched kept ground-truth columns, in [0, 1];
      NaN if no ground-truth column varies.

    References:
      Hyvarinen & Morioka 2016 (MCC for identifiability); protocol section 4.
    """
    return latent_matching(
        z_true, codes, ood=ood, pad_seed=pad_seed, exact=exact, candidates=candidates
    ).mcc


class LatentMatching(NamedTuple):
    """The MCC's one-to-one matching of ground-truth latents to code columns."""

    mcc: float  # mean matched |correlation| (NaN if no latent varies)
    true_index: np.ndarray  # [P] int, matched ground-truth columns
    code_index: np.ndarray  # [P] int, their code columns (real, not padding)


def latent_matching(
    z_true,
    codes,
    *,
    ood: bool,
    pad_seed: int = 0,
    exact: bool | None = None,
    candidates: int = matching.CANDIDATES,
) -> LatentMatching:
    """``latent_mcc`` together with its matching (same arguments).

    Pairs whose code side is a noise padding column are left out of the
    indices (they still count in ``mcc``), so the indices can select columns.
    On the sparse path the indices are the matched pairs (ascending ground-truth
    index, as on the dense path).
    """
    z_true, codes = jnp.asarray(z_true, jnp.float32), jnp.asarray(codes, jnp.float32)
    kept = np.flatnonzero(np.asarray(_column_variance(z_true)) > _GT_VARIANCE_THRESHOLD)
    if kept.size == 0:
        empty = np.zeros((0,), np.int64)
        return LatentMatching(float("nan"), empty, empty)
    code_columns = np.arange(codes.shape[1])
    if ood:
        num_selected = min(kept.size, codes.shape[1])
        _, top = jax.lax.top_k(_column_variance(codes), num_selected)
        code_columns = np.asarray(top)
    width = max(kept.size, code_columns.size)
    if not matching.use_exact(exact, width):
        codes_unit = (_unit_centred_subset(codes, jnp.asarray(code_columns)) if ood
                      else _unit_centred_columns_jit(codes))
        if code_columns.size < kept.size:
            # The dense path's noise columns: latents matched to them count there too.
            noise = _pad_with_noise(codes[:, :0], width - code_columns.size, pad_seed)
            codes_unit = jnp.concatenate([codes_unit, _unit_centred_columns(noise)], axis=1)
        first = None
        if code_columns.size >= kept.size:  # no noise padding: candidates may come
            z_kept = np.asarray(z_true)[:, kept]  # from co-occurrences (on the host)
            codes_kept = np.asarray(codes)[:, code_columns] if ood else np.asarray(codes)
            if max(_density(z_kept), _density(codes_kept)) <= SPARSE_DENSITY:
                first = matching.correlation_candidates(
                    z_kept, codes_kept, min(candidates, code_columns.size))
        match = matching.max_abs_dot_matching(
            _unit_centred_subset(z_true, jnp.asarray(kept)), codes_unit, candidates=candidates,
            first_candidates=first)
        mcc = float(np.mean(match.weights, dtype=np.float64))
        real = match.cols < code_columns.size
        return LatentMatching(mcc, kept[match.rows[real]], code_columns[match.cols[real]])
    z_kept = z_true[:, kept]
    if ood:
        codes = codes[:, code_columns]
    corr = _abs_correlation(
        _pad_with_noise(z_kept, width, pad_seed), _pad_with_noise(codes, width, pad_seed)
    )
    rows, cols = linear_sum_assignment(np.asarray(corr), maximize=True)
    real = rows < kept.size  # padded ground-truth rows do not count
    mcc = float(np.asarray(corr)[rows[real], cols[real]].mean())
    pairs = real & (cols < codes.shape[1])
    return LatentMatching(mcc, kept[rows[pairs]], code_columns[cols[pairs]])
