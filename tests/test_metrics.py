"""Tests of sparsecomp.metrics against hand-worked cases and scikit-learn."""

import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from sparsecomp import metrics


def _sparse_latents(rng, n_samples, num_latents, p_active=0.4):
    """Non-negative sparse codes, like the study's ground truth."""
    values = rng.uniform(0.0, 1.0, (n_samples, num_latents))
    return (values * (rng.random((n_samples, num_latents)) < p_active)).astype(np.float32)


def _reference_mcc(a, b):
    """Float64 numpy Hungarian-matched mean |corr| of equally wide a and b."""
    corr = np.abs(np.corrcoef(a.T, b.T)[: a.shape[1], a.shape[1] :])
    rows, cols = linear_sum_assignment(corr, maximize=True)
    return corr[rows, cols].mean()


# ----------------------------------------------------------------- latent MCC


@pytest.mark.parametrize("ood", [False, True])
def test_mcc_permuted_rescaled_codes_is_one(ood):
    rng = np.random.default_rng(0)
    z = _sparse_latents(rng, 200, 5)
    z[:, 3] = 0.0  # never active: must be dropped, not matched
    kept = [0, 1, 2, 4]
    perm = rng.permutation(len(kept))
    codes = z[:, kept][:, perm] * np.array([2.0, 0.5, 7.0, 1.5]) + 3.0
    np.testing.assert_allclose(metrics.latent_mcc(z, codes, ood=ood), 1.0, atol=1e-5)


def test_mcc_sign_flip_and_constant_code_column():
    rng = np.random.default_rng(1)
    z = _sparse_latents(rng, 150, 3)
    # Codes wider than the ground truth: the ground truth is padded with noise.
    codes = np.concatenate([-z[:, ::-1], np.full((150, 2), 4.2, np.float32)], axis=1)
    mcc = metrics.latent_mcc(z, codes, ood=False)
    assert np.isfinite(mcc)
    np.testing.assert_allclose(mcc, 1.0, atol=1e-5)


def test_mcc_pads_narrow_codes_with_seeded_noise():
    rng = np.random.default_rng(2)
    z = _sparse_latents(rng, 300, 4)
    codes = z[:, [2, 0]]  # two of four latents recovered exactly
    noise = np.random.default_rng(7).standard_normal((300, 2))
    expected = _reference_mcc(z.astype(np.float64), np.concatenate([codes, noise], axis=1))
    got = metrics.latent_mcc(z, codes, ood=False, pad_seed=7)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert 0.5 <= got < 0.7  # two perfect matches, two noise matches


def test_mcc_ood_uses_top_variance_code_columns():
    rng = np.random.default_rng(3)
    z = np.zeros((400, 4), np.float32)
    z[:, [0, 2]] = _sparse_latents(rng, 400, 2)  # two kept ground-truth columns
    noise = rng.standard_normal(400).astype(np.float32)
    codes = np.stack(
        [0.01 * z[:, 2], 10.0 * z[:, 0], 5.0 * noise, 0.001 * z[:, 2]], axis=1
    )  # variances: tiny, large, mid, tiny -> OOD keeps columns 1 and 2
    expected = _reference_mcc(z[:, [0, 2]].astype(np.float64), codes[:, [1, 2]].astype(np.float64))
    np.testing.assert_allclose(metrics.latent_mcc(z, codes, ood=True), expected, atol=1e-5)
    assert expected < 0.6
    # ID matches against every code column and finds z_2 in the tiny ones.
    np.testing.assert_allclose(metrics.latent_mcc(z, codes, ood=False), 1.0, atol=1e-5)


# ----------------------------------------------------------------- accuracy


def test_probe_accuracy_matches_sklearn_on_non_separable_problem():
    rng = np.random.default_rng(4)
    w = np.array([1.5, -1.0, 0.5, 0.0])
    x_id, x_ood = rng.normal(size=(400, 4)), rng.normal(1.0, 1.5, size=(300, 4))
    y_id = x_id @ w + rng.normal(size=400) > 0.2
    y_ood = x_ood @ w + rng.normal(size=300) > 0.2
    # C=inf is penalty=None; scikit-learn >= 1.8 deprecates the penalty argument.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        clf = LogisticRegression(C=np.inf, max_iter=1000).fit(x_id, y_id)
    acc_id, acc_ood = metrics.probe_accuracy(x_id, y_id, x_ood, y_ood)
    assert abs(acc_id - clf.score(x_id, y_id)) <= 0.01
    assert abs(acc_ood - clf.score(x_ood, y_ood)) <= 0.01


