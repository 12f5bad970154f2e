"""Per-seed evaluation metrics of section 4 of the protocol (arXiv 2603.28744).

Every function takes the arrays of ONE seed (numpy or JAX) and returns Python
floats or small host-side containers, so the trainer can write them straight
into ``results.jsonl``. Array math (correlation and cosine matrices, ROC ranks,
logistic regression, support counts) runs in jit-compiled JAX; Hungarian
matching (``scipy.optimize.linear_sum_assignment``) and the selection of
columns with data-dependent counts run on the host, because their output
shapes depend on the data.

Matchings wider than ``EXACT_MAX_WIDTH`` columns (the study goes to 100,000
latents) never form the dense matrix: ``sparsecomp.metrics.matching`` computes it in
row blocks, keeps the best ``candidates`` partners per column and solves the
matching on that sparse candidate graph (a lower bound on the Hungarian
optimum, equal to it whenever every optimal partner is among the candidates).

Matrix products use ``Precision.HIGHEST`` so that accelerators do not fall
back to reduced-precision (TF32/bf16) passes, which would blur correlations
near 1.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu
from scipy.optimize import linear_sum_assignment

from sparsecomp.metrics import matching

_HIGHEST = jax.lax.Precision.HIGHEST
# Ground-truth columns at or below this variance are treated as never active.
_GT_VARIANCE_THRESHOLD = 1e-8
# Mirrors scikit-learn LogisticRegression: lbfgs max_iter=100, tol=1e-4 on the
# largest absolute gradient entry of the sample-averaged log-loss.
_LOGREG_MAX_ITER = 100
_LOGREG_TOL = 1e-4
_CLOSE_COSINE = 0.9
# Matchings whose wider side has more columns than this use the sparse
# candidate path by default (a dense 4096^2 float32 matrix is 64 MiB and the
# Hungarian algorithm takes seconds; both grow as n^2 and n^3).
EXACT_MAX_WIDTH = 4096
# Partners kept per column of the narrower side on the sparse path.
CANDIDATES = 64
# On the sparse path, latents and codes with at most this fraction of non-zero
# entries find their candidates from co-occurrences (O(nnz), exact) rather
# than from the blocked N x p x q correlation products.
SPARSE_DENSITY = 0.05


def _use_exact(exact: bool | None, width: int) -> bool:
    return width <= EXACT_MAX_WIDTH if exact is None else bool(exact)


# --------------------------------------------------------------------------
# Column statistics shared by several metrics.
# --------------------------------------------------------------------------


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
      [N, d] float32; constant columns become all-zero (correlation 0, not NaN).
    """
    centred = x - _column_centre(x)
    norm = jnp.linalg.norm(centred, axis=0)
    return jnp.where(norm > 0, centred / jnp.where(norm > 0, norm, 1.0), 0.0)


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


def _as_f32(x) -> jax.Array:
    return jnp.asarray(x, jnp.float32)


# --------------------------------------------------------------------------
# Latent MCC.
# --------------------------------------------------------------------------


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
    candidates: int = CANDIDATES,
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
    than ``EXACT_MAX_WIDTH`` columns): the correlation matrix is computed in
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
        None: dense up to ``EXACT_MAX_WIDTH`` columns, sparse above.
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
    candidates: int = CANDIDATES,
) -> LatentMatching:
    """``latent_mcc`` together with its matching (same arguments).

    Pairs whose code side is a noise padding column are left out of the
    indices (they still count in ``mcc``), so the indices can select columns.
    On the sparse path the indices are the matched pairs (ascending ground-truth
    index, as on the dense path).
    """
    z_true, codes = _as_f32(z_true), _as_f32(codes)
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
    if not _use_exact(exact, width):
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


# --------------------------------------------------------------------------
# Logistic-regression probe accuracy.
# --------------------------------------------------------------------------


def _logistic_loss(params: tuple[jax.Array, jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
    """Sample-averaged log-loss; params = (weights [d], intercept []), y in {0, 1}."""
    weights, intercept = params
    logits = jnp.matmul(x, weights, precision=_HIGHEST) + intercept
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, y))


