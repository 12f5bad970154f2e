"""Reconstruction MSE and L0 against hand-worked cases."""

import numpy as np

from sparsecomp import metrics


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
