"""ITKrM: residual means, usage counts and atom replacement."""

import jax.numpy as jnp
import numpy as np

from sparsecomp.dictionary import itkrm


def test_itkrm_keeps_an_orthonormal_dictionary_and_counts_usage():
    # Exactly S-sparse samples of an orthonormal basis: thresholding finds the
    # supports, residuals vanish and each atom's residual mean is itself.
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    codes = np.zeros((40, 6), np.float32)
    for i in range(40):
        codes[i, rng.choice(6, 2, replace=False)] = rng.uniform(0.5, 1.0, 2)
    y = np.concatenate([codes @ basis.T, np.zeros((3, 6))]).astype(np.float32)  # + padding
    means = itkrm.residual_means(jnp.asarray(y), jnp.asarray(basis, jnp.float32), 2)
    np.testing.assert_array_equal(means.usage, (codes > 0).sum(axis=0))
    d, replaced = itkrm.itkrm_update(means, jnp.asarray(basis, jnp.float32), 0.95)
    np.testing.assert_allclose(d, basis, atol=1e-5)
    assert int(replaced) == 0


def test_itkrm_replaces_an_atom_no_sample_selects():
    basis = np.eye(4, dtype=np.float32)
    y = jnp.asarray(np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0.1]], np.float32))
    means = itkrm.residual_means(y, jnp.asarray(basis), 1)
    d, replaced = itkrm.itkrm_update(means, jnp.asarray(basis), 0.95)
    assert int(replaced) == 1
    np.testing.assert_allclose(d[:, 3], [0, 0, 0, 1.0], atol=1e-4)  # sample 2's residual
