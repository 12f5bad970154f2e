"""Support recovery against hand-worked cases, in sample blocks."""

import chex
import numpy as np

from sparsecomp import metrics
from sparsecomp.metrics import support


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
    monkeypatch.setattr(support, "SUPPORT_BLOCK_ENTRIES", 8)  # 8 // 4 columns = 2 samples
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
