"""Best single-feature AUC against scikit-learn, ties, degenerate cases and column blocks."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
from sklearn.metrics import roc_auc_score

from sparsecomp import metrics
from sparsecomp.metrics import auc


def _sign_invariant_sklearn_auc(labels, scores):
    if labels.all() or not labels.any():
        return 0.5
    auc = roc_auc_score(labels, scores)
    return max(auc, 1 - auc)


def test_best_feature_auc_matches_sklearn_with_ties_and_constant_column():
    rng = np.random.default_rng(6)
    latent = rng.normal(size=500)
    labels = latent + rng.normal(size=500) > 0
    codes = np.stack(
        [
            np.round(rng.normal(size=500), 1),  # heavy ties, uninformative
            np.round(-latent, 1),  # informative, negatively signed, ties
            np.full(500, 3.0),  # constant
            np.round(latent + 2 * rng.normal(size=500), 0),  # weakly informative
        ],
        axis=1,
    ).astype(np.float32)
    ood = codes[:250] * np.array([1.0, 1.0, 1.0, -1.0], np.float32)
    aucs = [_sign_invariant_sklearn_auc(labels, c) for c in codes.T]
    assert aucs[2] == 0.5 and int(np.argmax(aucs)) == 1
    auc_id, auc_ood = metrics.best_feature_auc(codes, labels, ood, labels[:250])
    np.testing.assert_allclose(auc_id, aucs[1], atol=1e-6)
    np.testing.assert_allclose(
        auc_ood, _sign_invariant_sklearn_auc(labels[:250], ood[:, 1]), atol=1e-6
    )


def test_column_aucs_in_overlapping_blocks_equal_every_column_at_once(monkeypatch):
    """7 columns of 50 samples in blocks of 3 (starts 0, 3, 4): the shifted
    last block scores columns 4-5 twice and must leave every AUC as it is."""
    rng = np.random.default_rng(8)
    codes = jnp.asarray(np.round(rng.normal(size=(50, 7)), 1), jnp.float32)
    labels = jnp.asarray(rng.random(50) < 0.4)
    want = jax.vmap(auc._sign_invariant_auc, in_axes=(1, None))(codes, labels)
    monkeypatch.setattr(auc, "AUC_BLOCK_ENTRIES", 150)
    got = auc._column_aucs(codes, labels)
    chex.assert_shape(got, (7,))
    np.testing.assert_array_equal(got, want)


def test_best_feature_auc_degenerate_cases_give_half():
    rng = np.random.default_rng(7)
    codes = rng.normal(size=(40, 3)).astype(np.float32)
    labels = codes[:, 1] > 0
    one_class = np.ones(40, bool)
    constant = np.zeros((40, 3))
    assert metrics.best_feature_auc(constant, labels, constant + 1, labels) == (0.5, 0.5)
    auc_id, auc_ood = metrics.best_feature_auc(codes, labels, codes, one_class)
    assert auc_id == 1.0 and auc_ood == 0.5
    assert metrics.best_feature_auc(codes, one_class, codes, labels)[0] == 0.5


def test_the_packed_key_sort_of_non_negative_scores_is_exact():
    # Ties (exact zeros, repeated values, -0.0 beside 0.0) and distinct values
    # one ulp apart: the uint32 path ranks them as the general sort does.
    # (Not denormals: XLA:CPU flushes them to zero in comparisons.)
    key = jax.random.key(3)
    scores = jnp.where(jax.random.uniform(key, (64, 300)) < 0.7, 0.0,
                       jnp.round(jax.random.uniform(jax.random.fold_in(key, 1), (64, 300)), 2))
    scores = scores.at[:, 0].set(-0.0).at[:, 1].set(0.5).at[:, 2].set(jnp.nextafter(0.5, 1.0))
    labels = jax.random.uniform(jax.random.fold_in(key, 2), (300,)) < 0.4
    general = jax.vmap(auc._sign_invariant_auc, in_axes=(0, None))(scores, labels)
    packed = jax.vmap(auc._nonnegative_auc, in_axes=(0, None))(scores, labels)
    np.testing.assert_array_equal(packed, general)
    signed = scores.at[5, 7].set(-0.5).T  # one negative code: the general sort
    expected = auc.best_column_auc(signed, labels, signed, labels)
    np.testing.assert_array_equal(auc._best_feature_auc(signed, labels, signed, labels), expected)
