"""Latent MCC against hand-worked cases and a float64 Hungarian reference."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

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
