"""Dictionary match: learned atoms matched one to one with the true atoms by |cosine|.

The row fields ``dict_*`` (protocol section 4). Atoms are scaled to unit norm
(``sparsecomp.linalg.unit_columns``); the |cos| matrix is computed in
jit-compiled JAX and matched on the host, densely (Hungarian) up to
``matching.EXACT_MAX_WIDTH`` atoms and on a sparse candidate graph above.
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
_CLOSE_COSINE = 0.9


class DictionaryMatch(NamedTuple):
    """How well learned atoms match the true ones after Hungarian matching."""

    mean_cosine: float  # mean |cos| over matched pairs
    mean_angular_error: float  # mean angle (radians, in [0, pi/2]) over matched pairs
    mean_norm_ratio: float  # mean ||learned atom|| / ||true atom|| over matched pairs
    frac_close: float  # fraction of matched pairs with |cos| > 0.9
    true_index: np.ndarray  # [min(n, w)] int, matched true columns (ascending)
    learned_index: np.ndarray  # [min(n, w)] int, their learned partners


@jax.jit
def _unit_atoms(d: jax.Array) -> jax.Array:
    """Columns scaled to unit norm (zero columns stay zero): [m, w] -> [m, w]."""
    return unit_columns(d, eps=0.0)


@jax.jit
def _abs_cosine(true_dict: jax.Array, learned_dict: jax.Array) -> jax.Array:
    """|cos| between all true and learned atoms: [m, n], [m, w] -> [n, w]."""
    return jnp.abs(
        jnp.matmul(
            unit_columns(true_dict, eps=0.0).T, unit_columns(learned_dict, eps=0.0),
            precision=_HIGHEST,
        )
    )


@jax.jit
def _matched_pair_stats(true_dict, learned_dict, true_index, learned_index):
    """Cosine, angle and norm ratio of the matched pairs, averaged.

    The angle uses 2 atan2(||u - s v||, ||u + s v||) (s = sign of the cosine)
    instead of arccos(|cos|): arccos loses about half the digits near 1, which
    in float32 would put a floor of ~3e-4 rad under a perfect match.
    """
    true_atoms, learned_atoms = true_dict[:, true_index], learned_dict[:, learned_index]
    true_unit, true_norm = unit_columns(true_atoms, eps=0.0), jnp.linalg.norm(true_atoms, axis=0)
    learned_unit = unit_columns(learned_atoms, eps=0.0)
    learned_norm = jnp.linalg.norm(learned_atoms, axis=0)
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
    true_dict, learned_dict, *, exact: bool | None = None, candidates: int = matching.CANDIDATES
) -> DictionaryMatch:
    """Matches learned atoms to true atoms by absolute cosine.

    Atoms are columns. The |cos| matrix of the unit-normalised columns is
    computed in JAX; the one-to-one matching of maximal total |cos| is found on
    the host with ``scipy.optimize.linear_sum_assignment`` (rectangular
    allowed: min(n, width) pairs). Signs do not matter.

    Sparse path (``exact=False``, the default above ``matching.EXACT_MAX_WIDTH`` atoms
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
        None: dense up to ``matching.EXACT_MAX_WIDTH`` atoms, sparse above.
      candidates: partners kept per atom on the sparse path.

    Returns:
      A ``DictionaryMatch``; ``mean_norm_ratio`` is inf if a matched true atom
      is zero. A learned dictionary equal to the true one is matched to it by
      the identity without any search.
    """
    true_dict = jnp.asarray(true_dict, jnp.float32)
    learned_dict = jnp.asarray(learned_dict, jnp.float32)
    if true_dict.shape == learned_dict.shape and bool(jnp.array_equal(true_dict, learned_dict)):
        # The true dictionary itself (fista_oracle): every pair has |cos| = 1,
        # the most possible, so the identity is an optimal matching (at any n).
        true_index = learned_index = np.arange(true_dict.shape[1])
    elif matching.use_exact(exact, max(true_dict.shape[1], learned_dict.shape[1])):
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