def test_probe_accuracy_separable_data_and_constant_columns_stay_finite():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(60, 100)).astype(np.float32)  # more features than samples
    x[:, 10:20] = 0.0
    x[:, 20:30] = 2.5
    y = x[:, 0] > 0
    acc_id, acc_ood = metrics.probe_accuracy(x, y, x[:30], y[:30])
    assert np.isfinite(acc_id) and np.isfinite(acc_ood)
    assert acc_id == 1.0 and acc_ood == 1.0


# ----------------------------------------------------------------- AUC


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
    want = jax.vmap(metrics._sign_invariant_auc, in_axes=(1, None))(codes, labels)
    monkeypatch.setattr(metrics, "AUC_BLOCK_ENTRIES", 150)
    got = metrics._column_aucs(codes, labels)
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


# ----------------------------------------------------------------- dictionary


def test_dictionary_match_of_permuted_rescaled_sign_flipped_dictionary():
    rng = np.random.default_rng(8)
    true = rng.normal(size=(12, 6)).astype(np.float32)
    true /= np.linalg.norm(true, axis=0)
    perm = np.array([3, 0, 5, 1, 4, 2])
    scales = np.array([2.0, -0.5, 1.0, -3.0, 1.5, 0.25], np.float32)
    extra = rng.normal(size=(12, 2)).astype(np.float32)  # unmatched extra atoms
    learned = np.concatenate([true[:, perm] * scales, extra], axis=1)
    match = metrics.dictionary_match(true, learned)
    np.testing.assert_allclose(match.mean_cosine, 1.0, atol=1e-6)
    np.testing.assert_allclose(match.mean_angular_error, 0.0, atol=1e-5)
    np.testing.assert_allclose(match.mean_norm_ratio, np.abs(scales).mean(), rtol=1e-5)
    assert match.frac_close == 1.0
    chex.assert_trees_all_equal(match.true_index, np.arange(6))
    chex.assert_trees_all_equal(match.learned_index, np.argsort(perm))


def test_dictionary_match_known_angle_and_narrow_learned_dictionary():
    true = np.eye(3, dtype=np.float32)
    angle = 0.5
    learned = np.array([[0.0], [np.cos(angle)], [np.sin(angle)]], np.float32) * 2.0
    match = metrics.dictionary_match(true, learned)
    np.testing.assert_allclose(match.mean_cosine, np.cos(angle), rtol=1e-6)
    np.testing.assert_allclose(match.mean_angular_error, angle, rtol=1e-5)
    np.testing.assert_allclose(match.mean_norm_ratio, 2.0, rtol=1e-6)
    assert match.frac_close == 0.0
    assert list(match.true_index) == [1] and list(match.learned_index) == [0]


def test_dictionary_match_of_the_true_dictionary_is_the_identity_at_any_size(monkeypatch):
    def no_search(*args, **kwargs):
        raise AssertionError("a dictionary equal to the truth needs no matching search")

    monkeypatch.setattr(metrics.matching, "max_abs_dot_matching", no_search)
    monkeypatch.setattr(metrics, "linear_sum_assignment", no_search)
    true = np.random.default_rng(0).normal(size=(20, 50_000)).astype(np.float32)
    match = metrics.dictionary_match(true, true.copy())
    np.testing.assert_allclose([match.mean_cosine, match.mean_norm_ratio], 1.0, atol=1e-6)
    assert match.frac_close == 1.0
    np.testing.assert_allclose(match.mean_angular_error, 0.0, atol=1e-3)
    chex.assert_trees_all_equal(match.true_index, np.arange(50_000))
    chex.assert_trees_all_equal(match.learned_index, np.arange(50_000))


# ----------------------------------------------------------------- support


