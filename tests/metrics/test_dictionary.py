"""Dictionary match against hand-worked cases."""

import chex
import numpy as np

from sparsecomp import metrics
from sparsecomp.metrics import dictionary


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
    monkeypatch.setattr(dictionary, "linear_sum_assignment", no_search)
    true = np.random.default_rng(0).normal(size=(20, 50_000)).astype(np.float32)
    match = metrics.dictionary_match(true, true.copy())
    np.testing.assert_allclose([match.mean_cosine, match.mean_norm_ratio], 1.0, atol=1e-6)
    assert match.frac_close == 1.0
    np.testing.assert_allclose(match.mean_angular_error, 0.0, atol=1e-3)
    chex.assert_trees_all_equal(match.true_index, np.arange(50_000))
    chex.assert_trees_all_equal(match.learned_index, np.arange(50_000))