@functools.partial(jax.jit, static_argnames="max_iter")
def _fit_logistic(x: jax.Array, y: jax.Array, max_iter: int):
    """Unregularised logistic regression with intercept by L-BFGS.

    Stops after ``max_iter`` iterations or once max|gradient| <= 1e-4, like
    scikit-learn's lbfgs solver. On separable data the optimum is at infinity;
    the iteration cap keeps the weights finite, and any step that would produce
    a non-finite value is rejected and ends the loop.

    Args:
      x: [N, d] float32 features.
      y: [N] float32 in {0, 1}.
      max_iter: L-BFGS iterations (static).

    Returns:
      (weights [d], intercept []) float32.
    """
    loss = functools.partial(_logistic_loss, x=x, y=y)
    solver = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(loss)

    def keep_going(carry):
        _, state, failed = carry
        count = otu.tree_get(state, "count")
        grad_max = otu.tree_max(jax.tree.map(jnp.abs, otu.tree_get(state, "grad")))
        # The initial state holds a zero gradient, so the first step always runs.
        return ~failed & ((count == 0) | ((count < max_iter) & (grad_max > _LOGREG_TOL)))

    def step(carry):
        params, state, _ = carry
        value, grad = value_and_grad(params, state=state)
        updates, new_state = solver.update(
            grad, state, params, value=value, grad=grad, value_fn=loss
        )
        new_params = optax.apply_updates(params, updates)
        finite = jnp.all(jnp.isfinite(jnp.append(new_params[0], new_params[1])))
        params, state = jax.tree.map(
            lambda new, old: jnp.where(finite, new, old), (new_params, new_state), (params, state)
        )
        return params, state, ~finite

    params = (jnp.zeros(x.shape[1], jnp.float32), jnp.zeros((), jnp.float32))
    params, _, _ = jax.lax.while_loop(
        keep_going, step, (params, solver.init(params), jnp.array(False))
    )
    return params


@functools.partial(jax.jit, static_argnames="max_iter")
def _probe_accuracy(codes_id, labels_id, codes_ood, labels_ood, max_iter):
    # Raw codes, as the reference fits them: with an iteration cap, the scale of
    # the features is part of the definition on (near-)separable data, where
    # standardising would blow up rare features and change the OOD accuracy.
    weights, intercept = _fit_logistic(codes_id, labels_id.astype(jnp.float32), max_iter)

    def accuracy(codes, labels):
        logits = jnp.matmul(codes, weights, precision=_HIGHEST) + intercept
        return jnp.mean((logits > 0) == labels)

    return accuracy(codes_id, labels_id), accuracy(codes_ood, labels_ood)


def probe_accuracy(
    codes_id, labels_id, codes_ood, labels_ood, *, max_iter: int = _LOGREG_MAX_ITER
) -> tuple[float, float]:
    """Accuracy of an unregularised logistic regression fitted on the ID codes.

    Mirrors scikit-learn ``LogisticRegression(penalty=None)`` (lbfgs, at most
    100 iterations, gradient tolerance 1e-4), implemented with ``optax.lbfgs``
    in a ``lax.while_loop``, on the raw codes as the reference fits them (on
    separable data the iteration cap acts as an implicit regulariser, so
    rescaling the features would change the result).

    Args:
      codes_id: [N_id, width] float, codes of the ID (val) samples.
      labels_id: [N_id] bool, ID labels (``z_0 > 0.5``).
      codes_ood: [N_ood, width] float, codes of the OOD samples.
      labels_ood: [N_ood] bool, OOD labels.
      max_iter: L-BFGS iteration cap (the scikit-learn default is 100).

    Returns:
      (ID accuracy, OOD accuracy) as floats in [0, 1].
    """
    acc_id, acc_ood = _probe_accuracy(
        _as_f32(codes_id),
        jnp.asarray(labels_id, bool),
        _as_f32(codes_ood),
        jnp.asarray(labels_ood, bool),
        max_iter,
    )
    return float(acc_id), float(acc_ood)