def test_support_recovery_hand_worked_two_samples():
    z_true = np.array([[1.0, 0.0, 0.5], [0.0, 0.7, 0.0]], np.float32)
    # Latent 0 <- code 0, latent 1 <- code 2, latent 2 <- code 1; code 3 unmatched.
    codes = np.array([[0.2, 0.0, 0.3, 9.0], [0.0, 5e-5, 0.4, 9.0]], np.float32)
    stats = metrics.support_recovery(z_true, codes, [0, 1, 2], [0, 2, 1])
    # Sample 0: true {0, 2}, predicted {0, 1} -> P = R = F1 = 1/2.
    # Sample 1: true {1}, predicted {1} (5e-5 is below 1e-4) -> P = R = F1 = 1.
    expected = {
        "support_precision": 0.75,
        "support_recall": 0.75,
        "support_f1": 0.75,
        "support_true_l0": 1.5,
        "support_pred_l0": 1.5,
    }
    chex.assert_trees_all_close(stats, expected, atol=1e-6)


def test_support_recovery_in_sample_batches_with_a_remainder(monkeypatch):
    """7 samples in batches of 2 (the last one short) give the one-batch result."""
    rng = np.random.default_rng(10)
    z_true = (rng.random((7, 6)) < 0.4) * rng.uniform(0.1, 1, (7, 6))
    codes = (rng.random((7, 8)) < 0.5) * rng.uniform(0.1, 1, (7, 8))
    true_index, code_index = np.array([0, 2, 3, 5]), np.array([7, 1, 2, 4])
    whole = metrics.support_recovery(z_true, codes, true_index, code_index)
    monkeypatch.setattr(metrics, "SUPPORT_BLOCK_ENTRIES", 8)  # 8 // 4 columns = 2 samples
    chex.assert_trees_all_close(
        metrics.support_recovery(z_true, codes, true_index, code_index), whole, atol=1e-7)


def test_support_recovery_empty_supports_count_zero():
    z_true = np.array([[0.0, 0.0], [1.0, 0.0]], np.float32)
    codes = np.array([[0.0, 2.0], [0.0, 0.0]], np.float32)
    stats = metrics.support_recovery(z_true, codes, np.arange(2), np.arange(2))
    # Sample 0: nothing true, one false positive; sample 1: one miss, nothing predicted.
    expected = {
        "support_precision": 0.0,
        "support_recall": 0.0,
        "support_f1": 0.0,
        "support_true_l0": 0.5,
        "support_pred_l0": 0.5,
    }
    chex.assert_trees_all_close(stats, expected, atol=0)


# ----------------------------------------------------------------- reconstruction


def test_reconstruction_exact_and_hand_worked():
    rng = np.random.default_rng(9)
    dictionary = rng.normal(size=(4, 3)).astype(np.float32)
    bias = rng.normal(size=4).astype(np.float32)
    codes = np.array([[0.0, 1.0, 0.005], [2.0, -0.5, 0.0]], np.float32)
    y = codes @ dictionary.T + bias
    mse, l0 = metrics.reconstruction(y, codes, dictionary, bias)
    np.testing.assert_allclose(mse, 0.0, atol=1e-10)
    assert l0 == 1.5  # 0.005 is below the 0.01 threshold
    mse, _ = metrics.reconstruction(
        y + np.array([[1.0, 0, 0, 0], [0, 0, 3.0, 0]]), codes, dictionary, bias
    )
    np.testing.assert_allclose(mse, (1.0 + 9.0) / 8, rtol=1e-5)
    mse_no_bias, _ = metrics.reconstruction(y - bias, codes, dictionary)
    np.testing.assert_allclose(mse_no_bias, 0.0, atol=1e-10)


def test_probe_accuracy_matches_sklearn_on_separable_sparse_codes():
    """On (near-)separable codes the iteration cap decides OOD accuracy; ours
    must behave like scikit-learn's capped lbfgs on the raw codes (as the
    reference does), not like a standardised or fully converged fit."""
    import jax

    from sparsecomp.data import make_dataset, make_spec

    data = make_dataset(jax.random.key(0), make_spec(num_latents=60, k=6, n_samples=2000))
    z_val, z_ood = np.asarray(data.z_val), np.asarray(data.z_ood)
    l_val, l_ood = np.asarray(data.label_val), np.asarray(data.label_ood)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs "failed to converge" is the point here
        model = LogisticRegression(C=np.inf, max_iter=100).fit(z_val, l_val)
    ours = metrics.probe_accuracy(z_val, l_val, z_ood, l_ood)
    np.testing.assert_allclose(ours, (model.score(z_val, l_val), model.score(z_ood, l_ood)),
                               atol=0.03)