# --------------------------------------------------------------------------
# Best single-feature AUC.
# --------------------------------------------------------------------------


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

    The blocks (``AUC_BLOCK_ENTRIES`` entries each) bound the sort's memory;
    the last block is shifted back to end at the last column and overlaps
    the one before it, which scores those columns twice, identically.

    Args:
      codes: [N, width] float32.
      labels: [N] bool.

    Returns:
      [width] float32.
    """
    n, width = codes.shape
    block = max(1, min(width, AUC_BLOCK_ENTRIES // max(n, 1)))
    starts = jnp.minimum(jnp.arange(0, width, block), width - block)

    def score(out, start):
        columns = jax.lax.dynamic_slice_in_dim(codes, start, block, axis=1)
        aucs = jax.vmap(_sign_invariant_auc, in_axes=(1, None))(columns, labels)
        return jax.lax.dynamic_update_slice_in_dim(out, aucs, start, axis=0), None

    return jax.lax.scan(score, jnp.zeros(width, jnp.float32), starts)[0]


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
        _as_f32(codes_id),
        jnp.asarray(labels_id, bool),
        _as_f32(codes_ood),
        jnp.asarray(labels_ood, bool),
    )
    return float(auc_id), float(auc_ood)


# --------------------------------------------------------------------------
# Dictionary match.
# --------------------------------------------------------------------------


class DictionaryMatch(NamedTuple):
    """How well learned atoms match the true ones after Hungarian matching."""

    mean_cosine: float  # mean |cos| over matched pairs
    mean_angular_error: float  # mean angle (radians, in [0, pi/2]) over matched pairs
    mean_norm_ratio: float  # mean ||learned atom|| / ||true atom|| over matched pairs
    frac_close: float  # fraction of matched pairs with |cos| > 0.9
    true_index: np.ndarray  # [min(n, w)] int, matched true columns (ascending)
    learned_index: np.ndarray  # [min(n, w)] int, their learned partners


def _unit_columns(d: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Columns scaled to unit norm (zero columns stay zero) and their norms.

    Args:
      d: [m, w] float32.

    Returns:
      ([m, w] float32, [w] float32).
    """
    norm = jnp.linalg.norm(d, axis=0)
    return d / jnp.where(norm > 0, norm, 1.0), norm


@jax.jit
def _unit_atoms(d: jax.Array) -> jax.Array:
    """Columns scaled to unit norm (zero columns stay zero): [m, w] -> [m, w]."""
    return _unit_columns(d)[0]


@jax.jit
def _abs_cosine(true_dict: jax.Array, learned_dict: jax.Array) -> jax.Array:
    """|cos| between all true and learned atoms: [m, n], [m, w] -> [n, w]."""
    return jnp.abs(
        jnp.matmul(
            _unit_columns(true_dict)[0].T, _unit_columns(learned_dict)[0], precision=_HIGHEST
        )
    )


@jax.jit
def _matched_pair_stats(true_dict, learned_dict, true_index, learned_index):
    """Cosine, angle and norm ratio of the matched pairs, averaged.

    The angle uses 2 atan2(||u - s v||, ||u + s v||) (s = sign of the cosine)
    instead of arccos(|cos|): arccos loses about half the digits near 1, which
    in float32 would put a floor of ~3e-4 rad under a perfect match.
    """
    true_unit, true_norm = _unit_columns(true_dict[:, true_index])
    learned_unit, learned_norm = _unit_columns(learned_dict[:, learned_index])
    cos = jnp.sum(true_unit * learned_unit, axis=0)
    aligned = learned_unit * jnp.where(cos < 0, -1.0, 1.0)
    angle = 2 * jnp.arctan2(
        jnp.linalg.norm(true_unit - aligned, axis=0), jnp.linalg.norm(true_unit + aligned, axis=0)
    )
    # A zero atom has no direction: count it as orthogonal.
    angle = jnp.where((true_norm > 0) & (learned_norm > 0), angle, jnp.pi / 2)
    abs_cos = jnp.abs(cos)
    return (
        jnp.mean(abs_cos),
        jnp.mean(angle),
        jnp.mean(learned_norm / true_norm),
        jnp.mean(abs_cos > _CLOSE_COSINE),
    )


def dictionary_match(
    true_dict, learned_dict, *, exact: bool | None = None, candidates: int = CANDIDATES
) -> DictionaryMatch:
    """Matches learned atoms to true atoms by absolute cosine.

    Atoms are columns. The |cos| matrix of the unit-normalised columns is
    computed in JAX; the one-to-one matching of maximal total |cos| is found on
    the host with ``scipy.optimize.linear_sum_assignment`` (rectangular
    allowed: min(n, width) pairs). Signs do not matter.

    Sparse path (``exact=False``, the default above ``EXACT_MAX_WIDTH`` atoms
    on the wider side): the |cos| matrix is computed in row blocks, the
    ``candidates`` best partners of every atom of the narrower dictionary are
    kept and the matching is solved on them (``sparsecomp.metrics.matching``); nothing
    n x width is formed. It still has min(n, width) pairs, and all statistics
    below are computed from its pairs exactly as on the dense path. Its mean
    cosine is a lower bound on the Hungarian one (a feasible matching) and
    equal to it whenever the optimal partner of every atom is among its
    candidates.

    Args:
      true_dict: [input_dim, num_latents] float, e.g. the mixing matrix A.
      learned_dict: [input_dim, width] float, a learned decoder / dictionary.
      exact: True: dense Hungarian matching; False: sparse candidate matching;
        None: dense up to ``EXACT_MAX_WIDTH`` atoms, sparse above.
      candidates: partners kept per atom on the sparse path.

    Returns:
      A ``DictionaryMatch``; ``mean_norm_ratio`` is inf if a matched true atom
      is zero. A learned dictionary equal to the true one is matched to it by
      the identity without any search.
    """
    true_dict, learned_dict = _as_f32(true_dict), _as_f32(learned_dict)
    if true_dict.shape == learned_dict.shape and bool(jnp.array_equal(true_dict, learned_dict)):
        # The true dictionary itself (fista_oracle): every pair has |cos| = 1,
        # the most possible, so the identity is an optimal matching (at any n).
        true_index = learned_index = np.arange(true_dict.shape[1])
    elif _use_exact(exact, max(true_dict.shape[1], learned_dict.shape[1])):
        true_index, learned_index = linear_sum_assignment(
            np.asarray(_abs_cosine(true_dict, learned_dict)), maximize=True
        )
    else:
        match = matching.max_abs_dot_matching(
            _unit_atoms(true_dict), _unit_atoms(learned_dict), candidates=candidates
        )
        true_index, learned_index = match.rows, match.cols
    stats = _matched_pair_stats(true_dict, learned_dict, true_index, learned_index)
    return DictionaryMatch(*(float(s) for s in stats), true_index, learned_index)


# --------------------------------------------------------------------------
# Support recovery and reconstruction.
# --------------------------------------------------------------------------


# Entries of the matched columns compared at once by ``support_recovery``.
SUPPORT_BLOCK_ENTRIES = 2**24


@functools.partial(jax.jit, static_argnames="batch_size")
def _support_recovery(z_true, codes, true_index, code_index, threshold, batch_size):
    def counts(sample):  # one sample's matched columns, gathered where they are compared
        z_row, code_row = sample
        true_support = jnp.abs(z_row[true_index]) > threshold
        pred_support = jnp.abs(code_row[code_index]) > threshold
        return tuple(jnp.sum(s).astype(jnp.float32) for s in
                     (true_support & pred_support, true_support, pred_support))

    # Samples in batches: the gathered [batch, P] columns stay small at any width.
    hits, n_true, n_pred = jax.lax.map(counts, (z_true, codes), batch_size=batch_size)

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
    stats = _support_recovery(_as_f32(z_true), _as_f32(codes), jnp.asarray(true_index),
                              jnp.asarray(code_index), threshold, batch_size)
    return {name: float(value) for name, value in stats.items()}


@jax.jit
def _reconstruction(y, codes, dictionary, bias, l0_threshold):
    y_hat = jnp.matmul(codes, dictionary.T, precision=_HIGHEST) + bias
    mse = jnp.mean(jnp.square(y - y_hat))
    l0 = jnp.mean(jnp.sum(jnp.abs(codes) > l0_threshold, axis=1))
    return mse, l0


def reconstruction(
    y, codes, dictionary, bias=None, *, l0_threshold: float = 0.01
) -> tuple[float, float]:
    """Reconstruction error and code density.

    ``y_hat = codes @ dictionary.T + bias``.

    Args:
      y: [N, input_dim] float, observations.
      codes: [N, width] float.
      dictionary: [input_dim, width] float, atoms are columns.
      bias: [input_dim] float decoder bias, or None for zero.
      l0_threshold: a code counts as active when |code| > this.

    Returns:
      (MSE averaged over samples and features, mean active codes per sample).
    """
    dictionary = _as_f32(dictionary)
    bias = jnp.zeros(dictionary.shape[0], jnp.float32) if bias is None else _as_f32(bias)
    mse, l0 = _reconstruction(_as_f32(y), _as_f32(codes), dictionary, bias, l0_threshold)
    return float(mse), float(l0)
